import Foundation
import MSTaR
import MSTaRModel
import MSTaRRemote
import MSTaRTasks
import MSTaRTensor

/// `eval --dataset` and `sample --dataset`: a real dataset's items (`data load`) on a served model
/// (`backend remote`), with free-text answers matched against the gold ones (docs/datasets.md).
enum ItemCommands {
    /// Default `--max-tokens` for items: room for a real model's chain of thought.
    static let maxTokens = 512

    /// The session's remote generator, or a one-line error saying how to get one.
    static func generator(_ s: Session) throws -> RemoteGenerator {
        guard let r = s.engine.remote else {
            throw WorkbenchError("a real dataset's items are answered by a served model: give backend remote --url URL --model NAME first")
        }
        return r.generator
    }

    /// The session's served PRM (`backend remote --prm-url`), if any.
    static func scorer(_ s: Session) -> RemoteStepScorer? { s.engine.remote?.scorer }

    /// The items of `name` in `split` (all of them when nil), in file order.
    static func items(_ s: Session, _ name: String, split: String?) throws -> [ReasoningItem] {
        let d = try dataset(s, name)
        guard let split else { return d.items }
        guard let wanted = DatasetSplit(rawValue: split) else {
            throw WorkbenchError("--split \(split) is not a split of a loaded dataset; use " + DatasetSplit.allCases.map(\.rawValue).joined(separator: ", "))
        }
        return d.items(in: wanted)
    }

    /// `eval --dataset NAME`: greedy accuracy, Pass@K, majority@K and Reward-Pass@2 per answer type
    /// (ranked by the served PRM when there is one, with its best-of-K, else by votes).
    static func eval(_ cmd: ParsedCommand, _ s: Session, dataset name: String) throws -> CommandOutput {
        let split = cmd.string("split")
        var items = try items(s, name, split: split)
        if cmd.int("limit") > 0 { items = Array(items.prefix(cmd.int("limit"))) }
        guard !items.isEmpty else { throw WorkbenchError("\(name) has no items in \(split); give another --split") }
        let g = try generator(s)
        let start = Date()
        let (m, _) = try measure {
            try ItemEvaluation.measure(items, generator: g, scorer: scorer(s), aggregation: try EngineCommands.evolutionSettings(s).prmAggregation,
                                       k: cmd.int("k"), temperature: Float(cmd.double("temperature")),
                                       seed: UInt64(cmd.int("seed")), maxTokens: cmd.int("max-tokens"), shouldStop: { Interrupt.requested })
        }
        BackendCommands.flushRecords(s)
        var out = CommandOutput(lines: [
            "\(name) \(split) (\(m.prompts) items, K \(m.k), T \(EngineCommands.t(m.temperature))): greedy \(EngineCommands.f3(m.greedyAcc)), Pass@\(m.k) \(EngineCommands.f3(m.passAtK)), "
                + "maj@\(m.k) \(EngineCommands.f3(m.majorityAtK)), Reward-Pass@2 \(EngineCommands.f3(m.rewardPassAt2)) (\(m.ranker))"
                + (m.prmBestOfK.map { ", PRM best-of-\(m.k) \(EngineCommands.f3($0))" } ?? ""),
            "samples with an answer \(EngineCommands.f3(m.answered)), mean length \(String(format: "%.1f", m.meanLength)); steps verified: n/a (no oracle for these items)",
        ])
        out.line("  " + Help.pad("answer type", 13) + Help.pad("items", 7) + Help.pad("greedy", 8) + "Pass@\(m.k)")
        for type in AnswerType.allCases.map(\.rawValue) {
            guard let a = m.byType[type] else { continue }
            out.line("  " + Help.pad(type, 13) + Help.pad(String(a.prompts), 7) + Help.pad(EngineCommands.f3(a.greedyAcc), 8) + EngineCommands.f3(a.passAtK))
        }
        if g.usesPerSampleRequests { out.line("the server ignores n: each sample was its own request (requests.jsonl: fallback)") }
        if !g.omittedFields.isEmpty { out.line("the server refused \(g.omittedFields.sorted().joined(separator: ", ")): sent without them") }
        out.volatile("\(EngineCommands.f2(Date().timeIntervalSince(start))) s")
        return out
    }

