import Foundation
import MSTaRModel
import MSTaRTasks
import MSTaRTensor

/// One prompt of an item step as the reward and the selection saw it.
public struct ItemPromptRecord: Sendable {
    /// The item asked.
    public var item: ReasoningItem
    /// Its pool: labelled (the gold answer rewards) or unlabelled (the majority answer does).
    public var pool: Pool
    /// The answer key the reward compared against (`ReasoningItem.goldKey`, or the majority's; nil: none).
    public var label: String?
    /// The K responses, their answer keys, rewards and whether selection kept them.
    public var responses: [TextRollout]
    public var keys: [String?]
    public var rewards: [Float]
    public var selected: [Bool]
    /// Each response's PRM score (step scores aggregated) where the step read it: the rewarded
    /// responses under the PRM selection rules (their candidates), every response of an unlabelled
    /// item under `prm-vote` (nil when the step read none, or for a response not read).
    public var prmScores: [Float?]? = nil
}

extension ItemPromptRecord {
    /// The selected responses as a trainer's examples: the item's image file and prompt text, the response.
    public var selectedExamples: [TrainerExample] {
        responses.indices.filter { selected[$0] }.map { j in
            TrainerExample(id: "\(item.id)-\(j)", imageID: item.id, image: nil, imagePath: item.image?.resolved,
                           question: item.promptText, response: responses[j].text)
        }
    }
}

/// What one item step did.
public struct ItemStepResult: Sendable {
    /// The step's line of dynamics.jsonl (the same record as a digit step's; steps verified absent).
    public var record: DynamicsRecord
    /// Seconds per phase.
    public var times: PhaseTimes
    /// Every prompt sampled.
    public var prompts: [ItemPromptRecord]
    /// Where the selection was written for a trainer (nil when nothing was selected or no run directory is set).
    public var selectionFolder: URL?
}

/// The self-evolving loop on a real dataset's items (`data load`, `data use`) with a served model:
/// schedule → sample → reward → select → hand the selection to a trainer → measure → commit, as
/// `Evolution.step` does on the digit tasks, with free-text answers (`ReasoningItem.answerKey`).
///
/// The prompts come from the dataset's labelled split (and, with a prompt variation that uses
/// them, its unlabelled split), the dynamics and the temperature search from its validation split.
/// The outcome reward is the only reward piece (the step checks read digit chains). With a served
/// PRM (`scorer`) the PRM selection rules rank the rewarded responses by its aggregated step
/// scores, `prm-vote` weighs the unlabelled items' votes by them, and the dynamics and the search
/// rank by them too. Training a served model is an external trainer's work: each step writes its
/// selection in TRL's layout to `RUN/selections/step-N/` for one (`TrainerData`).
public final class ItemEvolution {
    /// The dataset whose splits supply the prompts.
    public let dataset: ReasoningDataset
    /// The run's seed.
    public let seed: UInt64
    /// The method's settings; a change takes effect from the next step.
    public var settings: EvolutionSettings
    /// What answers the items (the remote backend).
    public let generator: any TextGenerator
    /// The served PRM that scores the responses' steps (nil: none; the PRM rules are refused).
    public var scorer: (any TextStepScorer)?
    /// Completed iterations, and the prompts consumed from the labelled and unlabelled splits.
    public internal(set) var iteration = 0, cursor = 0, unlabelledCursor = 0
    /// The temperature the next step samples at.
    public internal(set) var temperature: Float
    /// One record per completed step.
    public internal(set) var history: [DynamicsRecord] = []
    /// The last step.
    public internal(set) var last: ItemStepResult?
    /// When set, each step appends to dynamics.jsonl and timings.jsonl here and writes its selection.
    public var runDirectory: URL?
    /// What trains the served model on each step's selection (nil: the selection is only written).
    public var trainer: (any SelectionTrainer)?
    /// Receives the trainer's output lines as they come (the progress display).
    public var trainerOutput: ((String) -> Void)?

    /// A run over `dataset`'s items answered by `generator`.
    public init(dataset: ReasoningDataset, generator: any TextGenerator, scorer: (any TextStepScorer)? = nil,
                settings: EvolutionSettings, seed: UInt64) throws {
        self.dataset = dataset; self.generator = generator; self.scorer = scorer; self.settings = settings; self.seed = seed
        temperature = settings.temperature
        try Self.check(settings, hasPRM: scorer != nil)
        guard !dataset.items(in: .labelled).isEmpty else { throw SettingError(description: "the dataset has no labelled items to train on; load it with a smaller --test, --validation or --unlabelled") }
    }

