/// Named presets of every setting: the study's final recipe and the methods it compared.
public enum Recipe: String, CaseIterable, Sendable {
    /// warm-up (the pre-evolved policy) → continuous self-evolving at interval 0.25 → outcome filter
    /// and PRM top-2 among correct → labelled prompts only → dynamic temperature by Reward-Pass@2.
    case mstar
    /// `mstar` with the two rule-based checks in the reward (`stepCheck`, `readingVote`): the
    /// configuration of the headline result (README, "The result").
    case mstarStepChecks = "mstar-step-checks"
    /// Iterative RFT: the last policy, a fresh optimizer and the whole prompt set each iteration, all correct.
    case iterativeRFT = "iterative-rft"
    /// ReST-EM: restart from π0 each iteration with a fresh optimizer, the whole prompt set, all correct.
    case restEM = "rest-em"
    /// Continuous self-evolving at interval 0.25, all correct: the default settings.
    case continuous
    /// Continuous at interval 0.25 with PRM top-2 among correct, at a fixed temperature.
    case continuousPRM = "continuous+prm"
    /// Online GRPO at interval 0.25, learning rate 5e-5, K = 8.
    case grpo
    /// Plain SFT on the seed chains of thought, interval 0.25 of them per iteration (no sampling).
    case sft

    /// One line for `help recipe`.
    public var summary: String {
        switch self {
        case .mstar: return "continuous (interval 0.25), PRM top-2 among correct, labelled only, dynamic temperature"
        case .mstarStepChecks: return "mstar with step_check and reading_vote: rewarded steps must hold on the chain's own, common reading"
        case .iterativeRFT: return "last policy, fresh optimizer, whole prompt set per iteration, all correct"
        case .restEM: return "restart from the initial policy each iteration, fresh optimizer, all correct"
        case .continuous: return "carry policy, optimizer and schedule, interval 0.25, all correct"
        case .continuousPRM: return "continuous (interval 0.25) with PRM top-2 among correct, fixed temperature"
        case .grpo: return "online GRPO: group-normalised advantages over K samples, clipped ratio"
        case .sft: return "plain SFT on the seed chain-of-thought set (no sampling)"
        }
    }

    /// The settings of this recipe, starting from the defaults.
    public var settings: EvolutionSettings {
        var s = EvolutionSettings()
        switch self {
        case .mstar:
            s.method = .continuous; s.interval = 0.25
            s.selection = .prmTop; s.selectK = 2
            s.dynamicTemperature = true
        case .mstarStepChecks:
            s = Recipe.mstar.settings
            s.stepCheck = true; s.readingVote = true
        case .iterativeRFT:
            s.method = .iterativeRFT; s.interval = 1
        case .restEM:
            s.method = .restEM; s.interval = 1
        case .continuous:
            s.method = .continuous; s.interval = 0.25
        case .continuousPRM:
            s.method = .continuous; s.interval = 0.25
            s.selection = .prmTop; s.selectK = 2
        case .grpo:
            s.method = .grpo; s.interval = 0.25; s.lr = 5e-5; s.k = 8
        case .sft:
            s.method = .sft; s.interval = 0.25
        }
        return s
    }

    /// Parses a recipe name, or throws listing the names.
    public init(name: String) throws {
        guard let r = Recipe(rawValue: name) else {
            throw SettingError(description: "unknown recipe '\(name)'; recipes: \(Recipe.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        self = r
    }
}