    /// `sample --dataset NAME --index I`: one item, its K responses, their answers and verdicts.
    static func sample(_ cmd: ParsedCommand, _ s: Session, dataset name: String) throws -> CommandOutput {
        let all = try items(s, name, split: nil)
        let index = cmd.int("index")
        guard index >= 0, index < all.count else { throw WorkbenchError("--index \(index) is outside \(name): use 0 to \(all.count - 1)") }
        let item = all[index]
        let g = try generator(s)
        let (_, measured) = try measure {
            try ItemEvaluation.measure([item], generator: g, k: cmd.int("k"), temperature: Float(cmd.double("temperature")),
                                       greedy: false, seed: UInt64(cmd.int("seed")), maxTokens: cmd.int("max-tokens"),
                                       shouldStop: { Interrupt.requested })
        }
        BackendCommands.flushRecords(s)
        let m = measured[0]
        // With a served PRM every response shown is scored, step by step.
        var prmSteps: [[Float]]?
        if let scorer = scorer(s) {
            let prompt = try ItemEvaluation.prompt(item, stream: 0)
            let shown = m.samples.prefix(cmd.int("show")).map { (prompt: prompt, response: $0.text) }
            let scored = try measure { try scorer.stepScores(shown, shouldStop: { Interrupt.requested }) }
            BackendCommands.flushRecords(s)
            guard scored.count == shown.count else { throw Interrupted() }
            prmSteps = scored
        }
        let aggregation = try EngineCommands.evolutionSettings(s).prmAggregation
        var out = heading(item, "item \(index) of \(name)")
        out.line("gold: \(item.answer)")
        let distinct = Set(m.keys.compactMap { $0 }).count
        let right = m.correct.filter { $0 }.count
        out.line("\(m.samples.count) responses, \(right) right, \(m.keys.filter { $0 != nil }.count) with an answer, \(distinct) distinct answers")
        for (j, r) in m.samples.enumerated().prefix(cmd.int("show")) {
            let answer = FreeTextAnswer.extract(r.text).map { "\"\(oneLine($0.text, 60))\" (\($0.source.rawValue))" } ?? "none"
            let steps = StepSplitter.split(r.text, tag: scorer(s)?.tagging.split).count
            out.line("[\(j)] \(m.correct[j] ? "right" : "wrong")  answer \(answer)  \(steps) step\(steps == 1 ? "" : "s")  length \(r.length)\(r.finished ? "" : " (cut)")")
            out.line("    " + oneLine(r.text, 200))
            if let p = prmSteps?[j] {
                out.line("    PRM \(EngineCommands.f3(Double(aggregation.apply(p)))) (\(aggregation.rawValue) of \(p.count) step\(p.count == 1 ? "" : "s"): "
                         + p.map { EngineCommands.f2(Double($0)) }.joined(separator: " ") + ")")
            }
        }
        return out
    }

