/// The named splits a suite builds from one seed.
public enum SplitName: String, Sendable, NamedCase, CaseIterable, Codable, Hashable {
    /// Pretraining: scene captions, reading only ("what is in the image ?" -> "read 3 7 5").
    case captions
    /// Pretraining: text-only prompts with the facts in words and the full chain.
    case text
    /// The scarce seed chain-of-thought set: prompts with written chains.
    case seed
    /// Prompts with gold answers only.
    case labelled
    /// Prompts whose answers are hidden (kept in the examples for oracle experiments).
    case unlabelled
    /// Held-out prompts for temperature selection and dynamics (validation handwriting).
    case validation
    /// Held-out prompts for final scores (test handwriting).
    case test
    /// The out-of-distribution level of every family (test handwriting); training never sees it.
    case ood

    public static let caseKind = "split"

    /// The handwriting pool its scenes draw from.
    public var pool: HandwritingPool {
        switch self {
        case .captions, .text, .seed, .labelled, .unlabelled: return .train
        case .validation: return .validation
        case .test, .ood: return .test
        }
    }

    /// What a learner may see of the targets in this split.
    public var annotation: Annotation {
        switch self {
        case .labelled: return .answer
        case .unlabelled: return .none
        default: return .chain
        }
    }

    /// Whether scenes are rendered (false only for the text-only corpus).
    public var hasImages: Bool { self != .text }

    /// Small code used to derive this split's random streams.
    var streamCode: UInt64 { UInt64(SplitName.allCases.firstIndex(of: self)! + 1) }
}

/// How many examples each split holds; families and levels are balanced within every split.
public struct SplitSizes: Sendable, Equatable, Codable {
    /// Scene captions (pretraining).
    public var captions: Int
    /// Text-only prompts (pretraining).
    public var text: Int
    /// Prompts with written chains.
    public var seed: Int
    /// Prompts with gold answers only.
    public var labelled: Int
    /// Prompts with hidden answers.
    public var unlabelled: Int
    /// Validation prompts.
    public var validation: Int
    /// Test prompts.
    public var test: Int
    /// Out-of-distribution prompts.
    public var ood: Int

    public init(captions: Int = 4000, text: Int = 4000, seed: Int = 300, labelled: Int = 4000,
                unlabelled: Int = 4000, validation: Int = 400, test: Int = 800, ood: Int = 400) {
        self.captions = captions
        self.text = text
        self.seed = seed
        self.labelled = labelled
        self.unlabelled = unlabelled
        self.validation = validation
        self.test = test
        self.ood = ood
    }

    /// The default sizes (see docs/tasks.md).
    public static let standard = SplitSizes()

    /// The size of `split`.
    public subscript(split: SplitName) -> Int {
        get {
            switch split {
            case .captions: return captions
            case .text: return text
            case .seed: return seed
            case .labelled: return labelled
            case .unlabelled: return unlabelled
            case .validation: return validation
            case .test: return test
            case .ood: return ood
            }
        }
        set {
            switch split {
            case .captions: captions = newValue
            case .text: text = newValue
            case .seed: seed = newValue
            case .labelled: labelled = newValue
            case .unlabelled: unlabelled = newValue
            case .validation: validation = newValue
            case .test: test = newValue
            case .ood: ood = newValue
            }
        }
    }
}
