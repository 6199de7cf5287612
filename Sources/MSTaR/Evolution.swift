import Foundation
import MSTaRModel
import MSTaRTasks
import MSTaRTensor

/// A self-evolving training run: the policy, its initial copy, the optimizer a method carries, the
/// PRM, the prompt cursor and the temperature, advanced one observable `step()` at a time.
///
/// Every random choice is derived from (seed, iteration, purpose), so the state to save is small
/// (weights, optimizer moments, cursors, temperature) and a resumed run continues exactly.
public final class Evolution {
    /// The task suite whose splits supply the labelled, unlabelled, seed and validation prompts.
    public let suite: TaskSuite
    /// Encodes prompts and decodes responses for answer extraction and step checks.
    public let tokenizer: Tokenizer
    /// The run's seed: every random stream derives from it, the iteration and the purpose.
    public let seed: UInt64
    /// The method's settings; a change takes effect from the next step.
    public var settings: EvolutionSettings
    /// The policy being trained.
    public let policy: VisionLanguageModel
    /// π0: where ReST-EM restarts and what GRPO's KL refers to.
    public let initialPolicy: VisionLanguageModel
    /// How the run samples from a policy: the step's samples, the temperature search, the dynamics
    /// and the PRM's Monte-Carlo labels all go through the generator it returns (the seam a served
    /// model plugs into). Nil: the engine's own `Sampler`.
    public var generatorFactory: ((VisionLanguageModel) -> any ResponseGenerator)?

    /// The generator for `model` (the current policy unless said).
    func generator(for model: VisionLanguageModel? = nil) -> any ResponseGenerator {
        let m = model ?? policy
        return generatorFactory?(m) ?? Sampler(model: m, eos: tokenizer.eos)
    }
    /// The process reward model once trained (`trainPRM`) or given (`usePRM`); nil before.
    public internal(set) var prm: ProcessRewardModel?
    /// What training the PRM did (nil when none was trained or a given PRM came without a report).
    public internal(set) var prmReport: PRMTrainReport?
    /// The optimizer that continuous training and GRPO carry across iterations.
    public internal(set) var optimizer: AdamW?
    /// Completed iterations.
    public internal(set) var iteration = 0
    /// Prompts consumed from the labelled (or seed, for SFT) and unlabelled pools.
    public internal(set) var cursor = 0
    /// Prompts consumed from the unlabelled pool.
    public internal(set) var unlabelledCursor = 0
    /// The temperature the next step samples at.
    public internal(set) var temperature: Float
    /// One record per completed step (what dynamics.jsonl holds).
    public internal(set) var history: [DynamicsRecord] = []
    /// The last step's intermediates (samples, rewards, PRM scores, selections).
    public internal(set) var last: StepResult?
    /// When set, each step appends to `runDirectory/dynamics.jsonl` and `timings.jsonl`.
    public var runDirectory: URL?

    /// A run of `policy` (copied: the caller's model is not changed) on `suite`.
    public init(suite: TaskSuite, policy: VisionLanguageModel, settings: EvolutionSettings, seed: UInt64,
                tokenizer: Tokenizer = .standard) throws {
        self.suite = suite
        self.tokenizer = tokenizer
        self.seed = seed
        self.settings = settings
        self.policy = try policy.copy()
        initialPolicy = try policy.copy()
        temperature = settings.temperature
    }

    // MARK: Prompt pools

    /// The labelled prompt set.
    public var promptSet: [Example] { Array(pool(.labelled).prefix(settings.prompts)) }

    private var pools: [SplitName: [Example]] = [:]
    func pool(_ split: SplitName) -> [Example] {
        if let p = pools[split] { return p }
        let p = suite.examples(split)
        pools[split] = p
        return p
    }

    /// Validation prompts of the dynamics monitor (the first n: families interleave by index).
    public var validationSet: [Example] { Array(pool(.validation).prefix(settings.dynamicsPrompts)) }

    /// Pool indices at positions `start..<start+count` of an endless sequence of seeded permutations
    /// of `0..<size`, one per pass.
    static func take(from start: Int, count: Int, size: Int, seed: UInt64, stream: RandomStream) -> [Int] {
        guard size > 0 else { return [] }
        var out: [Int] = []
        var perm: [Int] = [], epoch = -1
        for q in start..<(start + count) {
            if q / size != epoch {
                epoch = q / size
                var rng = RNG(seed: seed, stream: stream.rawValue << 32 | UInt64(epoch))
                perm = rng.permutation(size)
            }
            out.append(perm[q % size])
        }
        return out
    }

