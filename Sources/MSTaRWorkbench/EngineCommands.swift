import Foundation
import MSTaR
import MSTaRModel
import MSTaRTasks
import MSTaRTensor

/// The method at the prompt: the policy (model new/info, load, save, pretrain, warmup), the
/// method's settings and recipes, `step` and `evolve`, `eval`, `sample`, `dynamics` and `prm`.
///
/// The session's settings are the source of truth for the method: each step reads them, so `set`
/// between steps changes the run from the next step on.
public enum EngineCommands {

    static let metrics: [(String, String, String)] = [
        ("pass_gap", "Pass@K - greedy", "room left for self-evolution"),
        ("prm_best_of_k", "PRM best-of-K", "the response with the best PRM score is correct"),
        ("steps_correct_share", "all steps correct", "share of right-answer samples whose every step is right (oracle)"),
        ("train_loss", "training loss", "mean SFT loss of the iteration"),
        ("correct", "rewarded samples", "samples the reward accepted (right answer, and the step checks where on)"),
        ("pseudo_label_acc", "pseudo-label accuracy", "share of pseudo labels equal to the true answer"),
    ]

    /// Registers the engine's settings, recipes, metrics and commands.
    public static func register(in session: Session) {
        session.register(setting: SettingSpec(
            "threads", .int, default: .int(ProcessInfo.processInfo.activeProcessorCount),
            summary: "worker threads (with numerics portable, results are the same bits at every count)",
            validate: Check.within(1...256), pinned: true, onChange: { v, _ in Runtime.setThreads(v.intValue!) }))
        session.register(setting: SettingSpec(
            Session.numericsSetting, .choice(NumericsMode.allCases.map(\.rawValue)), default: .string(NumericsMode.portable.rawValue),
            summary: "portable: the engine's kernels, the same bits on every CPU; openblas: OpenBLAS, bits of this CPU",
            pinned: true, onChange: { v, _ in Numerics.mode = NumericsMode(rawValue: v.plain) ?? .portable }))
        Numerics.mode = .portable
        // The method's settings come from the engine's table: type, range, default and summary.
        let defaults = EvolutionSettings()
        for d in EvolutionSettings.table {
            let name = d.name, text = d.value(in: defaults)
            let type: ValueType, value: Value
            switch d.kind {
            case .choice(let names): type = .choice(names); value = .string(text)
            case .flag: type = .bool; value = .bool(text == "on")
            case .real: type = .double; value = .double(Double(text)!)
            case .int: type = .int; value = .int(Int(text)!)
            }
            session.register(setting: SettingSpec(name, type, default: value, summary: d.summary, validate: { v in
                var probe = EvolutionSettings()
                do { try d.set(v.plain, in: &probe); return nil } catch {
                    // The engine's message names the setting and the text; the session adds both itself.
                    var m = "\(error)"
                    if m.hasPrefix(name + " ") { m.removeFirst(name.count + 1) }
                    if let r = m.range(of: ", not '", options: .backwards) { m.removeSubrange(r.lowerBound...) }
                    return m
                }
            }, onChange: name == "temperature_min" || name == "temperature_max" ? temperatureRangeCheck : nil))
        }
        for r in Recipe.allCases { session.register(recipe: NamedEntry(r.rawValue, summary: r.summary)) }
        for (name, label, summary) in metrics { session.register(metric: MetricSpec(name, label: label, summary: summary)) }
        session.register(metric: MetricSpec("pass_at_k_curve", label: "Pass@k", summary: "Pass@k against k from the last eval",
                                            series: passAtKCurve))
        session.register(metric: MetricSpec("prm_calibration", label: "oracle share of good steps",
                                            summary: "PRM step score against the oracle, from the last prm calibration",
                                            series: calibrationSeries))
        registerPolicyCommands(in: session)
        registerMethodCommands(in: session)
        BackendCommands.register(in: session)
        TrainerCommands.register(in: session)
    }

    /// Refuses a temperature_min above temperature_max (or the reverse) as the `set` that made it;
    /// recipes and saved runs, which set both, are checked once all their settings are in.
    static func checkTemperatureRange(_: Value, _ s: Session) throws {
        guard !s.engine.applyingSettings else { return }
        let (lo, hi) = (s.settings.double("temperature_min"), s.settings.double("temperature_max"))
        if lo > hi {
            throw WorkbenchError("temperature_min \(formatNumber(lo)) would be above temperature_max \(formatNumber(hi)); set the other one first")
        }
    }
    static var temperatureRangeCheck: ((Value, Session) throws -> Void)? { { v, s in try checkTemperatureRange(v, s) } }

    /// Makes every method setting of `settings` the session's, as one change.
    static func apply(_ settings: EvolutionSettings, _ s: Session) throws {
        try settings.validate()
        s.engine.applyingSettings = true
        defer { s.engine.applyingSettings = false }
        for name in EvolutionSettings.names { _ = try s.set(name, text: try settings.value(name)) }
    }

    // MARK: state

    /// The method settings as the session holds them.
    static func evolutionSettings(_ s: Session) throws -> EvolutionSettings {
        var e = EvolutionSettings()
        for name in EvolutionSettings.names { try e.set(name, to: s.settings.value(name)!.plain) }
        return e
    }