    /// Refuses the settings that need what items do not have, in one line each (`hasPRM`: a
    /// served PRM scores the steps).
    public static func check(_ s: EvolutionSettings, hasPRM: Bool) throws {
        func no(_ what: String) -> SettingError { SettingError(description: "\(what) reads the digit tasks' chains and is not available on a real dataset's items; docs/datasets.md lists what is") }
        guard [.iterativeRFT, .restEM, .continuous].contains(s.method) else { throw no("method \(s.method.rawValue)") }
        func needsPRM(_ what: String) -> SettingError { SettingError(description: "\(what) on a dataset's items needs a served PRM: backend remote ... --prm-url URL --prm-model NAME") }
        guard s.selection != .oracleSteps else { throw no("selection \(s.selection.rawValue)") }
        guard !s.selection.needsPRM || hasPRM else { throw needsPRM("selection \(s.selection.rawValue)") }
        guard !s.stepCheck, !s.readingVote else { throw no("the step checks (step_check, reading_vote)") }
        guard s.promptVariation != .prmVote || hasPRM else { throw needsPRM("prompt_variation prm-vote") }
    }

    /// The same seeds as `Evolution` for the same purposes.
    func derivedSeed(_ stream: RandomStream, iteration: Int) -> UInt64 {
        SplitMix64.mix(seed ^ SplitMix64.mix(stream.rawValue << 32 | UInt64(iteration)))
    }

    /// Validation items of the dynamics (the first `dynamics_prompts`).
    public var validationSet: [ReasoningItem] { Array(dataset.items(in: .validation).prefix(settings.dynamicsPrompts)) }