    /// Seed of an iteration's random choices for one stream.
    func derivedSeed(_ stream: RandomStream, iteration: Int) -> UInt64 {
        SplitMix64.mix(seed ^ SplitMix64.mix(stream.rawValue << 32 | UInt64(iteration)))
    }

    // MARK: PRM

    /// Trains the PRM from the initial policy on Monte-Carlo labels of labelled prompts outside the
    /// prompt set.
    @discardableResult
    public func trainPRM(progress: ((String, TrainProgress?) -> Void)? = nil, shouldStop: (() -> Bool)? = nil) throws -> PRMTrainReport {
        let start = Date()
        let labelled = pool(.labelled)
        let examples = (0..<settings.prmPrompts).map { labelled[(settings.prompts + $0) % labelled.count] }
        progress?("prm labels", nil)
        let (data, rollouts) = try ProcessRewardModel.monteCarloLabels(
            generator: generator(for: initialPolicy), examples: examples, samples: settings.prmSamples, rollouts: settings.prmRollouts,
            kind: settings.prmLabels, temperature: 1, maxTokens: settings.maxTokens, seed: derivedSeed(.prmLabels, iteration: 0),
            tokenizer: tokenizer, shouldStop: shouldStop)
        let (model, report) = try ProcessRewardModel.train(
            from: initialPolicy, data: data, epochs: settings.prmEpochs, lr: settings.prmLR, batchSize: settings.batchSize,
            aggregation: settings.prmAggregation, seed: derivedSeed(.prmTraining, iteration: 0), tokenizer: tokenizer,
            progress: { progress?("prm train", $0) }, shouldStop: shouldStop)
        var r = report
        r.rollouts = rollouts
        r.seconds = Date().timeIntervalSince(start)
        prm = model
        prmReport = r
        return r
    }

    /// Uses an already trained PRM (for example one shared by several runs of an experiment).
    public func usePRM(_ model: ProcessRewardModel, report: PRMTrainReport?) {
        model.aggregation = settings.prmAggregation
        prm = model
        prmReport = report
    }

    // MARK: Dynamic temperature

    /// Evaluates every candidate temperature on validation prompts and returns the search; the
    /// choice maximises the configured criterion.
    public func searchTemperature(shouldStop: (() -> Bool)? = nil) throws -> TemperatureSearch {
        let examples = Array(pool(.validation).prefix(settings.temperaturePrompts))
        var candidates: [TemperatureSearch.Candidate] = []
        for t in settings.candidateTemperatures {
            let m = try measureDynamics(generator: generator(), scorer: prm, aggregation: prm?.aggregation ?? .min, examples: examples, k: settings.dynamicsK, temperature: t,
                                        greedy: false, seed: derivedSeed(.temperatureSearch, iteration: iteration), maxTokens: settings.maxTokens,
                                        tokenizer: tokenizer, shouldStop: shouldStop)
            candidates.append(.init(temperature: t, rewardPassAt2: m.rewardPassAt2, passAtK: m.passAtK))
        }
        return TemperatureSearch(iteration: iteration + 1, criterion: settings.temperatureCriterion, candidates: candidates,
                                 chosen: TemperatureSearch.choose(candidates, by: settings.temperatureCriterion, current: temperature))
    }

    // MARK: One step

