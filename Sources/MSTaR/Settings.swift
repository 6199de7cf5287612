import Foundation
import MSTaRTensor

/// Factor 1: how the policy is trained from one iteration to the next.
public enum TrainingMethod: String, Codable, Sendable, CaseIterable {
    /// Continue from the last policy with a fresh optimizer; the whole prompt set each iteration.
    case iterativeRFT = "iterative-rft"
    /// Restart from the initial policy π0 each iteration, fresh optimizer; the whole prompt set.
    case restEM = "rest-em"
    /// Carry policy, optimizer state and LR schedule; `interval` of the prompt set per iteration.
    case continuous
    /// Plain SFT on the seed chain-of-thought set, no sampling (a baseline).
    case sft
    /// Online policy gradient with group-normalised advantages over the K samples (a baseline the
    /// study did not have).
    case grpo
}

/// Factor 2: which correct responses are kept for training.
public enum SelectionRule: String, Codable, Sendable, CaseIterable {
    /// Every response whose answer is right.
    case allCorrect = "all-correct"
    /// `select_k` responses drawn at random among the correct ones.
    case random
    /// Correct responses whose PRM score is at least `alpha`.
    case prmThreshold = "prm-threshold"
    /// The `select_k` correct responses with the highest PRM scores (the study's reranker).
    case prmTop = "prm-top"
    /// Correct responses whose every step the task suite's oracle verifier accepts: what a perfect
    /// PRM would keep. For analysis (an upper bound), like oracle labels for unlabelled prompts.
    case oracleSteps = "oracle-steps"

    /// Whether the rule needs a process reward model.
    public var needsPRM: Bool { self == .prmThreshold || self == .prmTop }
}

/// Factor 3: which prompts are used, and how unlabelled ones get their answers.
public enum PromptVariation: String, Codable, Sendable, CaseIterable {
    /// Labelled prompts only.
    case labelled
    /// Plus unlabelled prompts pseudo-labelled by majority vote over the K samples.
    case majority
    /// Plus unlabelled prompts pseudo-labelled by a vote weighted by PRM scores.
    case prmVote = "prm-vote"
    /// Plus unlabelled prompts with their true answers (analysis only: separates label noise from
    /// the effect of more prompts).
    case oracle

    /// Whether unlabelled prompts join the labelled ones.
    public var usesUnlabelled: Bool { self != .labelled }
}

/// How a response's step scores become one process score.
public enum Aggregation: String, Codable, Sendable, CaseIterable {
    /// The lowest step score (`min`), the mean of them (`mean`), or the last step's score (`last`).
    case min, mean, last

    /// The aggregate of `scores` (0 for an empty list).
    public func apply(_ scores: [Float]) -> Float {
        guard !scores.isEmpty else { return 0 }
        switch self {
        case .min: return scores.min()!
        case .mean: return scores.reduce(0, +) / Float(scores.count)
        case .last: return scores.last!
        }
    }
}

/// Monte-Carlo step labels: a step is good if rollouts from its prefix reach the gold answer.
public enum StepLabelKind: String, Codable, Sendable, CaseIterable {
    /// 1 if any of the N rollouts is correct.
    case hard
    /// The fraction of the N rollouts that are correct.
    case soft
}

/// What the dynamic temperature maximises.
public enum TemperatureCriterion: String, Codable, Sendable, CaseIterable {
    /// Reward-Pass@2: either of the two responses the reward ranks highest is correct.
    case rewardPassAt2 = "reward-pass@2"
    /// Pass@K: at least one of the K samples is correct.
    case passAtK = "pass@k"
}