    /// `body`, its interrupt as the workbench's; the requests made so far are recorded either way.
    static func measure<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch is EvolutionInterrupted { throw Interrupted() }
    }

    // MARK: the loop on items

    /// `data use NAME` / `data use suite`: which prompts the method's commands run on.
    static func use(_ cmd: ParsedCommand, _ s: Session) throws -> CommandOutput {
        let name = cmd.string("dataset")
        if name == "suite" {
            s.engine.usedDataset = nil
            s.engine.itemRun = nil
            return CommandOutput(lines: ["the method runs on the digit suite"])
        }
        let d = try dataset(s, name)
        s.engine.usedDataset = name
        s.engine.itemRun = nil
        let counts = DatasetSplit.allCases.map { "\($0.rawValue) \(d.items(in: $0).count)" }.joined(separator: ", ")
        return CommandOutput(lines: ["the method runs on \(name) (\(counts)); its items are answered by the remote backend's model"])
    }

    /// A loaded real dataset by name, or a one-line error listing them.
    static func dataset(_ s: Session, _ name: String) throws -> ReasoningDataset {
        guard let d = s.engine.reasoningSets[name] else {
            if s.engine.datasets[name] != nil {
                throw WorkbenchError("\(name) holds mstar examples, not items: --dataset and data use take MathVista, M3CoT, ScienceQA and LLaVA datasets")
            }
            let known = s.engine.reasoningSets.keys.sorted()
            throw WorkbenchError("no dataset \(name)" + (known.isEmpty ? "; load one with data load FILE --as \(name)" : "; loaded: \(known.joined(separator: ", "))"))
        }
        return d
    }

    /// The run over the used dataset's items (nil when the method runs on the digit suite), with
    /// the session's current settings.
    static func run(_ s: Session) throws -> ItemEvolution? {
        guard let name = s.engine.usedDataset else { return nil }
        let settings = try EngineCommands.evolutionSettings(s)
        if let run = s.engine.itemRun {
            run.settings = settings
            run.scorer = scorer(s)
            try TrainerCommands.attach(run, s)
            return run
        }
        let run = try ItemEvolution(dataset: try dataset(s, name), generator: try generator(s), scorer: scorer(s), settings: settings, seed: s.seed)
        run.runDirectory = URL(fileURLWithPath: s.outputPath(".")).standardizedFileURL
        try TrainerCommands.attach(run, s)
        s.engine.itemRun = run
        return run
    }

    /// One item step: the run's state moves only when it completes.
    static func step(_ run: ItemEvolution, _ s: Session) throws -> CommandOutput {
        defer { BackendCommands.flushRecords(s) }
        let r = try measure { try run.step(shouldStop: { Interrupt.requested }) }
        var out = EngineCommands.describe(r.record, r.times)
        // Paths are named inside the run directory, so that the output does not depend on where the run is.
        let dir = URL(fileURLWithPath: s.outputPath(".")).standardizedFileURL.path + "/"
        func inRun(_ p: String) -> String { p.hasPrefix(dir) ? String(p.dropFirst(dir.count)) : p }
        if let f = r.selectionFolder {
            out.line("selection for the trainer: \(inRun(f.standardizedFileURL.path)) (TRL layout)")
        }
        if let t = run.trainer as? ExternalTrainer, let r = t.lastRecord, r.step == run.iteration {
            let lrs = r.learning_rates
            out.line("trainer \(r.kind): \(r.steps) steps" + (lrs.isEmpty ? "" : ", lr \(EngineCommands.g(lrs.first!)) to \(EngineCommands.g(lrs.last!))")
                     + ", step \(r.global_step); serving \(inRun(r.model))" + (r.checkpoint.map { ", checkpoint \(inRun($0))" } ?? ""))
            out.volatile("trainer: \(EngineCommands.f2(r.seconds)) s")
        }
        return out
    }

    /// `sample --prompt I` after an item step: the prompt as the step saw it.
    static func lastPrompt(_ run: ItemEvolution, index: Int, show: Int) throws -> CommandOutput {
        guard let last = run.last else { throw WorkbenchError("no step yet: step runs one") }
        guard index >= 0, index < last.prompts.count else { throw WorkbenchError("--prompt \(index) is outside the last step: use 0 to \(last.prompts.count - 1)") }
        let p = last.prompts[index]
        var out = heading(p.item, "prompt \(index) of the last step, \(p.pool.rawValue)")
        out.line("gold: \(p.item.answer)   label used: " + (p.label == ReasoningItem.goldKey ? "the gold answer" : p.label.map { "\($0) (majority)" } ?? "none"))
        out.line("\(p.responses.count) responses, \(p.rewards.filter { $0 > 0 }.count) rewarded, \(p.selected.filter { $0 }.count) selected")
        for (j, r) in p.responses.enumerated().prefix(show) {
            let verdict = p.selected[j] ? "kept" : p.rewards[j] > 0 ? "right" : "wrong"
            let prm = p.prmScores?[j].map { "  PRM \(EngineCommands.f3(Double($0)))" } ?? ""
            out.line("[\(j)] \(verdict)  answer \(p.keys[j] ?? "none")\(prm)  length \(r.length)\(r.finished ? "" : " (cut)")")
            out.line("    " + oneLine(r.text, 200))
        }
        return out
    }

    /// An item's id, answer type and `where`, then its prompt text indented (at most 40 lines).
    static func heading(_ item: ReasoningItem, _ where: String) -> CommandOutput {
        var out = CommandOutput(lines: ["\(item.id)  answer type \(item.answerType.rawValue)  \(`where`)"])
        for l in item.promptText.split(separator: "\n", omittingEmptySubsequences: false).prefix(40) { out.line("  " + l) }
        return out
    }

    /// `text` on one line (line breaks shown as " / "), at most `limit` characters.
    static func oneLine(_ text: String, _ limit: Int) -> String {
        let flat = text.split(whereSeparator: \.isNewline).joined(separator: " / ")
            .unicodeScalars.map { $0.properties.generalCategory == .control ? " " : String($0) }.joined()
        return flat.count > limit ? String(flat.prefix(limit - 3)) + "..." : flat
    }

    // MARK: save and load

    /// The trainer's file in a saved item run.
    static let trainerStateName = "trainer.json"

    /// What a saved item run keeps of its trainer.
    struct SavedTrainer: Codable {
        var kind: String
        var state: ExternalTrainer.State
    }

    /// `save DIR` of an item run: its state, and its trainer's (the model and checkpoint it continues from).
    static func save(_ run: ItemEvolution, dataset name: String, to dir: URL) throws {
        var extra: [String: Data] = [:]
        if let t = run.trainer as? ExternalTrainer {
            let e = JSONEncoder()
            e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            extra[trainerStateName] = try e.encode(SavedTrainer(kind: t.config.kind.rawValue, state: t.state))
        }
        try run.save(to: dir, dataset: name, extra: extra)
    }

    /// `load DIR` of a saved item run: the same dataset must be loaded under the same name, the
    /// backend chosen, and the trainer too when the run had one.
    static func load(_ dir: URL, shown: String, _ s: Session) throws -> CommandOutput {
        let name = ItemEvolution.savedDataset(dir) ?? "?"
        guard s.engine.reasoningSets[name] != nil else {
            throw WorkbenchError("\(shown) is a run on dataset \(name): load that dataset first (data load FILE --as \(name), with the same --seed and fractions)")
        }
        let run = try ItemEvolution.resume(from: dir, dataset: try dataset(s, name), name: name, generator: try generator(s), scorer: scorer(s))
        var trainerLine = "no trainer"
        let statePath = dir.appendingPathComponent(trainerStateName).path
        if FileManager.default.fileExists(atPath: statePath) {
            let saved: SavedTrainer
            do { saved = try JSONDecoder().decode(SavedTrainer.self, from: try InputFile.read(statePath, limit: InputFile.jsonLimit)) } catch {
                throw WorkbenchError("\(shown)/\(trainerStateName) is not a trainer state: \(error)")
            }
            guard let setup = s.engine.trainer, setup.config.kind.rawValue == saved.kind else {
                throw WorkbenchError("\(shown) was trained with the \(saved.kind) trainer: choose it first (trainer \(saved.kind) --config FILE), then load")
            }
            for (what, path) in [("model", saved.state.model), ("checkpoint", saved.state.checkpoint)] {
                guard let path else { continue }
                guard FileManager.default.fileExists(atPath: path) else { throw WorkbenchError("\(shown): the run's \(what) \(path) is gone; it cannot continue without it") }
            }
            guard saved.state.iterations == run.iteration, (0...1_000_000_000).contains(saved.state.globalStep),
                  saved.state.horizon.map({ (1...1_000_000_000).contains($0) }) ?? true else {
                throw WorkbenchError("\(shown)/\(trainerStateName): its iteration or steps do not match the run's (\(run.iteration) iterations)")
            }
            _ = setup
            s.engine.savedTrainerState = saved.state
            trainerLine = "trainer \(saved.kind) at step \(saved.state.globalStep), serving \(saved.state.model)"
        }
        run.runDirectory = URL(fileURLWithPath: s.outputPath(".")).standardizedFileURL
        s.engine.usedDataset = name
        s.engine.itemRun = run
        try EngineCommands.apply(run.settings, s)
        try TrainerCommands.attach(run, s)
        return CommandOutput(lines: ["item run \(EngineCommands.shownFolder(shown, s)) on \(name): \(run.iteration) iterations done, method \(run.settings.method.rawValue), temperature \(EngineCommands.t(run.temperature)); \(trainerLine)"])
    }
}