    /// The policy commands act on: the run's when a run exists, else the loaded one.
    static func policy(_ s: Session) throws -> VisionLanguageModel {
        if let run = s.engine.evolution { return run.policy }
        if let p = s.engine.policy { return p }
        throw WorkbenchError("no policy yet: load one (load checkpoints/pre-evolved) or make one (model new)")
    }

    /// The run, created from the policy and settings at its first use.
    static func evolution(_ s: Session) throws -> Evolution {
        let settings = try evolutionSettings(s)
        if let run = s.engine.evolution {
            run.settings = settings
            run.prm?.aggregation = settings.prmAggregation
            BackendCommands.apply(run, s)
            return run
        }
        guard let p = s.engine.policy else {
            throw WorkbenchError("no policy to evolve: load one (load checkpoints/pre-evolved) or make one (model new)")
        }
        let run = try Evolution(suite: try DataCommands.suite(s), policy: p, settings: settings, seed: s.seed)
        // A PRM trained from this same starting policy earlier in the session serves this run too.
        if let shared = s.engine.sharedPRM, shared.source == s.engine.policySource {
            run.usePRM(shared.prm, report: shared.report)
        }
        attach(run, s, fresh: true)
        BackendCommands.apply(run, s)
        return run
    }

    /// Keeps the run's PRM for later runs from the same starting policy.
    static func rememberPRM(_ run: Evolution, _ s: Session) {
        guard let prm = run.prm else { return }
        if let shared = s.engine.sharedPRM, shared.prm === prm { return }
        s.engine.sharedPRM = EngineState.SharedPRM(prm: prm, report: run.prmReport, source: s.engine.policySource)
    }

    /// Makes `run` the session's run, writing its dynamics into the run directory.
    static func attach(_ run: Evolution, _ s: Session, fresh: Bool) {
        let dir = URL(fileURLWithPath: s.outputPath("."))
        let fm = FileManager.default
        for name in ["dynamics.jsonl", "timings.jsonl"] { try? fm.removeItem(at: dir.appendingPathComponent(name)) }
        if !fresh {
            let lines = run.history.compactMap { try? $0.jsonLine() }
            if !lines.isEmpty {
                try? fm.createDirectory(at: dir, withIntermediateDirectories: true)
                try? Data((lines.joined(separator: "\n") + "\n").utf8).write(to: dir.appendingPathComponent("dynamics.jsonl"))
            }
        }
        run.runDirectory = dir
        s.engine.evolution = run
    }

    /// Replaces the session's policy; any run ends (the next step starts one from this policy).
    static func setPolicy(_ model: VisionLanguageModel, source: String, label: String? = nil, _ s: Session) {
        s.engine.policy = model
        s.engine.policySource = source
        s.engine.policyLabel = label ?? source
        s.engine.evolution = nil
    }

    /// How output names a folder the user gave: its name (`pre-evolved`). The path as typed would
    /// differ between the prompt (relative) and the journal (resolved to an absolute path), so a
    /// journal's recorded output would not replay; the full path would differ between machines.
    static func shownFolder(_ typed: String, _ s: Session) -> String {
        let name = (s.inputPath(typed) as NSString).lastPathComponent
        return name.isEmpty || name == "/" ? typed : name
    }

    static func stop() -> Bool { Interrupt.requested }

    static func f3(_ x: Double?) -> String { x.map { String(format: "%.3f", $0) } ?? "-" }
    static func f2(_ x: Double) -> String { String(format: "%.2f", x) }
    static func g(_ x: Double) -> String { String(format: "%.4g", x) }
    /// A temperature as typed: "0.3", "1".
    static func t(_ x: Float) -> String { x == x.rounded() ? String(Int(x)) : "\(x)" }
    static func count(_ n: Int) -> String {
        let f = NumberFormatter()
        f.numberStyle = .decimal
        f.locale = Locale(identifier: "en_US")
        return f.string(from: NSNumber(value: n)) ?? String(n)
    }

    // MARK: policy commands