/// Every setting of the method. Recipes fill them in; `set(_:to:)` changes one by name, with the
/// names the command language, journal and docs use.
public struct EvolutionSettings: Codable, Equatable, Sendable {
    // The loop.
    /// How the policy is trained from one iteration to the next (factor 1).
    public var method: TrainingMethod = .continuous
    /// Fraction of the prompt set per iteration (continuous); RFT and ReST-EM always use 1.
    public var interval: Double = 0.25
    /// Labelled prompts in the prompt set (taken in order from the labelled split).
    public var prompts: Int = 1024
    /// Passes over the prompt set that make a whole run; iterations = ceil(epochs / interval).
    public var epochs: Double = 2
    /// Samples per prompt.
    public var k: Int = 16
    /// Sampling temperature (the starting one when the dynamic temperature is on).
    public var temperature: Float = 1
    /// Most generated tokens per response.
    public var maxTokens: Int = 48

    // Training on the selection.
    /// Learning rate of training on the selection (constant).
    public var lr: Float = 1e-4
    /// Sequences per training batch (PRM training uses it too).
    public var batchSize: Int = 32
    /// Passes over each iteration's selected data.
    public var trainEpochs: Int = 1

    // Selection.
    /// Which correct responses are kept for training (factor 2).
    public var selection: SelectionRule = .allCorrect
    /// k of random-k and PRM top-k.
    public var selectK: Int = 2
    /// Threshold of prm-threshold.
    public var alpha: Float = 0.5
    /// Most responses kept per prompt (0 = no cap).
    public var perPromptCap: Int = 0
    /// Drop duplicate responses of a prompt before selecting (identical token sequences).
    public var dedupe: Bool = true
    /// Reward a right answer only when its steps pass `StepVerifier.checkWithoutScene`: a rule-based
    /// process check on the response alone (arithmetic, comparisons, counts, consistency).
    public var stepCheck: Bool {
        get { stepCheckOn ?? false }
        set { stepCheckOn = newValue ? true : nil }
    }
    /// Stored as nil when off, so settings saved before the option existed decode unchanged and
    /// settings without it encode to the same bytes as before.
    private var stepCheckOn: Bool?
    /// Reward a right answer only when its reading (`read` and `height` steps) is the most common among
    /// the prompt's K samples (`commonReading`): a vote on perception that needs no scene facts.
    public var readingVote: Bool {
        get { readingVoteOn ?? false }
        set { readingVoteOn = newValue ? true : nil }
    }
    private var readingVoteOn: Bool?

    // Process reward model.
    /// How a response's step scores become its PRM score.
    public var prmAggregation: Aggregation = .min
    /// Monte-Carlo step labels: soft (share of rollouts correct) or hard (any correct).
    public var prmLabels: StepLabelKind = .soft
    /// Rollouts N from each step prefix for Monte-Carlo labels.
    public var prmRollouts: Int = 4
    /// Labelled prompts whose samples are labelled for PRM training (taken after the prompt set).
    public var prmPrompts: Int = 384
    /// Responses sampled per PRM training prompt.
    public var prmSamples: Int = 4
    /// Passes over the step-labelled responses in PRM training.
    public var prmEpochs: Int = 3
    /// Learning rate of PRM training (constant).
    public var prmLR: Float = 3e-4

    // Prompt variation.
    /// Which prompts are used and how unlabelled ones get labels (factor 3).
    public var promptVariation: PromptVariation = .labelled
    /// Unlabelled prompts added when prompt variation uses them.
    public var unlabelledPrompts: Int = 512
    /// T_mixin: fraction of the run after which unlabelled prompts join (0 = from the start).
    public var mixin: Double = 0

    // Dynamics.
    /// Validation prompts the dynamics monitor uses each iteration.
    public var dynamicsPrompts: Int = 128
    /// K of Pass@K and majority@K in the dynamics.
    public var dynamicsK: Int = 16