    /// One iteration; the run changes only at its end, so an error or an interrupt leaves it as it was.
    @discardableResult
    public func step(shouldStop: (() -> Bool)? = nil) throws -> ItemStepResult {
        let s = settings
        try Self.check(s, hasPRM: scorer != nil)
        let start = Date()
        var times = PhaseTimes()
        func timed<R>(_ keyPath: WritableKeyPath<PhaseTimes, Double>, _ body: () throws -> R) rethrows -> R {
            let t0 = Date()
            defer { times[keyPath: keyPath] += Date().timeIntervalSince(t0) }
            return try body()
        }
        let number = iteration + 1
        guard !validationSet.isEmpty else { throw SettingError(description: "the dataset has no validation items for the dynamics; load it with --validation above 0") }
        guard trainer == nil || runDirectory != nil else { throw SettingError(description: "a trainer needs the run directory to write the selection to") }
        // Until the step completes, a trained model is pending: any failure puts the committed one back.
        var committed = false
        defer { if !committed { trainer?.rollback() } }
        try trainer?.prepare()

        // The dynamic temperature: each candidate on the first temperature_prompts validation items.
        var t = s.dynamicTemperature ? temperature : s.temperature
        var search: TemperatureSearch?
        if s.dynamicTemperature && iteration % s.temperatureEvery == 0 {
            let items = Array(dataset.items(in: .validation).prefix(s.temperaturePrompts))
            let candidates = try timed(\.temperature) {
                try s.candidateTemperatures.map { c -> TemperatureSearch.Candidate in
                    let (m, _) = try ItemEvaluation.measure(items, generator: generator, scorer: scorer, aggregation: s.prmAggregation,
                                                            k: s.dynamicsK, temperature: c, greedy: false,
                                                            seed: derivedSeed(.temperatureSearch, iteration: iteration), maxTokens: s.maxTokens,
                                                            shouldStop: shouldStop)
                    return TemperatureSearch.Candidate(temperature: c, rewardPassAt2: m.rewardPassAt2, passAtK: m.passAtK)
                }
            }
            search = TemperatureSearch(iteration: number, criterion: s.temperatureCriterion, candidates: candidates,
                                       chosen: TemperatureSearch.choose(candidates, by: s.temperatureCriterion, current: temperature))
            t = search!.chosen
        }

        // Schedule: the next share of the labelled items in a seeded order, then unlabelled ones.
        let labelled = dataset.items(in: .labelled), unlabelled = dataset.items(in: .unlabelled)
        var scheduled: [(item: ReasoningItem, pool: Pool, stream: UInt64)] = []
        let n = max(1, Int((s.effectiveInterval * Double(labelled.count)).rounded()))
        scheduled += Evolution.take(from: cursor, count: n, size: labelled.count, seed: seed, stream: .labelledPrompts)
            .map { (labelled[$0], .labelled, UInt64($0)) }
        var u = 0
        if s.promptVariation.usesUnlabelled, !unlabelled.isEmpty, Double(iteration) / Double(s.iterations) >= s.mixin - 1e-9 {
            u = max(1, Int((s.effectiveInterval * Double(unlabelled.count)).rounded()))
            scheduled += Evolution.take(from: unlabelledCursor, count: u, size: unlabelled.count, seed: seed, stream: .unlabelledPrompts)
                .map { (unlabelled[$0], .unlabelled, 1 << 31 | UInt64($0)) }
        }

        // Sample, reward against the gold answer (or the majority's), select.
        let prompts = try scheduled.map { try ItemEvaluation.prompt($0.item, stream: $0.stream) }
        let drawn = try timed(\.sample) {
            try generator.generateText(prompts, k: s.k, options: SamplingOptions(temperature: t, maxTokens: s.maxTokens),
                                       seed: derivedSeed(.sampling, iteration: iteration), shouldStop: shouldStop)
        }
        guard drawn.count == scheduled.count else { throw EvolutionInterrupted() }
        // Labels: the gold answer for labelled items; for unlabelled ones the majority's answer key,
        // the PRM-weighted vote's (`prm-vote`, after scoring) or the gold one (`oracle`, analysis).
        let weighted = s.promptVariation == .prmVote
        var records: [ItemPromptRecord] = timed(\.select) {
            scheduled.enumerated().map { i, p in
                let keys = drawn[i].map { p.item.answerKey($0.text) }
                var label: String? = ReasoningItem.goldKey
                if p.pool == .unlabelled && s.promptVariation == .majority { label = majorityVote(keys) }
                let rewards: [Float] = keys.map { $0 != nil && $0 == label ? 1 : 0 }
                return ItemPromptRecord(item: p.item, pool: p.pool, label: label, responses: drawn[i], keys: keys, rewards: rewards,
                                        selected: drawn[i].map { _ in false })
            }
        }
        // The PRM reads what a rule ranks: every response of an unlabelled item under prm-vote, and
        // the rewarded responses (the candidates) under prm-top and prm-threshold; only those are scored.
        if let scorer, s.selection.needsPRM || weighted {
            let read = records.indices.flatMap { i in
                records[i].rewards.indices.filter { j in
                    (weighted && records[i].pool == .unlabelled) || (s.selection.needsPRM && records[i].rewards[j] > 0)
                }.map { (i, $0) }
            }
            let scores = try timed(\.prm) {
                try ItemEvaluation.score(read.map { (prompts[$0.0], records[$0.0].responses[$0.1].text) }, scorer: scorer,
                                         aggregation: s.prmAggregation, shouldStop: shouldStop)
            }
            for i in records.indices { records[i].prmScores = records[i].responses.map { _ in nil } }
            for (n, (i, j)) in read.enumerated() { records[i].prmScores![j] = scores[n] }
        }
        var pseudoRight = 0, pseudoTotal = 0
        for i in records.indices where records[i].pool == .unlabelled {
            if weighted {
                records[i].label = weightedVote(records[i].keys, weights: records[i].prmScores!.map { $0 ?? 0 })
                records[i].rewards = records[i].keys.map { $0 != nil && $0 == records[i].label ? 1 : 0 }
            }
            pseudoTotal += 1
            pseudoRight += records[i].label == ReasoningItem.goldKey ? 1 : 0
        }
        timed(\.select) {
            for i in records.indices {
                var rng = RNG(seed: derivedSeed(.selection, iteration: iteration), stream: UInt64(i))
                // Identical texts count once (the selector's dedupe compares sequences).
                let kept = Set(Selector(s).select(rewards: records[i].rewards, prmScores: records[i].prmScores.map { $0.map { $0 ?? 0 } },
                                                  tokens: records[i].responses.map { $0.text.unicodeScalars.map { Int($0.value) } }, rng: &rng))
                records[i].selected = records[i].responses.indices.map(kept.contains)
            }
        }

        // Hand-off: the selection in TRL's layout, trained on by the trainer of the served model,
        // which then serves the result for the dynamics below.
        let examples = records.flatMap(\.selectedExamples)
        var folder: URL?
        var report: TrainReport?
        if let dir = runDirectory, !examples.isEmpty {
            let f = dir.appendingPathComponent("selections").appendingPathComponent("step-\(number)")
            try timed(\.train) {
                try TrainerData.write(examples, format: .trl, to: f)
                if let trainer {
                    let job = SelectionJob(iteration: number, iterations: s.iterations, data: f, examples: examples, carry: .of(s.method),
                                           lr: s.lr, batchSize: s.batchSize, epochs: s.trainEpochs, seed: derivedSeed(.training, iteration: iteration))
                    report = try trainer.train(job, progress: trainerOutput, shouldStop: shouldStop)
                }
            }
            folder = f
        }

        let (m, _) = try timed(\.dynamics) {
            // The same seed every iteration, as the digit dynamics, so that steps compare.
            try ItemEvaluation.measure(validationSet, generator: generator, scorer: scorer, aggregation: s.prmAggregation, k: s.dynamicsK, temperature: t,
                                       seed: derivedSeed(.dynamics, iteration: 0), maxTokens: s.maxTokens, shouldStop: shouldStop)
        }
        times.step = number
        times.total = Date().timeIntervalSince(start)
        let record = DynamicsRecord(
            step: number, epoch: (Double(number) * s.effectiveInterval * 1e6).rounded() / 1e6, method: s.method, temperature: t,
            prompts: n, unlabelled: u, samples: records.reduce(0) { $0 + $1.responses.count },
            correct: records.reduce(0) { $0 + $1.rewards.filter { $0 > 0 }.count }, selected: examples.count,
            pseudoLabelAcc: pseudoTotal > 0 ? Double(pseudoRight) / Double(pseudoTotal) : nil, train: report,
            dynamics: m.dynamics, search: search)
        try trainer?.commit()
        committed = true
        iteration = number
        cursor += n
        unlabelledCursor += u
        temperature = t
        history.append(record)
        let result = ItemStepResult(record: record, times: times, prompts: records, selectionFolder: folder)
        last = result
        if let dir = runDirectory { try appendDynamics(record, times, to: dir) }
        return result
    }
}