    static func registerPolicyCommands(in session: Session) {
        session.register(CommandSpec(
            "model new", group: "policy", summary: "a freshly initialised policy (default configuration, seeded)",
            options: [OptionSpec("seed", .int, default: .setting("seed"), help: "initialisation seed")]
        ) { cmd, s in
            var rng = RNG(seed: UInt64(cmd.int("seed")), stream: 0x1417)
            let model = try VisionLanguageModel(ModelConfig(vocab: Tokenizer.standard.vocabSize), rng: &rng)
            setPolicy(model, source: "new (seed \(cmd.int("seed")))", s)
            return CommandOutput(lines: ["new policy: \(count(model.parameterCount)) parameters"])
        })

        session.register(CommandSpec(
            "model info", group: "policy", summary: "the policy's configuration and size"
        ) { _, s in
            let m = try policy(s)
            let c = m.config
            var lines = ["policy: \(s.engine.policyLabel ?? "-"), \(count(m.parameterCount)) parameters (with the score head)"]
            lines.append("vision: \(c.imageHeight)x\(c.imageWidth) scene, \(c.stem) stem, \(c.visionLayers) layers of width \(c.visionDim), \(c.imageTokens) image tokens")
            lines.append("language model: \(c.layers) layers, d_model \(c.dModel), \(c.heads) heads, MLP \(c.mlpHidden), \(c.norm), \(c.mlp), max text \(c.maxText), vocabulary \(c.vocab)")
            if let run = s.engine.evolution {
                lines.append("run: \(run.iteration) iterations done, temperature \(t(run.temperature)), PRM \(run.prm == nil ? "none" : "trained")")
            }
            return CommandOutput(lines: lines)
        })

        session.register(CommandSpec(
            "load", group: "policy", summary: "load a checkpoint, or a saved run to continue it",
            discussion: "A checkpoint directory (config.json, model.safetensors, state.json) becomes the policy; a run saved with 'save' (evolution.json) continues where it stopped, with its optimizer, PRM, temperature and dynamics.",
            arguments: [ArgumentSpec("dir", .path, help: "the checkpoint or run directory")]
        ) { cmd, s in
            let dir = URL(fileURLWithPath: s.inputPath(cmd.string("dir")))
            guard FileManager.default.fileExists(atPath: dir.path) else {
                throw WorkbenchError("no checkpoint at \(cmd.string("dir")); make the pre-evolved one with: scripts/mstar pre-evolve")
            }
            if ItemEvolution.isRun(dir) { return try ItemCommands.load(dir, shown: cmd.string("dir"), s) }
            let shown = shownFolder(cmd.string("dir"), s)
            if Evolution.isRun(dir) {
                let run = try Evolution.resume(from: dir, suite: try DataCommands.suite(s))
                s.engine.policy = run.initialPolicy
                s.engine.policySource = dir.path
                s.engine.policyLabel = shown
                attach(run, s, fresh: false)
                // The run's settings become the session's.
                try apply(run.settings, s)
                return CommandOutput(lines: ["run \(shown): \(run.iteration) iterations done, method \(run.settings.method.rawValue), temperature \(t(run.temperature)), PRM \(run.prm == nil ? "none" : "trained")"])
            }
            let loaded = try Checkpoint.load(from: dir, vocab: Tokenizer.standard.vocabSize)
            setPolicy(loaded.model, source: dir.path, label: shown, s)
            return CommandOutput(lines: ["policy \(shown): \(count(loaded.model.parameterCount)) parameters"])
        })

        session.register(CommandSpec(
            "save", group: "policy", summary: "save the run (to continue it later) or the policy, atomically",
            discussion: "DIR must be new, or a checkpoint or run that mstar saved (it holds .mstar-checkpoint and nothing else mstar does not write): save never replaces anything else.",
            arguments: [ArgumentSpec("dir", .outputPath, help: "where (inside the run directory when relative)")]
        ) { cmd, s in
            let dir = URL(fileURLWithPath: try s.writablePath(cmd.string("dir"), .folder, what: "DIR"))
            if let name = s.engine.usedDataset, let run = s.engine.itemRun {
                try ItemCommands.save(run, dataset: name, to: dir)
                return CommandOutput(lines: ["saved item run on \(name) after \(run.iteration) iterations to \(cmd.string("dir"))"])
            }
            if let run = s.engine.evolution {
                try run.save(to: dir)
                return CommandOutput(lines: ["saved run after \(run.iteration) iterations to \(cmd.string("dir"))"])
            }
            try Checkpoint.save(model: try policy(s), state: TrainingState(), to: dir)
            return CommandOutput(lines: ["saved policy to \(cmd.string("dir"))"])
        })

        for phase in ["pretrain", "warmup"] {
            let isPretrain = phase == "pretrain"
            let recipe = PreEvolutionRecipe()
            session.register(CommandSpec(
                phase, group: "policy",
                summary: isPretrain ? "pretrain the policy on scene captions and text skills" : "warm up the policy on the seed chains of thought",
                options: [
                    OptionSpec("epochs", .int, default: .value(.int(isPretrain ? recipe.pretrainEpochs : recipe.warmupEpochs)), range: 0...10_000, help: "passes over the data"),
                    OptionSpec("lr", .double, default: .value(.double(Double(isPretrain ? recipe.pretrainLR : recipe.warmupLR))), range: 0...1, help: "learning rate"),
                    OptionSpec("batch", .int, default: .value(.int(recipe.batchSize)), range: 1...4096, help: "batch size"),
                    OptionSpec("seed", .int, default: .setting("seed"), help: "data-order seed"),
                ] + (isPretrain ? [
                    OptionSpec("vision", .int, default: .value(.int(recipe.vision?.steps ?? 0)), range: 0...10_000_000,
                               help: "steps of vision-encoder pretraining (naming the digit under each image token) first; 0: none"),
                ] : [
                    OptionSpec("replay", .int, default: .value(.int(recipe.warmupReplay)), range: 0...1_000_000,
                               help: "pretraining examples (captions and text) mixed into each epoch, so reading is not overwritten"),
                ])
            ) { cmd, s in
                let model = try policy(s)
                // The warm-up is the seed-chain phase alone: no vision phase before it.
                var r = PreEvolutionRecipe(seed: UInt64(cmd.int("seed")), batchSize: cmd.int("batch"), model: model.config, vision: nil)
                if isPretrain {
                    r.pretrainEpochs = cmd.int("epochs"); r.pretrainLR = Float(cmd.double("lr")); r.warmupEpochs = 0
                    if cmd.int("vision") > 0 { r.vision = VisionPretrainOptions(steps: cmd.int("vision"), augmentation: r.captionAugmentation) }
                }
                else { r.pretrainEpochs = 0; r.warmupEpochs = cmd.int("epochs"); r.warmupLR = Float(cmd.double("lr")); r.warmupReplay = cmd.int("replay") }
                var bar: Progress?
                let (trained, _, phases) = try preEvolve(suite: try DataCommands.suite(s), recipe: r, from: model) { _, p in
                    if bar == nil { bar = s.progress(phase, total: p.totalSteps, unit: "update") }
                    bar?.advance()
                }
                bar?.finish()
                setPolicy(trained, source: (s.engine.policySource ?? "-") + " + \(phase)", label: (s.engine.policyLabel ?? "-") + " + \(phase)", s)
                var out = CommandOutput()
                for p in phases where p.report.steps > 0 {
                    out.line("\(p.phase): \(p.examples) examples, \(p.report.steps) updates, loss \(String(format: "%.4f", p.report.meanLoss)) mean, \(String(format: "%.4f", p.report.lastLoss)) last")
                    out.volatile("\(p.phase): \(f2(p.report.seconds)) s, \(Int(Double(p.report.tokens) / max(p.report.seconds, 1e-9))) tokens/s")
                }
                return out
            })
        }

        session.register(CommandSpec(
            "eval", group: "policy", summary: "greedy accuracy and Pass@K of the policy on a split, per family",
            options: [
                OptionSpec("split", .choice(["validation", "test", "ood", "labelled", "unlabelled", "seed"]), default: .value(.string("test")), help: "the split"),
                OptionSpec("k", .int, default: .value(.int(16)), range: 0...1024, help: "samples per prompt for Pass@K (0: greedy only)"),
                OptionSpec("temperature", .double, default: .value(.double(1)), range: 0...10, help: "sampling temperature"),
                OptionSpec("limit", .int, default: .value(.int(0)), range: 0...10_000_000, help: "first N prompts only (0: all)"),
                OptionSpec("seed", .int, default: .setting("seed"), help: "sampling seed"),
                OptionSpec("errors", .flag, help: "where the greedy chains go wrong instead, by the oracle verifier"),
                OptionSpec("paired", .flag, help: "also the policy the run started from, on the same prompts: the greedy difference with its 95% interval and McNemar's p"),
                OptionSpec("dataset", .string, help: "a real dataset from data load, answered by the remote backend's model (docs/datasets.md)"),
                OptionSpec("max-tokens", .int, default: .value(.int(ItemCommands.maxTokens)), range: 1...1_000_000,
                           help: "most tokens per response with --dataset"),
            ]
        ) { cmd, s in
            if let name = cmd.optionalString("dataset") {
                guard !cmd.flag("errors"), !cmd.flag("paired") else { throw WorkbenchError("--errors and --paired need the oracle of the digit tasks; not with --dataset") }
                return try ItemCommands.eval(cmd, s, dataset: name)
            }
            let split = try SplitName(name: cmd.string("split"))
            var examples = try DataCommands.suite(s).examples(split)
            if cmd.int("limit") > 0 { examples = Array(examples.prefix(cmd.int("limit"))) }
            if cmd.flag("errors") {
                let r = try analyzeErrors(try policy(s), examples: examples, split: split.rawValue)
                var out = CommandOutput(lines: r.lines)
                out.volatile("\(f2(r.seconds)) s")
                return out
            }
            guard cmd.int("k") >= 0, cmd.double("temperature") >= 0 else { throw WorkbenchError("--k and --temperature must be 0 or more") }
            if cmd.flag("paired"), let r = s.engine.remote, r.sync == nil {
                throw WorkbenchError("--paired on a remote backend needs backend remote ... --reload update-weights, so the server can serve both policies")
            }
            let model = try policy(s)
            let r = try evaluate(model, examples: examples, split: split.rawValue, k: cmd.int("k"),
                                 temperature: Float(cmd.double("temperature")), seed: UInt64(cmd.int("seed")),
                                 generator: BackendCommands.generator(for: model, s))
            BackendCommands.flushRecords(s)
            s.engine.lastEval = r
            var out = CommandOutput(lines: ["\(split.rawValue) (\(r.prompts) prompts, K \(r.k), T \(t(r.temperature))): greedy \(f3(r.greedyAcc)), Pass@\(r.k) \(f3(r.passAtK))"])
            out.line("  " + Help.pad("family", 12) + Help.pad("prompts", 9) + Help.pad("greedy", 8) + "Pass@\(r.k)")
            for f in Family.allCases.map(\.rawValue) {
                guard let a = r.families[f] else { continue }
                out.line("  " + Help.pad(f, 12) + Help.pad(String(a.prompts), 9) + Help.pad(f3(a.greedyAcc), 8) + f3(a.passAtK))
            }
            if cmd.flag("paired") {
                // The starting policy where a run has begun, else the loaded policy is its own start.
                let start = try s.engine.evolution?.initialPolicy ?? policy(s)
                let base = try evaluate(start, examples: examples, split: split.rawValue, k: 0, seed: UInt64(cmd.int("seed")),
                                        generator: BackendCommands.generator(for: start, s))
                BackendCommands.flushRecords(s)
                let c = StudyStatistics.compare([r.greedyCorrect], [base.greedyCorrect])
                out.line("vs the starting policy (greedy \(f3(base.greedyAcc))): "
                         + String(format: "%+.1f points [%+.1f, %+.1f]", 100 * c.difference.mean, 100 * c.difference.low, 100 * c.difference.high)
                         + ", McNemar p \(c.p < 0.001 ? "< 0.001" : String(format: "%.3f", c.p)); \(c.onlyA) prompts gained, \(c.onlyB) lost"
                         + (c.significant ? "" : " (not significant)"))
            }
            out.volatile("\(f2(r.seconds)) s")
            return out
        })
    }

