import ArgumentParser
import Foundation
import MSTaR
import MSTaRModel
import MSTaRTasks
import MSTaRTensor
import MSTaRWorkbench

/// `mstar reproduce`: the study's comparisons (methods, selection, prompt variation, temperature,
/// PRM as verifier), several seeds each, into markdown tables, plots and results/summary.json.
struct Reproduce: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the MSTaR study's comparisons on our tasks: tables, dynamics plots and summary.json in results/.",
        discussion: """
        Every variant starts from the pre-evolved policy and runs a whole self-evolving run; each seed trains one PRM that all
        its runs share (for PRM selection, votes and Reward-Pass@2). Identical variants listed by several experiments run once.
        A finished run keeps its metrics under OUT/runs/SCALE (full, quick, resolving, or the numbers of a scale set by the options below),
        so an interrupted reproduce continues where it stopped. The scale options make the study smaller or larger, e.g.
        --quick --prompts 16 --epochs 0.5 --test-prompts 16 --ood-prompts 8 --dynamics-prompts 8 --temperature-prompts 4 --prm-prompts 8 is a smoke test.
        """)

    @Flag(help: "A subset: one seed, smaller runs, one variant per question (under 15 minutes).")
    var quick = false

    @Option(help: ArgumentHelp("A named scale: full (the study's: 512 prompts, 2 passes), quick (--quick's runs), or resolving (4,000 prompts, 1 pass: the smallest that resolves the recipe's gain).",
                               valueName: "name"))
    var scale: String?

    @Option(help: "Seeds, comma-separated (default: 0,1,2; 0 with --quick).")
    var seeds: String?

    @Option(help: "Output directory.")
    var out = "results"

    @Option(help: "The pre-evolved policy.")
    var policy = "checkpoints/pre-evolved"

    @Option(help: "Only these experiments (comma-separated: methods, selection, prompts, temperature, verifier).")
    var only: String?

    @Option(help: ArgumentHelp("Only these variants (comma-separated names as in the tables).",
                               discussion: "For example --only methods --variants 'pre-evolved,mstar (full recipe)' measures the recipe alone."))
    var variants: String?

    @Option(help: "BLAS and worker threads (default: the number of cores).")
    var threads: Int?

    @OptionGroup(title: "Scale (each option changes one number of --scale's, by default the study's, or --quick's)")
    var scaleOptions: ScaleOptions

    @OptionGroup(title: "On a Slurm cluster")
    var slurmOptions: SlurmOptions

    struct ScaleOptions: ParsableArguments {
        @Option(help: "Labelled prompts per run.")
        var prompts: Int?
        @Option(help: "Passes over the prompt set per run.")
        var epochs: Double?
        @Option(help: "Validation prompts for the dynamics.")
        var dynamicsPrompts: Int?
        @Option(help: "Validation prompts for the temperature search.")
        var temperaturePrompts: Int?
        @Option(help: "Test prompts.")
        var testPrompts: Int?
        @Option(help: "OOD prompts.")
        var oodPrompts: Int?
        @Option(help: "Prompts whose samples label the PRM's training steps.")
        var prmPrompts: Int?
        @Option(help: "Passes over each iteration's selection (train_epochs) in every run.")
        var trainEpochs: Int?

        /// `base` with the given values in place of its own.
        func applied(to base: StudyScale) throws -> StudyScale {
            var s = base
            for (name, v) in [("prompts", prompts), ("dynamics-prompts", dynamicsPrompts), ("temperature-prompts", temperaturePrompts),
                              ("test-prompts", testPrompts), ("ood-prompts", oodPrompts), ("prm-prompts", prmPrompts),
                              ("train-epochs", trainEpochs)] {
                if let v, v < 1 { throw ValidationError("--\(name) must be at least 1 (got \(v))") }
            }
            if let e = epochs, !(e > 0) { throw ValidationError("--epochs must be above 0 (got \(e))") }
            s.prompts = prompts ?? s.prompts; s.epochs = epochs ?? s.epochs
            s.dynamicsPrompts = dynamicsPrompts ?? s.dynamicsPrompts; s.temperaturePrompts = temperaturePrompts ?? s.temperaturePrompts
            s.testPrompts = testPrompts ?? s.testPrompts; s.oodPrompts = oodPrompts ?? s.oodPrompts
            s.prmPrompts = prmPrompts ?? s.prmPrompts
            s.trainEpochs = trainEpochs ?? s.trainEpochs
            return s
        }
    }

    func run() throws {
        Numerics.warnIfSlow()
        let start = Date()
        Runtime.setThreads(threads ?? ProcessInfo.processInfo.activeProcessorCount)
        let seedList = try (seeds ?? (quick ? "0" : "0,1,2")).split(separator: ",").map { s -> UInt64 in
            guard let v = UInt64(s.trimmingCharacters(in: .whitespaces)) else { throw ValidationError("--seeds takes numbers like 0,1,2") }
            return v
        }
        guard FileManager.default.fileExists(atPath: policy + "/config.json") else {
            throw ValidationError("no policy at \(policy); make it with: scripts/mstar pre-evolve")
        }
        let initial = try Checkpoint.load(from: URL(fileURLWithPath: policy), vocab: Tokenizer.standard.vocabSize).model
        let suite = try TaskSuite(seed: 0, bank: try DigitBank.load())
        let scale = try scaleOptions.applied(to: try baseScale())
        let wanted = only.map { Set($0.split(separator: ",").map(String.init)) }
        var experiments = Study.experiments(scale: scale, quick: quick).filter { wanted?.contains($0.name) ?? true }
        if let variants {
            let keep = Set(variants.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
            let known = Set(experiments.flatMap { $0.variants.map(\.name) })
            if let unknown = keep.subtracting(known).sorted().first {
                throw ValidationError("no variant '\(unknown)' in \(experiments.map(\.name).joined(separator: ", ")); "
                                      + "variants: \(known.sorted().joined(separator: ", "))")
            }
            experiments = experiments.compactMap { e in
                var e = e
                e.variants = e.variants.filter { keep.contains($0.name) }
                return e.variants.isEmpty ? nil : e
            }
        }
        let outDir = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: outDir.appendingPathComponent("plots"), withIntermediateDirectories: true)
        let test = Array(suite.examples(.test).prefix(scale.testPrompts))
        let ood = Array(suite.examples(.ood).prefix(scale.oodPrompts))
        log("reproduce: \(experiments.map(\.name).joined(separator: ", ")); seeds \(seedList.map(String.init).joined(separator: ",")); "
            + "\(scale.prompts) prompts, \(formatNumber(scale.epochs)) epochs; test \(test.count), ood \(ood.count) prompts")

        // experiment -> variant -> seed -> metrics
        let runs = runsDir(outDir, scale: scale)
        var summary: [String: [String: [String: RunMetrics]]] = [:]
        var verifier: [String: VerifierMetrics] = [:]
        // Each run's and PRM's own recorded time (cached ones included), once per run.
        var runSeconds: [String: Double] = [:]
        let slurm = SlurmStudy(options: slurmOptions, outDir: outDir, arguments: Array(CommandLine.arguments.dropFirst(2)))
        if let spec = slurmOptions.slurmTask {
            // One task of a Slurm array job: a seed's PRM, or one run, into its own folder.
            let task = try slurm.task(spec)
            let prm = try sharedPRM(seed: task.seed, initial: initial, suite: suite, scale: scale, runs: runs)
            if task.kind == "run" {
                guard let v = experiments.flatMap(\.variants).first(where: { $0.key == task.key }) else {
                    throw ValidationError("task \(spec): no variant \(task.variant ?? "-") in this study; submit again")
                }
                _ = try runVariant(v, seed: task.seed, initial: initial, prm: prm, suite: suite, test: test, ood: ood, runs: runs)
            }
            return
        }
        if slurmOptions.slurm {
            let fm = FileManager.default
            let finished = try slurm.run(pending: {
                var prms: [SlurmTask] = [], tasks: [SlurmTask] = [], seen = Set<String>()
                for seed in seedList {
                    if !fm.fileExists(atPath: runs.appendingPathComponent("prm/seed-\(seed)/config.json").path) {
                        prms.append(SlurmTask(kind: "prm", seed: seed))
                    }
                    for v in experiments.flatMap(\.variants) where seen.insert("\(v.key)/\(seed)").inserted {
                        if !fm.fileExists(atPath: runs.appendingPathComponent("\(v.key)/seed-\(seed)/metrics.json").path) {
                            tasks.append(SlurmTask(kind: "run", seed: seed, variant: v.name, key: v.key))
                        }
                    }
                }
                return (prms, tasks)
            }, log: log)
            if !finished { return }
        }
        for seed in seedList {
            let prm = try sharedPRM(seed: seed, initial: initial, suite: suite, scale: scale, runs: runs)
            runSeconds["prm/\(seed)"] = prmSeconds(seed: seed, runs: runs)
            for experiment in experiments {
                for variant in experiment.variants {
                    let m = try runVariant(variant, seed: seed, initial: initial, prm: prm, suite: suite, test: test, ood: ood, runs: runs)
                    summary[experiment.name, default: [:]][variant.name, default: [:]][String(seed)] = m
                    runSeconds["\(variant.key)/\(seed)"] = m.seconds
                }
            }
            if wanted?.contains("verifier") ?? true {
                verifier[String(seed)] = try verifierExperiment(seed: seed, policy: initial, prm: prm, test: test, runs: runs)
            }
        }

        // Reports.
        let seconds = Date().timeIntervalSince(start)
        let totalRunSeconds = runSeconds.values.reduce(0, +)
        var report = "# Results of `mstar reproduce\(quick ? " --quick" : "")`\n\n"
        report += "Seeds \(seedList.map(String.init).joined(separator: ", ")); each run starts from `\(policy)`; prompt set \(scale.prompts) labelled prompts, "
            + "\(formatNumber(scale.epochs)) passes"
            + (scale.trainEpochs == EvolutionSettings().trainEpochs ? "" : ", \(scale.trainEpochs) passes over each iteration's selection")
            + "; test \(test.count) prompts, OOD \(ood.count) prompts; Pass@16 at T = 1. "
            + "Accuracies with 95% intervals over seeds and prompts; test greedy accuracy tested against each experiment's first variant, paired by seed and prompt. Wall time \(String(format: "%.1f", seconds / 60)) min "
            + "(\(Runtime.threads) threads); the runs and PRMs in these tables took \(String(format: "%.1f", totalRunSeconds / 60)) min, "
            + "each by its own recorded time (so a reproduce that reused finished runs still shows their cost). Command: `scripts/mstar reproduce\(CommandLine.arguments.dropFirst(2).map { " " + $0 }.joined())`.\n\n"
        for e in experiments {
            let table = markdownTable(e, summary[e.name] ?? [:], seeds: seedList, testFamilies: test.map(\.family.rawValue))
            try write(table, "\(e.name).md", outDir)
            report += table + "\n"
            try plotDynamics(e, seeds: seedList, runs: runs, outDir: outDir)
        }
        if !verifier.isEmpty {
            let table = verifierTable(verifier)
            try write(table, "verifier.md", outDir)
            report += table + "\n"
            try plotVerifier(verifier, outDir: outDir)
        }
        try write(report, "README.md", outDir)
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        var json = try JSONSerialization.jsonObject(with: try e.encode(summary)) as! [String: Any]
        if !verifier.isEmpty { json["verifier"] = try JSONSerialization.jsonObject(with: try e.encode(verifier)) }
        json["statistics"] = try JSONSerialization.jsonObject(with: try e.encode(statistics(experiments, summary, seeds: seedList)))
        try AtomicFile.write(try JSONSerialization.data(withJSONObject: json, options: [.prettyPrinted, .sortedKeys]),
                             to: outDir.appendingPathComponent("summary.json"))
        let meta: [String: Any] = [
            "command": "scripts/mstar reproduce" + CommandLine.arguments.dropFirst(2).map { " " + $0 }.joined(),
            "seeds": seedList.map { Int($0) }, "wall_seconds": (seconds * 10).rounded() / 10, "threads": Runtime.threads,
            "run_seconds": (totalRunSeconds * 10).rounded() / 10,
            "policy": policy, "scale": try JSONSerialization.jsonObject(with: try e.encode(scale)),
            "experiments": experiments.map { ["name": $0.name, "variants": $0.variants.map { ["name": $0.name, "run": $0.key] }] },
        ]
        try AtomicFile.write(try JSONSerialization.data(withJSONObject: meta, options: [.prettyPrinted, .sortedKeys]),
                             to: outDir.appendingPathComponent("run.json"))
        log("reproduce: done in \(String(format: "%.1f", seconds / 60)) min; see \(out)/README.md")
    }

    /// The scale the options start from: `--scale`'s, else --quick's or the study's own.
    func baseScale() throws -> StudyScale {
        guard let scale else { return quick ? .quick : .full }
        guard let named = StudyScale.named.first(where: { $0.name == scale }) else {
            throw ValidationError("no scale '\(scale)'; scales: \(StudyScale.named.map(\.name).joined(separator: ", "))")
        }
        return named.scale
    }

    /// The recorded training time of seed `seed`'s PRM (0 when its report is missing).
    func prmSeconds(seed: UInt64, runs: URL) -> Double {
        let url = runs.appendingPathComponent("prm/seed-\(seed)-report.json")
        guard let data = try? Data(contentsOf: url), let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return 0 }
        return obj["seconds"] as? Double ?? 0
    }

    /// Where finished runs, PRMs and verifier results are kept; each scale keeps its own (the
    /// baseline's and the PRM's results depend on the scale, their names do not).
    func runsDir(_ outDir: URL, scale: StudyScale) -> URL { outDir.appendingPathComponent("runs/" + scale.name) }

    func log(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }

    func write(_ text: String, _ name: String, _ dir: URL) throws {
        try AtomicFile.write(Data(text.utf8), to: dir.appendingPathComponent(name))
    }

    // MARK: runs

    struct FamilyMetrics: Codable { var greedy: Double; var pass_at_16: Double }

    struct RunMetrics: Codable {
        var test_greedy: Double
        var test_pass_at_16: Double
        var ood_greedy: Double
        var ood_pass_at_16: Double
        var test_families: [String: FamilyMetrics]
        var iterations: Int
        var final_temperature: Float?
        var seconds: Double
        /// Whether each test prompt's greedy answer is right (absent in runs recorded before it was kept).
        var test_greedy_correct: [Bool]?
        /// Each test prompt's right answers among its 16 samples (absent in older runs).
        var test_correct_counts: [Int]?
        /// Whether each OOD prompt's greedy answer is right (absent in older runs).
        var ood_greedy_correct: [Bool]?
        /// Each OOD prompt's right answers among its 16 samples (absent in older runs).
        var ood_correct_counts: [Int]?
    }

    /// One PRM per seed, trained from the pre-evolved policy (saved so a rerun reuses it).
    func sharedPRM(seed: UInt64, initial: VisionLanguageModel, suite: TaskSuite, scale: StudyScale, runs: URL) throws -> ProcessRewardModel {
        let dir = runs.appendingPathComponent("prm/seed-\(seed)")
        if FileManager.default.fileExists(atPath: dir.appendingPathComponent("config.json").path) {
            return ProcessRewardModel(model: try Checkpoint.load(from: dir, vocab: Tokenizer.standard.vocabSize).model)
        }
        var settings = Recipe.mstar.settings
        settings.prompts = scale.prompts
        settings.prmPrompts = scale.prmPrompts
        let run = try Evolution(suite: suite, policy: initial, settings: settings, seed: seed)
        let r = try run.trainPRM()
        log("seed \(seed): PRM on \(r.responses) responses, \(r.steps) steps; MC labels agree with the oracle on \(String(format: "%.3f", r.labelAccuracy)); \(String(format: "%.0f", r.seconds)) s")
        try Checkpoint.save(model: run.prm!.model, state: TrainingState(method: "prm"), to: dir)
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try e.encode(r), to: runs.appendingPathComponent("prm/seed-\(seed)-report.json"))
        return run.prm!
    }

    func evaluateBoth(_ model: VisionLanguageModel, test: [Example], ood: [Example], seed: UInt64) throws -> (EvaluationResult, EvaluationResult) {
        (try evaluate(model, examples: test, split: "test", k: 16, temperature: 1, seed: seed ^ 0x7E57),
         try evaluate(model, examples: ood, split: "ood", k: 16, temperature: 1, seed: seed ^ 0x00D))
    }

    func runVariant(_ v: StudyVariant, seed: UInt64, initial: VisionLanguageModel, prm: ProcessRewardModel, suite: TaskSuite,
                    test: [Example], ood: [Example], runs: URL) throws -> RunMetrics {
        let dir = runs.appendingPathComponent("\(v.key)/seed-\(seed)")
        let metricsFile = dir.appendingPathComponent("metrics.json")
        if let data = try? Data(contentsOf: metricsFile), let m = try? JSONDecoder().decode(RunMetrics.self, from: data) { return m }
        let start = Date()
        // An unfinished run starts over: its own logs go, and nothing else in the folder is touched.
        for name in ["dynamics.jsonl", "timings.jsonl", "settings.json"] { try? FileManager.default.removeItem(at: dir.appendingPathComponent(name)) }
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var model = initial
        var iterations = 0
        var temperature: Float?
        if let settings = v.settings {
            let e = JSONEncoder()
            e.outputFormatting = [.prettyPrinted, .sortedKeys]
            try AtomicFile.write(try e.encode(settings), to: dir.appendingPathComponent("settings.json"))
            let run = try Evolution(suite: suite, policy: initial, settings: settings, seed: seed)
            run.usePRM(prm, report: nil)
            run.runDirectory = dir
            for i in 0..<settings.iterations {
                let r = try run.step()
                log("  \(v.name) seed \(seed) step \(i + 1)/\(settings.iterations): T \(r.record.temperature), selected \(r.record.selected), "
                    + "validation greedy \(String(format: "%.3f", r.record.greedyAcc ?? 0)), Pass@\(r.record.k) \(String(format: "%.3f", r.record.passAtK)) "
                    + "(\(String(format: "%.1f", r.times.total)) s)")
            }
            model = run.policy
            iterations = run.iteration
            temperature = run.temperature
        }
        let (t, o) = try evaluateBoth(model, test: test, ood: ood, seed: seed)
        let m = RunMetrics(test_greedy: t.greedyAcc, test_pass_at_16: t.passAtK, ood_greedy: o.greedyAcc, ood_pass_at_16: o.passAtK,
                           test_families: t.families.mapValues { FamilyMetrics(greedy: $0.greedyAcc, pass_at_16: $0.passAtK) },
                           iterations: iterations, final_temperature: temperature, seconds: Date().timeIntervalSince(start),
                           test_greedy_correct: t.greedyCorrect, test_correct_counts: t.correctCounts,
                           ood_greedy_correct: o.greedyCorrect, ood_correct_counts: o.correctCounts)
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try e.encode(m), to: metricsFile)
        log("\(v.name) seed \(seed): test greedy \(String(format: "%.3f", m.test_greedy)), Pass@16 \(String(format: "%.3f", m.test_pass_at_16)); "
            + "OOD greedy \(String(format: "%.3f", m.ood_greedy)) (\(String(format: "%.0f", m.seconds)) s)")
        return m
    }

    // MARK: PRM as verifier

    struct VerifierMetrics: Codable {
        var n: [Int]
        var pass_at_n: [Double]
        var majority: [Double]
        var prm_best_of_n: [Double]
        var prm_weighted_vote: [Double]
        /// Per way of answering ("pass_at_n", "majority", "prm_best_of_n", "prm_weighted_vote") and
        /// N: whether each test prompt's chosen answer is right (absent in older results).
        var outcomes: [String: [[Bool]]]?
    }

    /// Best-of-N by PRM score versus majority vote versus PRM-weighted vote, as N grows, for the
    /// pre-evolved policy on test prompts.
    func verifierExperiment(seed: UInt64, policy: VisionLanguageModel, prm: ProcessRewardModel, test: [Example], runs: URL) throws -> VerifierMetrics {
        let file = runs.appendingPathComponent("verifier-seed-\(seed).json")
        if let data = try? Data(contentsOf: file), let m = try? JSONDecoder().decode(VerifierMetrics.self, from: data) { return m }
        let prompts = try test.enumerated().map { i, e in
            try SamplePrompt(e, stream: UInt64(i))
        }
        let drawn = try Sampler(model: policy).generate(prompts, k: 16, options: SamplingOptions(temperature: 1), seed: seed ^ 0x7E5)
        let flat = try prm.scores(zip(test, drawn).flatMap { e, rs in rs.map { (e, $0.tokens) } })
        let ns = [1, 2, 4, 8, 16]
        var m = VerifierMetrics(n: ns, pass_at_n: [], majority: [], prm_best_of_n: [], prm_weighted_vote: [], outcomes: [:])
        func mean(_ xs: [Bool]) -> Double { Double(xs.filter { $0 }.count) / Double(max(1, xs.count)) }
        for n in ns {
            var pass: [Bool] = [], maj: [Bool] = [], best: [Bool] = [], vote: [Bool] = []
            for (i, e) in test.enumerated() {
                let answers = drawn[i].prefix(n).map { AnswerExtractor.extract(ids: $0.tokens) }
                let scores = Array(flat[(i * 16)..<(i * 16 + n)])
                let right = answers.map { $0 != nil && $0 == e.answer }
                pass.append(right.contains(true))
                maj.append(majorityVote(answers) == e.answer)
                best.append(right[topIndices(scores, 1)[0]])
                vote.append(weightedVote(answers, weights: scores) == e.answer)
            }
            m.pass_at_n.append(mean(pass)); m.majority.append(mean(maj)); m.prm_best_of_n.append(mean(best)); m.prm_weighted_vote.append(mean(vote))
            for (key, o) in [("pass_at_n", pass), ("majority", maj), ("prm_best_of_n", best), ("prm_weighted_vote", vote)] {
                m.outcomes?[key, default: []].append(o)
            }
        }
        let e = JSONEncoder()
        try AtomicFile.write(try e.encode(m), to: file)
        return m
    }

    // MARK: tables and plots

    static func meanSD(_ xs: [Double]) -> String {
        guard !xs.isEmpty else { return "-" }
        let mean = xs.reduce(0, +) / Double(xs.count)
        if xs.count == 1 { return String(format: "%.1f", 100 * mean) }
        let sd = (xs.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(xs.count - 1)).squareRoot()
        return String(format: "%.1f ± %.1f", 100 * mean, 100 * sd)
    }

    /// Per experiment and variant: the test greedy interval and the paired comparison with the
    /// experiment's first variant (summary.json's `statistics`).
    struct VariantStatistics: Codable {
        var test_greedy: StudyStatistics.Interval
        var versus_baseline: StudyStatistics.Comparison?
    }

    func statistics(_ experiments: [StudyExperiment], _ summary: [String: [String: [String: RunMetrics]]],
                    seeds: [UInt64]) -> [String: [String: VariantStatistics]] {
        var out: [String: [String: VariantStatistics]] = [:]
        for e in experiments {
            let outcomes = { (name: String) in Self.outcomes(seeds.compactMap { summary[e.name]?[name]?[String($0)] }) }
            let base = e.variants.first.flatMap { outcomes($0.name) }
            for (i, v) in e.variants.enumerated() {
                guard let o = outcomes(v.name) else { continue }
                out[e.name, default: [:]][v.name] = VariantStatistics(
                    test_greedy: StudyStatistics.interval(o), versus_baseline: i > 0 ? base.map { StudyStatistics.compare(o, $0) } : nil)
            }
        }
        return out
    }

    /// Greedy outcomes [seed][prompt] of a variant, when every seed's run kept them.
    static func outcomes(_ runs: [RunMetrics]) -> [[Bool]]? {
        let o = runs.compactMap(\.test_greedy_correct)
        return !o.isEmpty && o.count == runs.count ? o : nil
    }

    /// Pass@16 per prompt from its right answers among 16 samples: right when any is.
    static func passed(_ counts: [Int]) -> [Bool] { counts.map { $0 > 0 } }

    /// One cell of a table: the mean with its 95% interval over seeds and prompts when every run
    /// kept the per-prompt outcomes, else mean ± sd of the runs' values (runs recorded before).
    static func cell<Run>(_ runs: [Run], _ outcomes: (Run) -> [Bool]?, _ value: (Run) -> Double?) -> String {
        let o = runs.compactMap(outcomes)
        if !o.isEmpty, o.count == runs.count { return interval(StudyStatistics.interval(o)) }
        return meanSD(runs.compactMap(value))
    }

    static func percent(_ x: Double) -> String { String(format: "%.1f", 100 * x) }
    static func interval(_ i: StudyStatistics.Interval) -> String { "\(percent(i.mean)) [\(percent(i.low)), \(percent(i.high))]" }
    static func signed(_ i: StudyStatistics.Interval) -> String {
        String(format: "%+.1f [%+.1f, %+.1f]", 100 * i.mean, 100 * i.low, 100 * i.high)
    }
    static func pValue(_ p: Double) -> String { p < 0.001 ? "< 0.001" : String(format: "%.3f", p) }

    /// The experiment's table (test greedy accuracy with its 95% interval over seeds and test
    /// prompts, each variant's paired difference from the baseline with McNemar's p) and what the
    /// runs say about each of the study's claims.
    func markdownTable(_ e: StudyExperiment, _ rows: [String: [String: RunMetrics]], seeds: [UInt64], testFamilies: [String]) -> String {
        let families = Family.allCases.map(\.rawValue)
        let runsOf = { (name: String) in seeds.compactMap { rows[name]?[String($0)] } }
        let baseline = e.variants.first?.name ?? ""
        let base = Self.outcomes(runsOf(baseline))
        var s = "## \(e.title)\n\nThe study: \(e.finding).\n\n"
        s += "| variant | test greedy [95% CI] | vs \(baseline) [95% CI] | McNemar p | test Pass@16 [95% CI] | "
            + families.map { "\($0) greedy" }.joined(separator: " | ") + " | OOD greedy | OOD Pass@16 |\n"
        s += "|---|---|---|---|---|" + families.map { _ in "---|" }.joined() + "---|---|\n"
        for v in e.variants {
            let runs = runsOf(v.name)
            var cells: [String] = []
            if let o = Self.outcomes(runs) {
                cells.append(Self.interval(StudyStatistics.interval(o)))
                if v.name != baseline, let base {
                    let c = StudyStatistics.compare(o, base)
                    cells += [Self.signed(c.difference) + (c.significant ? " *" : ""), Self.pValue(c.p)]
                } else {
                    cells += ["", ""]
                }
            } else {
                cells += [Self.meanSD(runs.map(\.test_greedy)), "-", "-"]
            }
            cells.append(Self.cell(runs, { $0.test_correct_counts.map(Self.passed) }, \.test_pass_at_16))
            cells += families.map { f in
                let prompts = testFamilies.indices.filter { testFamilies[$0] == f }
                if prompts.isEmpty { return "-" }
                return Self.cell(runs, { m in m.test_greedy_correct.flatMap { g in g.count == testFamilies.count ? prompts.map { g[$0] } : nil } },
                                 { $0.test_families[f]?.greedy })
            }
            cells += [Self.cell(runs, \.ood_greedy_correct, \.ood_greedy),
                      Self.cell(runs, { $0.ood_correct_counts.map(Self.passed) }, \.ood_pass_at_16)]
            s += "| \(v.name) | " + cells.joined(separator: " | ") + " |\n"
        }
        s += "\nAccuracies in %: the mean over seeds and prompts with a 95% bootstrap interval "
            + "(seeds and prompts resampled; a family's cell resamples that family's test prompts). The difference from \(baseline) "
            + "in test greedy accuracy is paired by seed and prompt, with McNemar's exact test; * marks a difference whose interval "
            + "excludes 0 at p < 0.05. A cell of runs recorded without per-prompt outcomes shows mean ± standard deviation over seeds.\n"
        let present = Set(e.variants.map(\.name))
        let claims = e.claims.filter { present.contains($0.better) && present.contains($0.worse) }
        if !claims.isEmpty {
            s += "\nThe study's findings, on these runs:\n\n"
            for claim in claims {
                guard let a = Self.outcomes(runsOf(claim.better)), let b = Self.outcomes(runsOf(claim.worse)) else {
                    s += "- \(claim.better) beats \(claim.worse): no per-prompt outcomes recorded\n"
                    continue
                }
                let c = StudyStatistics.compare(a, b)
                let verdict = !c.significant ? "not resolved at this scale" : c.difference.mean > 0 ? "agrees" : "disagrees"
                s += "- \(claim.better) beats \(claim.worse): \(Self.signed(c.difference)) points, p \(Self.pValue(c.p)): **\(verdict)**\n"
            }
        }
        return s
    }

    func verifierTable(_ v: [String: VerifierMetrics]) -> String {
        let runs = v.keys.sorted().map { v[$0]! }
        guard let ns = runs.first?.n else { return "" }
        var s = "## PRM as verifier (pre-evolved policy, test)\n\nThe study: as a verifier (best-of-N) the PRM was weak.\n\n"
        s += "| N | Pass@N | majority vote | PRM best-of-N | PRM-weighted vote |\n|---|---|---|---|---|\n"
        func cell(_ key: String, _ j: Int, _ value: (VerifierMetrics) -> Double) -> String {
            Self.cell(runs, { $0.outcomes?[key].flatMap { j < $0.count ? $0[j] : nil } }, value)
        }
        for (j, n) in ns.enumerated() {
            s += "| \(n) | \(cell("pass_at_n", j) { $0.pass_at_n[j] }) | \(cell("majority", j) { $0.majority[j] }) | "
                + "\(cell("prm_best_of_n", j) { $0.prm_best_of_n[j] }) | \(cell("prm_weighted_vote", j) { $0.prm_weighted_vote[j] }) |\n"
        }
        return s + "\nAccuracies in %: the mean over seeds and test prompts with a 95% bootstrap interval (seeds and prompts resampled).\n"
    }

    /// Validation curves per variant (mean over seeds) against passes over the prompt set.
    /// Validation curves of each variant: the mean over seeds with a 95% band (t interval over the
    /// seeds), one figure per metric and per question of the experiment (`StudyExperiment.panels`).
    func plotDynamics(_ e: StudyExperiment, seeds: [UInt64], runs: URL, outDir: URL) throws {
        guard let gnuplot = Gnuplot.locate() else { log("no gnuplot: plots skipped (\(Gnuplot.missingMessage))"); return }
        let metrics: [(String, String)] = e.name == "temperature"
            ? [("greedy_acc", "greedy accuracy"), ("pass_at_k", "Pass@16"), ("reward_pass_at_2", "Reward-Pass@2"), ("temperature", "temperature")]
            : [("greedy_acc", "greedy accuracy"), ("pass_at_k", "Pass@16")]
        let panels = e.panels.isEmpty ? [("", e.variants.map(\.name))] : e.panels
        for (metric, label) in metrics {
            for (panel, names) in panels {
                var series: [PlotSeries] = []
                for v in e.variants where names.contains(v.name) {
                    guard let settings = v.settings else { continue }
                    // values[i]: the seeds' values at iteration i + 1.
                    var values: [[Double]] = []
                    for seed in seeds {
                        let url = runs.appendingPathComponent("\(v.key)/seed-\(seed)/dynamics.jsonl")
                        for (i, r) in ((try? Evolution.readDynamics(url)) ?? []).enumerated() {
                            guard let y = r.value(metric) else { continue }
                            if values.count <= i { values.append([]) }
                            values[i].append(y)
                        }
                    }
                    guard !values.isEmpty else { continue }
                    let x = (0..<values.count).map { Double($0 + 1) * settings.effectiveInterval }
                    // Accuracies stay in [0, 1] (a t interval of few seeds can reach past them).
                    let bands = values.map(Self.band).map { b in
                        metric == "temperature" ? b : (mean: b.mean, low: Swift.max(0, b.low), high: Swift.min(1, b.high))
                    }
                    let banded = values.contains { $0.count > 1 }
                    series.append(PlotSeries(v.name, x: x, y: bands.map(\.mean), low: banded ? bands.map(\.low) : nil,
                                             high: banded ? bands.map(\.high) : nil))
                }
                guard !series.isEmpty else { continue }
                let title = "\(e.title)\(panel.isEmpty ? "" : " (\(panel))"): validation \(label), mean of \(seeds.count) seeds"
                    + (seeds.count > 1 ? " with 95% band" : "")
                let file = "plots/\(e.name)\(panel.isEmpty ? "" : "-" + panel)-\(metric).png"
                let plot = Plot(title: title, xLabel: "passes over the prompt set", yLabel: label, series: series)
                _ = try Gnuplot.render(plot, terminal: .png(path: outDir.appendingPathComponent(file).path, width: 900, height: 560),
                                       gnuplot: gnuplot)
            }
        }
    }

    /// Mean and 95% t interval of a few seeds' values (no width for one value).
    static func band(_ xs: [Double]) -> (mean: Double, low: Double, high: Double) {
        let n = Double(xs.count), mean = xs.reduce(0, +) / Double(max(1, xs.count))
        guard xs.count > 1 else { return (mean, mean, mean) }
        let sd = (xs.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (n - 1)).squareRoot()
        // Student's t at 97.5% for 1 to 9 degrees of freedom, then the normal's 1.96 as an approximation.
        let t: [Double] = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262]
        let half = (xs.count - 1 <= t.count ? t[xs.count - 2] : 1.96) * sd / n.squareRoot()
        return (mean, mean - half, mean + half)
    }

    func plotVerifier(_ v: [String: VerifierMetrics], outDir: URL) throws {
        guard let gnuplot = Gnuplot.locate() else { return }
        let runs = v.keys.sorted().map { v[$0]! }
        guard let ns = runs.first?.n else { return }
        func mean(_ f: (VerifierMetrics) -> [Double]) -> [Double] {
            ns.indices.map { j in runs.reduce(0) { $0 + f($1)[j] } / Double(runs.count) }
        }
        let x = ns.map(Double.init)
        let plot = Plot(title: "PRM as verifier: accuracy of one chosen answer as N grows", xLabel: "N (samples)", yLabel: "test accuracy",
                        series: [PlotSeries("Pass@N (oracle choice)", x: x, y: mean(\.pass_at_n)),
                                 PlotSeries("majority vote", x: x, y: mean(\.majority)),
                                 PlotSeries("PRM best-of-N", x: x, y: mean(\.prm_best_of_n)),
                                 PlotSeries("PRM-weighted vote", x: x, y: mean(\.prm_weighted_vote))])
        _ = try Gnuplot.render(plot, terminal: .png(path: outDir.appendingPathComponent("plots/verifier.png").path, width: 900, height: 560), gnuplot: gnuplot)
    }
}
