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

    /// What scores steps for the step's selection and the dynamics in place of the PRM's own forward
    /// pass (a served copy of the PRM, `backend remote --prm-url`); used only while the run has a
    /// PRM, whose aggregation applies. Nil: the PRM itself.
    public var stepScorer: (any StepScorer)?

    /// The generator for `model` (the current policy unless said): the backend's, or the engine's sampler.
    public func generator(for model: VisionLanguageModel? = nil) -> any ResponseGenerator {
        let m = model ?? policy
        return generatorFactory?(m) ?? Sampler(model: m, eos: tokenizer.eos)
    }
    /// The process reward model once trained (`trainPRM`) or given (`usePRM`); nil before.
    public internal(set) var prm: ProcessRewardModel?
    /// What training the PRM did (nil when none was trained or a given PRM came without a report).
    public internal(set) var prmReport: PRMTrainReport?
    /// The engine's own trainer of `policy` (it holds the carried optimizer).
    public let native: NativeTrainer
    /// What the step trains through (the seam a trainer of a served model plugs into); by default `native`.
    public var trainer: any PolicyTrainer
    /// The optimizer that continuous training and GRPO carry across iterations (the native trainer's).
    public internal(set) var optimizer: AdamW? {
        get { native.optimizer }
        set { native.optimizer = newValue }
    }
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
    /// The PRM the last step scored with (nil when it scored nothing): `scored(_:)` completes its records.
    var scorer: ProcessRewardModel?
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
        native = NativeTrainer(policy: self.policy, initialPolicy: initialPolicy)
        trainer = native
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
        let temperatures = settings.candidateTemperatures
        let measured = try measure(examples, temperatures: temperatures, greedy: false,
                                   seed: derivedSeed(.temperatureSearch, iteration: iteration), shouldStop: shouldStop)
        let candidates = zip(temperatures, measured).map { t, m in
            TemperatureSearch.Candidate(temperature: t, rewardPassAt2: m.rewardPassAt2, passAtK: m.passAtK)
        }
        return TemperatureSearch(iteration: iteration + 1, criterion: settings.temperatureCriterion, candidates: candidates,
                                 chosen: TemperatureSearch.choose(candidates, by: settings.temperatureCriterion, current: temperature))
    }

    // MARK: One step

    /// Runs one iteration as its stages (one file each in Sources/MSTaR/Step): the PRM when first
    /// needed and the temperature search when due, then schedule → sample → score → label, reward,
    /// select → train → measure → commit. The run's state changes only at commit; an error or an
    /// interrupt (`shouldStop`) leaves it as it was.
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

        let plan = try schedule()
        var selection = StepSelection(training: plan.seedChains)
        var usedScorer: ProcessRewardModel?
        if s.method != .sft {
            let (prompts, drawn) = try timed(\.sample, "sample") { try sample(plan.prompts, temperature: t, shouldStop: shouldStop) }
            let needsScores = prm != nil && (s.selection.needsPRM || s.promptVariation == .prmVote)
            let stepScores = needsScores ? try timed(\.prm, "prm") { try score(plan.prompts, drawn) } : nil
            usedScorer = stepScores == nil ? nil : prm
            selection = timed(\.select, "select") { judgeStep(plan.prompts, prompts: prompts, drawn: drawn, stepScores: stepScores) }
        }

        // Train and measure; an error or an interrupt puts the weights and optimizer back.
        let snapshot = try trainer.snapshot()
        let report: TrainReport?, dynamics: DynamicsMetrics
        do {
            report = try timed(\.train, "train") { try train(selection.training, groups: selection.groups, shouldStop: shouldStop) }
            dynamics = try timed(\.dynamics, "dynamics") { try measure(temperature: t, shouldStop: shouldStop) }
        } catch {
            try snapshot.restore()
            throw error
        }
        times.step = number
        times.total = Date().timeIntervalSince(stepStart)
        let result = try commit(plan, selection, temperature: t, search: search, report: report, dynamics: dynamics, times: times)
        scorer = usedScorer
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
}

/// Appends a step's record to `dir/dynamics.jsonl` and its times to `dir/timings.jsonl`.
func appendDynamics(_ record: DynamicsRecord, _ times: PhaseTimes, to dir: URL) throws {
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    try appendLine(try record.jsonLine(), to: dir.appendingPathComponent("dynamics.jsonl"))
    let e = JSONEncoder()
    e.outputFormatting = [.sortedKeys]
    try appendLine(String(decoding: try e.encode(times), as: UTF8.self), to: dir.appendingPathComponent("timings.jsonl"))
}

/// Appends one line and flushes it to disk (a crash keeps every completed step).
public func appendLine(_ line: String, to url: URL) throws {
    let fd = open(url.path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
    guard fd >= 0 else { throw SettingError(description: "cannot open \(url.path): \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    let bytes = Array((line + "\n").utf8)
    let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    guard written == bytes.count else { throw SettingError(description: "cannot write \(url.path): \(String(cString: strerror(errno)))") }
    fsync(fd)
}