    // MARK: method commands

    static func registerMethodCommands(in session: Session) {
        session.register(CommandSpec(
            "recipe", group: "method", summary: "set every method setting from a named recipe",
            discussion: "Recipes: " + Recipe.allCases.map { "\($0.rawValue) (\($0.summary))" }.joined(separator: "; ")
                + ". Settings not named by the recipe go back to their defaults; set changes any of them afterwards.",
            arguments: [ArgumentSpec("name", .name(.recipe), help: "the recipe")]
        ) { cmd, s in
            let r = try Recipe(name: cmd.string("name"))
            let settings = r.settings, defaults = EvolutionSettings()
            var changed: [String] = []
            try apply(settings, s)
            for name in EvolutionSettings.names {
                let v = try settings.value(name)
                if v != (try defaults.value(name)) { changed.append("\(name) \(v)") }
            }
            return CommandOutput(lines: ["recipe \(r.rawValue): " + (changed.isEmpty ? "the defaults" : changed.joined(separator: ", "))])
        })

        session.register(CommandSpec(
            "step", group: "method", summary: "one evolution iteration: sample, reward, select, train, measure",
            discussion: "Prints what the step did and the dynamics on validation prompts, and appends one line to the run's dynamics.jsonl. 'sample' shows the step's prompts, responses and selections. After data use NAME, the step runs on that dataset's items through the remote backend and writes its selection for an external trainer."
        ) { _, s in
            if let items = try ItemCommands.run(s) { return try ItemCommands.step(items, s) }
            let run = try evolution(s)
            defer { BackendCommands.flushRecords(s) }
            let bar = s.progress("step \(run.iteration + 1)", total: 1, unit: "step")
            let result: StepResult
            do { result = try run.step(shouldStop: stop) } catch is EvolutionInterrupted { throw Interrupted() }
            bar.advance(); bar.finish()
            rememberPRM(run, s)
            return describe(result, run)
        })

        session.register(CommandSpec(
            "evolve", group: "method", summary: "run N evolution iterations (default: the rest of the run)",
            arguments: [ArgumentSpec("n", .int, default: .none, range: 0...1_000_000, help: "iterations (default: up to the run's planned total)")]
        ) { cmd, s in
            let items = try ItemCommands.run(s)
            let run = items == nil ? try evolution(s) : nil
            defer { BackendCommands.flushRecords(s) }
            let n = cmd.optionalInt("n") ?? max(0, (items?.settings ?? run!.settings).iterations - (items?.iteration ?? run!.iteration))
            var out = CommandOutput()
            let bar = s.progress("evolve", total: n, unit: "step")
            for i in 0..<n {
                do {
                    if Interrupt.requested { throw EvolutionInterrupted() }
                    if let items {
                        out.append(try ItemCommands.step(items, s))
                    } else {
                        out.append(describe(try run!.step(shouldStop: stop), run!))
                        rememberPRM(run!, s)
                    }
                    bar.advance()
                } catch is EvolutionInterrupted {
                    bar.finish()
                    // Steps that completed stay; the journal records them as such.
                    out.line("interrupted after \(i) of \(n) iterations")
                    return CommandOutput(items: out.items, journalAs: "evolve \(i)", interrupted: true)
                }
            }
            bar.finish()
            return out
        })

        session.register(CommandSpec(
            "dynamics", group: "method", summary: "the run so far: one row per iteration",
            options: [OptionSpec("last", .int, default: .value(.int(0)), range: 0...1_000_000, help: "only the last N iterations (0: all)")]
        ) { cmd, s in
            let history = s.engine.usedDataset != nil ? s.engine.itemRun?.history ?? [] : s.engine.evolution?.history ?? []
            guard !history.isEmpty else {
                return CommandOutput(lines: ["(no iterations yet: step or evolve runs one)"])
            }
            let rows = cmd.int("last") > 0 ? Array(history.suffix(cmd.int("last"))) : history
            let k = rows.last!.k
            let header = ["step", "method", "T", "selected", "loss", "greedy", "Pass@\(k)", "gap", "RP@2", "maj@\(k)", "entropy", "length"]
            var table = [header]
            for r in rows {
                table.append([String(r.step), r.method, t(r.temperature), String(r.selected), r.trainLoss.map { String(format: "%.3f", $0) } ?? "-",
                              f3(r.greedyAcc), f3(r.passAtK), f3(r.passGap), f3(r.rewardPassAt2), f3(r.majorityAtK), r.entropy.map(f2) ?? "-", String(format: "%.1f", r.meanLen)])
            }
            var out = CommandOutput(lines: columns(table))
            out.html = HTMLTable.render(header: header, rows: Array(table.dropFirst()))
            return out
        })

        session.register(CommandSpec(
            "sample", group: "method",
            summary: "inspect one prompt: scene, K responses, rewards, PRM step scores, oracle verdicts, selection",
            discussion: "Without --split, shows prompt --prompt of the last step as the step saw it (with what selection kept). With --split and --index, samples that example now and applies the current selection rule.",
            options: [
                OptionSpec("prompt", .int, default: .value(.int(0)), help: "which prompt of the last step"),
                OptionSpec("split", .choice(SplitName.allCases.map(\.rawValue)), help: "sample a fresh example of this split"),
                OptionSpec("index", .int, default: .value(.int(0)), help: "the example's index in --split"),
                OptionSpec("k", .int, default: .setting("k"), range: 1...256, help: "samples (with --split)"),
                OptionSpec("temperature", .double, default: .setting("temperature"), range: 0...10, help: "temperature (with --split)"),
                OptionSpec("show", .int, default: .value(.int(8)), range: 0...10_000, help: "most responses to print"),
                OptionSpec("png", .outputPath, help: "also write the scene as a PNG"),
                OptionSpec("dataset", .string, help: "sample item --index of a real dataset from data load, from the remote backend's model"),
                OptionSpec("max-tokens", .int, default: .value(.int(ItemCommands.maxTokens)), range: 1...1_000_000,
                           help: "most tokens per response with --dataset"),
                OptionSpec("seed", .int, default: .setting("seed"), help: "sampling seed (with --dataset)"),
            ]
        ) { cmd, s in
            if let name = cmd.optionalString("dataset") {
                guard cmd.optionalString("split") == nil, cmd.optionalString("png") == nil else {
                    throw WorkbenchError("--dataset samples a loaded item: --split and --png are for the digit tasks")
                }
                return try ItemCommands.sample(cmd, s, dataset: name)
            }
            if cmd.optionalString("split") == nil, let items = s.engine.usedDataset != nil ? s.engine.itemRun : nil {
                return try ItemCommands.lastPrompt(items, index: cmd.int("prompt"), show: cmd.int("show"))
            }
            return try sample(cmd, s)
        })

        session.register(CommandSpec(
            "prm train", group: "prm", summary: "train the process reward model on Monte-Carlo step labels",
            discussion: "Samples prm_samples responses for prm_prompts labelled prompts outside the prompt set from the initial policy, labels every step by prm_rollouts rollouts from its prefix (prm_labels hard or soft), and trains a copy of the policy's backbone with the score head. The run uses it for PRM selection, PRM-weighted votes and Reward-Pass@2."
        ) { _, s in
            let run = try evolution(s)
            defer { BackendCommands.flushRecords(s) }
            let bar = s.progress("prm", total: 1, unit: "phase")
            let r: PRMTrainReport
            do { r = try run.trainPRM(shouldStop: stop) } catch is EvolutionInterrupted { throw Interrupted() }
            rememberPRM(run, s)
            bar.advance(); bar.finish()
            var out = CommandOutput(lines: [
                "PRM: \(r.responses) responses, \(r.steps) labelled steps (\(run.settings.prmLabels.rawValue) labels from \(run.settings.prmRollouts) rollouts each, \(count(r.rollouts)) samples drawn)",
                "Monte-Carlo labels agree with the oracle on \(f3(r.labelAccuracy)) of steps; training loss \(String(format: "%.4f", r.meanLoss)) mean, \(String(format: "%.4f", r.lastLoss)) last (\(r.updates) updates)",
            ])
            out.volatile("\(f2(r.seconds)) s")
            return out
        })

        session.register(CommandSpec(
            "prm score", group: "prm", summary: "PRM step scores of K fresh samples for one example, with the oracle's verdicts",
            options: [
                OptionSpec("split", .choice(SplitName.allCases.map(\.rawValue)), default: .value(.string("validation")), help: "the split"),
                OptionSpec("index", .int, default: .value(.int(0)), help: "the example's index"),
                OptionSpec("k", .int, default: .setting("k"), range: 1...256, help: "samples"),
                OptionSpec("temperature", .double, default: .setting("temperature"), range: 0...10, help: "sampling temperature"),
                OptionSpec("show", .int, default: .value(.int(16)), range: 0...10_000, help: "most responses to print"),
            ]
        ) { cmd, s in
            guard (try evolution(s)).prm != nil else { throw WorkbenchError("no PRM yet: prm train makes one") }
            return try sample(cmd, s)
        })

        session.register(CommandSpec(
            "prm calibration", group: "prm", summary: "PRM step scores against the oracle verifier on validation samples",
            options: [
                OptionSpec("prompts", .int, default: .value(.int(64)), range: 1...100_000, help: "validation prompts"),
                OptionSpec("k", .int, default: .value(.int(4)), range: 1...256, help: "samples per prompt"),
                OptionSpec("temperature", .double, default: .value(.double(1)), range: 0...10, help: "sampling temperature"),
            ]
        ) { cmd, s in
            let run = try evolution(s)
            guard let prm = run.prm else { throw WorkbenchError("no PRM yet: prm train makes one") }
            let examples = Array(try DataCommands.suite(s).examples(.validation).prefix(cmd.int("prompts")))
            let prompts = try examples.enumerated().map { i, e in
                try SamplePrompt(e, stream: UInt64(i))
            }
            let drawn = try run.generator().generate(
                prompts, k: cmd.int("k"), options: SamplingOptions(temperature: Float(cmd.double("temperature")), maxTokens: run.settings.maxTokens),
                seed: s.seed ^ 0xCA1, shouldStop: stop)
            guard drawn.count == prompts.count else { throw Interrupted() }
            let items = zip(examples, drawn).flatMap { e, rs in rs.map { (example: e, tokens: $0.tokens) } }
            let c = try prm.calibration(items)
            s.engine.calibration = c
            var rows = [["PRM score", "steps", "mean score", "oracle good"]]
            for b in c.bins where b.steps > 0 {
                rows.append(["\(String(format: "%.1f", b.lower))-\(String(format: "%.1f", b.upper))", String(b.steps), f3(b.meanScore), f3(b.oracleGood)])
            }
            return CommandOutput(lines: ["\(c.responses) responses, \(c.steps) steps: PRM step accuracy against the oracle \(f3(c.stepAccuracy))"] + columns(rows))
        })
    }

