import Foundation

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
    /// Every setting's name, as `set NAME VALUE` takes it, in display order.
    public static let names: [String] = [
        "method", "interval", "prompts", "epochs", "k", "temperature", "max_tokens",
        "lr", "batch_size", "train_epochs",
        "selection", "select_k", "alpha", "per_prompt_cap", "dedupe", "step_check", "reading_vote",
        "prm_aggregation", "prm_labels", "prm_rollouts", "prm_prompts", "prm_samples", "prm_epochs", "prm_lr",
        "prompt_variation", "unlabelled_prompts", "mixin",
        "dynamics_prompts", "dynamics_k",
        "dynamic_temperature", "temperature_every", "temperature_min", "temperature_max", "temperature_step",
        "temperature_criterion", "temperature_prompts",
        "grpo_clip", "grpo_kl", "grpo_prompts_per_update",
    ]

    /// The allowed values of an enumerated setting (for help and completion).
    public static func choices(_ name: String) -> [String]? {
        switch name {
        case "method": return TrainingMethod.allCases.map(\.rawValue)
        case "selection": return SelectionRule.allCases.map(\.rawValue)
        case "prm_aggregation": return Aggregation.allCases.map(\.rawValue)
        case "prm_labels": return StepLabelKind.allCases.map(\.rawValue)
        case "prompt_variation": return PromptVariation.allCases.map(\.rawValue)
        case "temperature_criterion": return TemperatureCriterion.allCases.map(\.rawValue)
        case "dedupe", "step_check", "reading_vote", "dynamic_temperature": return ["on", "off"]
        default: return nil
        }
    }

    /// The value of setting `name`, as text.
    public func value(_ name: String) throws -> String {
        func f(_ x: Float) -> String { formatNumber(Double(x)) }
        func d(_ x: Double) -> String { formatNumber(x) }
        func b(_ x: Bool) -> String { x ? "on" : "off" }
        switch name {
        case "method": return method.rawValue
        case "interval": return d(interval)
        case "prompts": return String(prompts)
        case "epochs": return d(epochs)
        case "k": return String(k)
        case "temperature": return f(temperature)
        case "max_tokens": return String(maxTokens)
        case "lr": return f(lr)
        case "batch_size": return String(batchSize)
        case "train_epochs": return String(trainEpochs)
        case "selection": return selection.rawValue
        case "select_k": return String(selectK)
        case "alpha": return f(alpha)
        case "per_prompt_cap": return String(perPromptCap)
        case "dedupe": return b(dedupe)
        case "step_check": return b(stepCheck)
        case "reading_vote": return b(readingVote)
        case "prm_aggregation": return prmAggregation.rawValue
        case "prm_labels": return prmLabels.rawValue
        case "prm_rollouts": return String(prmRollouts)
        case "prm_prompts": return String(prmPrompts)
        case "prm_samples": return String(prmSamples)
        case "prm_epochs": return String(prmEpochs)
        case "prm_lr": return f(prmLR)
        case "prompt_variation": return promptVariation.rawValue
        case "unlabelled_prompts": return String(unlabelledPrompts)
        case "mixin": return d(mixin)
        case "dynamics_prompts": return String(dynamicsPrompts)
        case "dynamics_k": return String(dynamicsK)
        case "dynamic_temperature": return b(dynamicTemperature)
        case "temperature_every": return String(temperatureEvery)
        case "temperature_min": return f(temperatureMin)
        case "temperature_max": return f(temperatureMax)
        case "temperature_step": return f(temperatureStep)
        case "temperature_criterion": return temperatureCriterion.rawValue
        case "temperature_prompts": return String(temperaturePrompts)
        case "grpo_clip": return f(grpoClip)
        case "grpo_kl": return f(grpoKL)
        case "grpo_prompts_per_update": return String(grpoPromptsPerUpdate)
        default: throw Self.unknown(name)
        }
    }

    /// Sets `name` from text; a bad name or value throws an error that says what is allowed.
    public mutating func set(_ name: String, to text: String) throws {
        func int(_ lo: Int, _ hi: Int = .max) throws -> Int {
            guard let v = Int(text), v >= lo, v <= hi else {
                throw SettingError(description: "\(name) takes a whole number \(hi == .max ? "of at least \(lo)" : "from \(lo) to \(hi)"), not '\(text)'")
            }
            return v
        }
        func real(_ lo: Double, _ hi: Double, openLow: Bool = false) throws -> Double {
            guard let v = Double(text), v.isFinite, openLow ? v > lo : v >= lo, v <= hi else {
                throw SettingError(description: "\(name) takes a number \(openLow ? "above" : "from") \(formatNumber(lo)) \(openLow ? "up to" : "to") \(formatNumber(hi)), not '\(text)'")
            }
            return v
        }
        func choice<E: RawRepresentable & CaseIterable>(_: E.Type) throws -> E where E.RawValue == String {
            guard let v = E(rawValue: text) else {
                throw SettingError(description: "\(name) is one of \(E.allCases.map(\.rawValue).joined(separator: ", ")), not '\(text)'")
            }
            return v
        }
        func flag() throws -> Bool {
            switch text.lowercased() {
            case "on", "true", "yes", "1": return true
            case "off", "false", "no", "0": return false
            default: throw SettingError(description: "\(name) is on or off, not '\(text)'")
            }
        }
        switch name {
        case "method": method = try choice(TrainingMethod.self)
        case "interval": interval = try real(0.001, 1)
        case "prompts": prompts = try int(1, 1_000_000)
        case "epochs": epochs = try real(0, 1000, openLow: true)
        case "k": k = try int(1, 256)
        case "temperature": temperature = Float(try real(0, 10))
        case "max_tokens": maxTokens = try int(2, 64)
        case "lr": lr = Float(try real(0, 1))
        case "batch_size": batchSize = try int(1, 4096)
        case "train_epochs": trainEpochs = try int(1, 100)
        case "selection": selection = try choice(SelectionRule.self)
        case "select_k": selectK = try int(1, 256)
        case "alpha": alpha = Float(try real(0, 1))
        case "per_prompt_cap": perPromptCap = try int(0, 256)
        case "dedupe": dedupe = try flag()
        case "step_check": stepCheck = try flag()
        case "reading_vote": readingVote = try flag()
        case "prm_aggregation": prmAggregation = try choice(Aggregation.self)
        case "prm_labels": prmLabels = try choice(StepLabelKind.self)
        case "prm_rollouts": prmRollouts = try int(1, 256)
        case "prm_prompts": prmPrompts = try int(1, 1_000_000)
        case "prm_samples": prmSamples = try int(1, 256)
        case "prm_epochs": prmEpochs = try int(1, 100)
        case "prm_lr": prmLR = Float(try real(0, 1))
        case "prompt_variation": promptVariation = try choice(PromptVariation.self)
        case "unlabelled_prompts": unlabelledPrompts = try int(0, 1_000_000)
        case "mixin": mixin = try real(0, 1)
        case "dynamics_prompts": dynamicsPrompts = try int(1, 1_000_000)
        case "dynamics_k": dynamicsK = try int(2, 256)
        case "dynamic_temperature": dynamicTemperature = try flag()
        case "temperature_every": temperatureEvery = try int(1, 1_000_000)
        case "temperature_min": temperatureMin = Float(try real(0, 10))
        case "temperature_max": temperatureMax = Float(try real(0, 10))
        case "temperature_step": temperatureStep = Float(try real(0.001, 10))
        case "temperature_criterion": temperatureCriterion = try choice(TemperatureCriterion.self)
        case "temperature_prompts": temperaturePrompts = try int(1, 1_000_000)
        case "grpo_clip": grpoClip = Float(try real(0, 10))
        case "grpo_kl": grpoKL = Float(try real(0, 100))
        case "grpo_prompts_per_update": grpoPromptsPerUpdate = try int(1, 1_000_000)
        default: throw Self.unknown(name)
        }
    }

    /// Checks settings read from a file (a saved run's evolution.json) as `set` would have: each value
    /// in its range, and the candidate temperatures an interval from low to high.
    public func validate() throws {
        var probe = EvolutionSettings()
        for name in Self.names { try probe.set(name, to: try value(name)) }
        if let problem = temperatureRangeProblem { throw SettingError(description: problem) }
    }

    /// What is wrong with temperature_min and temperature_max together, or nil.
    public var temperatureRangeProblem: String? {
        temperatureMin <= temperatureMax ? nil
            : "temperature_min \(formatNumber(Double(temperatureMin))) is above temperature_max \(formatNumber(Double(temperatureMax)))"
    }

    static func unknown(_ name: String) -> SettingError {
        let close = names.min { editDistance($0, name) < editDistance($1, name) }
        let hint = close.map { editDistance($0, name) <= 3 ? "; did you mean '\($0)'?" : "" } ?? ""
        return SettingError(description: "unknown setting '\(name)'\(hint) ('show settings' lists them)")
    }
}

/// Shortest text that reads back as the same number ("0.25", "16", "0.0002").
public func formatNumber(_ x: Double) -> String {
    if x == x.rounded(), abs(x) < 1e15 { return String(Int(x)) }
    return String(Float(x)) == String(x) ? String(x) : String(Float(x))
}

/// Levenshtein distance, for "did you mean" hints.
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    var row = Array(0...b.count)
    for i in 1...Swift.max(a.count, 1) where !a.isEmpty {
        var prev = row[0]
        row[0] = i
        for j in stride(from: 1, through: b.count, by: 1) {
            let cur = row[j]
            row[j] = Swift.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] == b[j - 1] ? 0 : 1))
            prev = cur
        }
    }
    return row[b.count]
}