    /// Runs one iteration: (new temperature when due) → prompts → K samples → rewards → selection →
    /// training → dynamics. The run's state changes only when the step completes; an interrupt
    /// (`shouldStop`) leaves it as it was.
    @discardableResult
    public func step(progress: ((String) -> Void)? = nil, shouldStop: (() -> Bool)? = nil) throws -> StepResult {
        let stepStart = Date()
        var times = PhaseTimes()
        func timed<R>(_ keyPath: WritableKeyPath<PhaseTimes, Double>, _ name: String, _ body: () throws -> R) rethrows -> R {
            progress?(name)
            let t0 = Date()
            defer { times[keyPath: keyPath] += Date().timeIntervalSince(t0) }
            return try body()
        }
        let s = settings
        let number = iteration + 1
        if s.needsPRM && prm == nil {
            try timed(\.prm, "prm") { _ = try trainPRM(shouldStop: shouldStop) }
        }

        var newTemperature = s.dynamicTemperature ? temperature : s.temperature
        var search: TemperatureSearch?
        if s.dynamicTemperature && iteration % s.temperatureEvery == 0 {
            search = try timed(\.temperature, "temperature") { try searchTemperature(shouldStop: shouldStop) }
            newTemperature = search!.chosen
        }
        let t = newTemperature

        // Prompts of this iteration.
        var records: [PromptRecord] = []
        var training: [TrainingSequence] = []
        var nextCursor = cursor, nextUnlabelled = unlabelledCursor
        var groups: [RolloutGroup] = []
        var pseudoRight = 0, pseudoTotal = 0
        if s.method == .sft {
            let seedSet = pool(.seed)
            let n = Swift.max(1, Int((s.effectiveInterval * Double(seedSet.count)).rounded()))
            let chosen = Self.take(from: cursor, count: n, size: seedSet.count, seed: seed, stream: .seedChains)
            nextCursor += n
            training = try chosen.compactMap { try TrainingSequence(seedSet[$0], tokenizer: tokenizer) }
        } else {
            let labelled = promptSet
            let n = Swift.max(1, Int((s.effectiveInterval * Double(labelled.count)).rounded()))
            var chosen: [(Example, String, UInt64)] = Self.take(from: cursor, count: n, size: labelled.count, seed: seed, stream: .labelledPrompts)
                .map { (labelled[$0], "labelled", UInt64($0)) }
            nextCursor += n
            let mixedIn = Double(iteration) / Double(s.iterations) >= s.mixin - 1e-9
            if s.promptVariation.usesUnlabelled && mixedIn {
                let unlabelled = Array(pool(.unlabelled).prefix(s.unlabelledPrompts))
                let u = Swift.max(1, Int((s.effectiveInterval * Double(unlabelled.count)).rounded()))
                chosen += Self.take(from: unlabelledCursor, count: u, size: unlabelled.count, seed: seed, stream: .unlabelledPrompts)
                    .map { (unlabelled[$0], "unlabelled", 1 << 31 | UInt64($0)) }
                nextUnlabelled += u
            }

            // Sample.
            let prompts = try chosen.map { e, _, stream in try SamplePrompt(e, stream: stream, tokenizer: tokenizer) }
            let drawn: [[Rollout]] = try timed(\.sample, "sample") {
                let r = try generator().generate(
                    prompts, k: s.k, options: SamplingOptions(temperature: t, maxTokens: s.maxTokens),
                    seed: derivedSeed(.sampling, iteration: iteration), shouldStop: shouldStop)
                guard r.count == prompts.count else { throw EvolutionInterrupted() }
                return r
            }

            // PRM scores, when selection or voting needs them.
            var stepScores: [[[Float]]]?
            if let prm, s.selection.needsPRM || s.promptVariation == .prmVote {
                stepScores = try timed(\.prm, "prm") {
                    let flat = try prm.stepScores(zip(chosen, drawn).flatMap { c, rs in rs.map { (c.0, $0.tokens) } })
                    return (0..<chosen.count).map { Array(flat[($0 * s.k)..<(($0 + 1) * s.k)]) }
                }
            }

            // Labels, rewards, selection.
            timed(\.select, "select") {
                for (i, (e, poolName, _)) in chosen.enumerated() {
                    let answers = drawn[i].map { AnswerExtractor.extract(ids: $0.tokens, tokenizer: tokenizer) }
                    let scores = stepScores.map { $0[i].map { prm!.aggregation.apply($0) } }
                    var label: Int?, source = LabelSource.gold
                    if poolName == "labelled" {
                        label = e.answer
                    } else {
                        switch s.promptVariation {
                        case .labelled: label = nil
                        case .majority: label = majorityVote(answers); source = .majority
                        case .prmVote: label = weightedVote(answers, weights: scores!); source = .prmVote
                        case .oracle: label = e.answer; source = .oracle
                        }
                        if source != .oracle { pseudoTotal += 1; pseudoRight += label != nil && label == e.answer ? 1 : 0 }
                    }
                    var rng = RNG(seed: derivedSeed(.selection, iteration: iteration), stream: UInt64(i))
                    let judged = s.judge(drawn[i], for: e, label: label, prmScores: scores, tokenizer: tokenizer, rng: &rng)
                    let texts = judged.texts, rewards = judged.rewards, kept = judged.kept
                    let keptSet = Set(kept)
                    let prompt = prompts[i].prompt
                    for j in kept { training.append(TrainingSequence(image: e.image, prompt: prompt, response: drawn[i][j].tokens)) }
                    if s.method == .grpo { groups.append(RolloutGroup(image: e.image, prompt: prompt, rollouts: drawn[i], rewards: rewards)) }
                    records.append(PromptRecord(
                        example: e, pool: poolName, label: label, labelSource: source,
                        responses: drawn[i].enumerated().map { j, r in
                            ResponseRecord(tokens: r.tokens, text: texts[j], answer: answers[j], reward: rewards[j],
                                           correct: e.answer != nil && answers[j] == e.answer, logProbs: r.logProbs, entropy: r.meanEntropy,
                                           finished: r.finished, stepScores: stepScores?[i][j], prmScore: scores?[j],
                                           selected: keptSet.contains(j))
                        }))
                }
            }
        }

        // Train; an interrupt puts the weights and optimizer back.
        let snapshot = try Snapshot(self)
        let report: TrainReport?
        do {
            report = try timed(\.train, "train") { try train(training, groups: groups, shouldStop: shouldStop) }
        } catch {
            try snapshot.restore(self)
            throw error
        }

        let dynamics: DynamicsMetrics
        do {
            dynamics = try timed(\.dynamics, "dynamics") {
                try measureDynamics(generator: generator(), scorer: prm, aggregation: prm?.aggregation ?? .min, examples: validationSet, k: s.dynamicsK, temperature: t,
                                    seed: derivedSeed(.dynamics, iteration: 0), maxTokens: s.maxTokens, tokenizer: tokenizer,
                                    shouldStop: shouldStop)
            }
        } catch {
            try snapshot.restore(self)
            throw error
        }

        let samples = records.reduce(0) { $0 + $1.responses.count }
        let correct = records.reduce(0) { $0 + $1.responses.filter { $0.reward > 0 }.count }
        let record = DynamicsRecord(
            step: number, epoch: (Double(number) * s.effectiveInterval * 1e6).rounded() / 1e6, method: s.method, temperature: t,
            prompts: records.isEmpty ? training.count : records.filter { $0.pool == "labelled" }.count,
            unlabelled: records.filter { $0.pool == "unlabelled" }.count, samples: samples, correct: correct,
            selected: s.method == .grpo ? 0 : training.count,
            pseudoLabelAcc: pseudoTotal > 0 ? Double(pseudoRight) / Double(pseudoTotal) : nil,
            train: report, dynamics: dynamics, search: search)
        times.step = number
        times.total = Date().timeIntervalSince(stepStart)

        // Commit.
        iteration = number
        cursor = nextCursor
        unlabelledCursor = nextUnlabelled
        temperature = t
        history.append(record)
        let result = StepResult(record: record, times: times, prompts: records, train: report, dynamics: dynamics)
        last = result
        if let dir = runDirectory { try appendLogs(record, times, to: dir) }
        return result
    }