    // MARK: output

    /// A step's report: what it did, the dynamics, the temperature search, and (volatile) timings.
    static func describe(_ r: StepResult, _ run: Evolution) -> CommandOutput { describe(r.record, r.times) }

    /// What a step did and the dynamics after it, from its record and times.
    static func describe(_ d: DynamicsRecord, _ tm: PhaseTimes) -> CommandOutput {
        var out = CommandOutput()
        if let search = d.temperatureSearch {
            let by = search.criterion == .rewardPassAt2 ? "Reward-Pass@2" : "Pass@K"
            out.line("temperature search (\(by)): " + search.candidates.map {
                "\(t($0.temperature)) \(f3(search.criterion == .rewardPassAt2 ? $0.rewardPassAt2 : $0.passAtK))"
            }.joined(separator: ", ") + " -> \(t(search.chosen))")
        }
        var what = "step \(d.step) (\(d.method), T \(t(d.temperature))): "
        if d.method == TrainingMethod.sft.rawValue {
            what += "\(d.selected) seed chains"
        } else {
            what += "\(d.prompts) prompts" + (d.unlabelled > 0 ? " + \(d.unlabelled) unlabelled" : "")
                + ", \(count(d.samples)) samples, \(count(d.correct)) correct, \(d.selected) selected"
        }
        if let loss = d.trainLoss {
            // An external trainer reports its steps and losses, not the tokens that carried them.
            what += "; loss \(String(format: "%.4f", loss))" + (d.trainTokens > 0 ? " on \(count(d.trainTokens)) tokens" : "") + " (\(d.updates) updates)"
        }
        out.line(what)
        if let p = d.pseudoLabelAcc { out.line("pseudo labels right on \(f3(p)) of unlabelled prompts") }
        out.line("validation (\(d.validation) prompts, K \(d.k)): greedy \(f3(d.greedyAcc)), Pass@\(d.k) \(f3(d.passAtK)), Reward-Pass@2 \(f3(d.rewardPassAt2)) (\(d.ranker)), maj@\(d.k) \(f3(d.majorityAtK))"
                 + (d.prmBestOfK.map { ", PRM best-of-\(d.k) \(f3($0))" } ?? "")
                 + ", entropy \(d.entropy.map(f2) ?? "n/a"), length \(String(format: "%.1f", d.meanLen))")
        out.volatile("\(f2(tm.total)) s: temperature \(f2(tm.temperature)), sample \(f2(tm.sample)), prm \(f2(tm.prm)), select \(f2(tm.select)), train \(f2(tm.train)), dynamics \(f2(tm.dynamics))")
        return out
    }