    // Dynamic temperature.
    /// Whether the temperature is re-chosen by search every `temperatureEvery` iterations.
    public var dynamicTemperature: Bool = false
    /// Re-choose the temperature every this many iterations.
    public var temperatureEvery: Int = 2
    /// Lowest candidate temperature of the search.
    public var temperatureMin: Float = 0.3
    /// Highest candidate temperature of the search.
    public var temperatureMax: Float = 1.6
    /// Spacing of the candidate temperatures.
    public var temperatureStep: Float = 0.1
    /// The metric the temperature search maximises.
    public var temperatureCriterion: TemperatureCriterion = .rewardPassAt2
    /// Validation prompts used to compare candidate temperatures.
    public var temperaturePrompts: Int = 32

    // GRPO.
    /// ε of GRPO's clipped ratio: the ratio is clamped to [1 − ε, 1 + ε].
    public var grpoClip: Float = 0.2
    /// β of the KL penalty to the initial policy (0 = none).
    public var grpoKL: Float = 0
    /// Prompts per GRPO update.
    public var grpoPromptsPerUpdate: Int = 16

    /// The default settings (those of the `continuous` recipe).
    public init() {}

    /// Iterations in a whole run.
    public var iterations: Int { Swift.max(1, Int((epochs / effectiveInterval - 1e-9).rounded(.up))) }

    /// Fraction of the prompt set used per iteration.
    public var effectiveInterval: Double {
        method == .iterativeRFT || method == .restEM ? 1 : interval
    }

    /// Candidate temperatures of the dynamic temperature, from min to max in steps.
    public var candidateTemperatures: [Float] {
        guard temperatureStep > 0, temperatureMax >= temperatureMin else { return [temperatureMin] }
        let n = Int(Double(temperatureMax - temperatureMin) / Double(temperatureStep) + 1e-4) + 1
        // Computed from integers so 0.3 + 13·0.1 prints as 1.6, not 1.5999999.
        return (0..<n).map { Float((Double(temperatureMin) * 1000 + Double($0) * Double(temperatureStep) * 1000).rounded() / 1000) }
    }

    /// Whether a PRM must exist before a step runs.
    public var needsPRM: Bool { method != .sft && method != .grpo && (selection.needsPRM || promptVariation == .prmVote) }
}

/// A setting name the engine does not know, or a value it cannot take.
public struct SettingError: Error, CustomStringConvertible {
    /// The message: what is wrong and, for a bad name or value, what is allowed.
    public var description: String
}

extension EvolutionSettings {
    /// Every setting's name, as `set NAME VALUE` takes it, in display order (from `table`).
    public static let names: [String] = table.map(\.name)

    /// The allowed values of an enumerated setting or a flag (for help and completion).
    public static func choices(_ name: String) -> [String]? {
        switch byName[name]?.kind {
        case .choice(let names): return names
        case .flag: return ["on", "off"]
        default: return nil
        }
    }

    /// The value of setting `name`, as text.
    public func value(_ name: String) throws -> String {
        try Self.descriptor(name).value(in: self)
    }

    /// Sets `name` from text; a bad name or value throws an error that says what is allowed.
    public mutating func set(_ name: String, to text: String) throws {
        try Self.descriptor(name).set(text, in: &self)
    }

    /// Checks settings read from a file (a saved run's evolution.json) as `set` would have: each value
    /// in its range, and the candidate temperatures an interval from low to high.
    public func validate() throws {
        var probe = EvolutionSettings()
        for d in Self.table { try d.set(d.value(in: self), in: &probe) }
        if let problem = temperatureRangeProblem { throw SettingError(description: problem) }
    }

    /// What is wrong with temperature_min and temperature_max together, or nil.
    public var temperatureRangeProblem: String? {
        temperatureMin <= temperatureMax ? nil
            : "temperature_min \(formatNumber(Double(temperatureMin))) is above temperature_max \(formatNumber(Double(temperatureMax)))"
    }

    static func unknown(_ name: String) -> SettingError {
        let hint = Suggest.closest(to: name, in: names).map { "; did you mean '\($0)'?" } ?? ""
        return SettingError(description: "unknown setting '\(name)'\(hint) ('show settings' lists them)")
    }
}