    /// Runs `count` steps (stopping early when interrupted between steps).
    public func evolve(_ count: Int, progress: ((String) -> Void)? = nil, shouldStop: (() -> Bool)? = nil) throws -> [StepResult] {
        var out: [StepResult] = []
        for _ in 0..<count {
            if shouldStop?() == true { break }
            out.append(try step(progress: progress, shouldStop: shouldStop))
        }
        return out
    }

    // MARK: Training by method

    func train(_ sequences: [TrainingSequence], groups: [RolloutGroup], shouldStop: (() -> Bool)?) throws -> TrainReport? {
        let s = settings
        let adam = AdamW.Config(lr: s.lr, beta1: 0.9, beta2: 0.98, eps: 1e-8, weightDecay: 0.01)
        let options = SFTTrainer.Options(batchSize: s.batchSize, schedule: .constant(lr: s.lr), clip: 1, optimizer: adam)
        let dataSeed = derivedSeed(.training, iteration: iteration)
        if s.method == .grpo { return try trainGRPO(groups, config: adam, shouldStop: shouldStop) }
        if s.method == .restEM { try policy.loadWeights(from: initialPolicy) }
        guard !sequences.isEmpty else { return nil }
        let trainer: SFTTrainer
        switch s.method {
        case .iterativeRFT, .restEM:
            trainer = SFTTrainer(model: policy, options: options, seed: dataSeed)
        case .continuous, .sft, .grpo:
            if optimizer == nil { optimizer = AdamW(params: policy.policyParameters, config: adam) }
            optimizer!.config.lr = s.lr
            trainer = SFTTrainer(model: policy, options: options, optimizer: optimizer!, seed: dataSeed)
        }
        let report = try trainer.train(sequences, epochs: s.trainEpochs, shouldStop: shouldStop)
        if shouldStop?() == true { throw EvolutionInterrupted() }
        return report
    }