    static func sample(_ cmd: ParsedCommand, _ s: Session) throws -> CommandOutput {
        let tok = Tokenizer.standard
        var out = CommandOutput()
        let record: PromptRecord
        var fromStep = true
        if let split = cmd.optionalString("split") {
            fromStep = false
            let run = try evolution(s)
            let e = try DataCommands.suite(s).example(try SplitName(name: split), index: cmd.int("index"))
            let prompt = try SamplePrompt(e, stream: UInt64(cmd.int("index")))
            let rs = try run.generator().generate([prompt], k: max(1, cmd.int("k")),
                                                             options: SamplingOptions(temperature: Float(cmd.double("temperature")), maxTokens: run.settings.maxTokens),
                                                             seed: s.seed ^ RandomStream.sampling.rawValue)[0]
            let steps = try run.prm?.stepScores(rs.map { (e, $0.tokens) })
            let scores = steps?.map { run.settings.prmAggregation.apply($0) }
            // The step's own reward and selection, so that what is shown rewarded and kept is what
            // a step would reward and keep (the label is the gold answer, as for labelled prompts).
            var rng = RNG(seed: s.seed, stream: RandomStream.selection.rawValue)
            let judged = run.settings.judge(rs, for: e, label: e.answer, prmScores: scores, tokenizer: tok, rng: &rng)
            let answers = judged.answers, rewards = judged.rewards, kept = judged.kept
            record = PromptRecord(example: e, pool: split, label: e.answer, labelSource: .gold, responses: rs.enumerated().map { j, r in
                ResponseRecord(tokens: r.tokens, text: judged.texts[j], answer: answers[j], reward: rewards[j],
                               correct: answers[j] != nil && answers[j] == e.answer,
                               logProbs: r.logProbs, entropy: r.meanEntropy, finished: r.finished, stepScores: steps?[j], prmScore: scores?[j],
                               selected: kept.contains(j))
            })
        } else {
            guard let run = s.engine.evolution, let last = run.last else {
                throw WorkbenchError("no step yet to inspect: run step, or sample --split test --index 0")
            }
            guard last.prompts.indices.contains(cmd.int("prompt")) else {
                throw WorkbenchError("the last step has \(last.prompts.count) prompts; --prompt takes 0 to \(max(0, last.prompts.count - 1))")
            }
            record = try run.scored(last.prompts[cmd.int("prompt")])
        }
        let e = record.example
        out.line("\(e.id)  family \(e.family.rawValue)  level \(e.level)  \(fromStep ? "prompt \(cmd.int("prompt")) of the last step, " : "")\(record.pool)")
        if let image = e.image {
            for line in image.ascii().split(separator: "\n", omittingEmptySubsequences: false) { out.line(String(line)) }
            if cmd.spec.option("png") != nil, let png = cmd.optionalString("png") {
                try PNG.write(image, to: try s.writablePath(png, what: "--png"), scale: 3)
                out.image(png, kind: .image)
            }
        }
        out.line("question: \(e.question)")
        out.line("gold: \(e.answer.map(String.init) ?? "-")   label used: \(record.label.map(String.init) ?? "-") (\(record.labelSource.rawValue))")
        let right = record.responses.filter { $0.reward > 0 }.count
        out.line("\(record.responses.count) responses, \(right) rewarded, \(record.responses.filter(\.selected).count) selected")
        for (j, r) in record.responses.prefix(max(0, cmd.int("show"))).enumerated() {
            // A right answer the step checks or the reading vote turned down is "unrewarded", not "wrong".
            let mark = r.selected ? "kept" : r.reward > 0 ? "right" : r.correct ? "unrewarded" : "wrong"
            out.line("[\(j)] \(mark)  answer \(r.answer.map(String.init) ?? "-")" + (r.prmScore.map { "  PRM \(String(format: "%.2f", $0))" } ?? "")
                     + "  entropy \(f2(Double(r.entropy)))")
            out.line("    \(r.text)")
            let v = StepVerifier.verify(ids: r.tokens, for: e)
            var steps: [String] = []
            for (i, verdict) in v.verdicts.enumerated() {
                var w = "\(i + 1):\(verdict.rawValue)"
                if let sc = r.stepScores, i < sc.count { w += " \(String(format: "%.2f", sc[i]))" }
                steps.append(w)
            }
            out.line("    steps (oracle" + (r.stepScores == nil ? "" : ", PRM") + "): " + (steps.isEmpty ? "none" : steps.joined(separator: ", ")))
        }
        return out
    }

    /// Left-aligned columns, two spaces apart.
    static func columns(_ rows: [[String]]) -> [String] {
        guard let n = rows.first?.count else { return [] }
        let widths = (0..<n).map { c in rows.map { $0[c].count }.max()! + 2 }
        return rows.map { row in
            var line = "  "
            for (c, cell) in row.enumerated() { line += c == n - 1 ? cell : Help.pad(cell, widths[c]) }
            return line
        }
    }

    // MARK: series

    static func passAtKCurve(_ s: Session) throws -> [PlotSeries] {
        guard let r = s.engine.lastEval, !r.passAtKCurve.isEmpty else {
            throw WorkbenchError("pass_at_k_curve plots the last eval; run eval --k 16 first")
        }
        return [PlotSeries("\(r.split) Pass@k (T \(t(r.temperature)))", x: (1...r.k).map(Double.init), y: r.passAtKCurve)]
    }

    static func calibrationSeries(_ s: Session) throws -> [PlotSeries] {
        guard let c = s.engine.calibration else {
            throw WorkbenchError("prm_calibration plots the last calibration; run prm calibration first")
        }
        let bins = c.bins.filter { $0.steps > 0 }
        return [PlotSeries("PRM", x: bins.map(\.meanScore), y: bins.map(\.oracleGood)),
                PlotSeries("perfect calibration", x: [0, 1], y: [0, 1])]
    }
}