    func trainGRPO(_ groups: [RolloutGroup], config: AdamW.Config, shouldStop: (() -> Bool)?) throws -> TrainReport? {
        let s = settings
        if optimizer == nil { optimizer = AdamW(params: policy.policyParameters, config: config) }
        let opt = optimizer!
        let start = Date()
        var rng = RNG(seed: derivedSeed(.grpo, iteration: iteration))
        var order = groups.indices.filter { groupAdvantages(groups[$0].rewards).contains { $0 != 0 } }
        rng.shuffle(&order)
        let objective = GRPOLoss(clip: s.grpoClip, klBeta: s.grpoKL)
        var updates = 0, tokens = 0, sum: Float = 0, last: Float = 0
        var b = 0
        while b < order.count {
            if shouldStop?() == true { throw EvolutionInterrupted() }
            var seqs: [TrainingSequence] = [], old: [[Float]] = [], adv: [Float] = []
            for g in order[b..<Swift.min(order.count, b + s.grpoPromptsPerUpdate)] {
                let a = groupAdvantages(groups[g].rewards)
                for (r, ai) in zip(groups[g].rollouts, a) where !r.tokens.isEmpty {
                    seqs.append(TrainingSequence(image: groups[g].image, prompt: groups[g].prompt, response: r.tokens))
                    old.append(r.logProbs); adv.append(ai)
                }
            }
            b += s.grpoPromptsPerUpdate
            var n = 0
            last = try opt.safeUpdate(lr: s.lr, clip: 1) { _ in
                let (loss, count) = try objective.loss(policy: policy, reference: s.grpoKL > 0 ? initialPolicy : nil,
                                                       sequences: seqs, oldLogProbs: old, advantages: adv)
                n = count
                return loss
            }.loss
            updates += 1; tokens += n; sum += last
        }
        return TrainReport(steps: updates, sequences: groups.count * s.k, tokens: tokens,
                           meanLoss: updates > 0 ? sum / Float(updates) : .nan, lastLoss: last,
                           seconds: Date().timeIntervalSince(start))
    }

    // MARK: Logs

    func appendLogs(_ record: DynamicsRecord, _ times: PhaseTimes, to dir: URL) throws {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try appendLine(try record.jsonLine(), to: dir.appendingPathComponent("dynamics.jsonl"))
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        try appendLine(String(decoding: try e.encode(times), as: UTF8.self), to: dir.appendingPathComponent("timings.jsonl"))
    }
}

/// Appends one line and flushes it to disk (a crash keeps every completed step).
func appendLine(_ line: String, to url: URL) throws {
    let fd = open(url.path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
    guard fd >= 0 else { throw SettingError(description: "cannot open \(url.path): \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    let bytes = Array((line + "\n").utf8)
    let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    guard written == bytes.count else { throw SettingError(description: "cannot write \(url.path): \(String(cString: strerror(errno)))") }
    fsync(fd)
}

/// Weights and optimizer state from before a step's training, to put back on interrupt.
struct Snapshot {
    let weights: VisionLanguageModel
    let optimizer: (tensors: [String: Tensor], step: Int)?
    let hadOptimizer: Bool

    init(_ run: Evolution) throws {
        weights = try run.policy.copy()
        hadOptimizer = run.optimizer != nil
        optimizer = run.optimizer.map { opt in
            (Dictionary(uniqueKeysWithValues: opt.stateTensors().map { ($0.0, $0.1.copy()) }), opt.step)
        }
    }

    func restore(_ run: Evolution) throws {
        try run.policy.loadWeights(from: weights)
        if let o = optimizer { try run.optimizer?.loadState(o.tensors, step: o.step) }
        if !hadOptimizer { run.optimizer = nil }
    }
}
