import MSTaRTensor

/// One question of a real multimodal reasoning dataset (MathVista, M3CoT, ScienceQA, LLaVA
/// conversations), in one shape whatever layout it came in.
///
/// Separate from `Example`: a digit-task example carries scene facts and a verifiable chain,
/// while a real item has only a question, an optional image, and a gold answer that free text
/// is matched against (`FreeTextAnswer.isCorrect`).
public struct ReasoningItem: Sendable, Equatable {
    /// The record's id (`pid` in MathVista), or where it stands in the file when the layout has none.
    public var id: String
    /// The question as the dataset writes it (LLaVA's `<image>` tag removed).
    public var question: String
    /// The checked image, when the item has one.
    public var image: ImageInfo?
    /// The gold answer as text; for multiple choice, the letter ("A", "B", ...) of the right choice.
    public var answer: String
    /// The choices of a multiple-choice question, in order (letters A, B, C... name them); empty otherwise.
    public var choices: [String]
    /// How a response is compared with `answer`.
    public var answerType: AnswerType
    /// Decimal places a float answer is compared at (MathVista's `precision`); nil: as many as `answer` has.
    public var precision: Int?
    /// The layout's other fields kept as text (`question_type`, `unit`, `rationale`, `hint`, `metadata.source`, ...).
    public var metadata: [String: String]

    public init(id: String, question: String, image: ImageInfo? = nil, answer: String, choices: [String] = [],
                answerType: AnswerType, precision: Int? = nil, metadata: [String: String] = [:]) {
        self.id = id
        self.question = question
        self.image = image
        self.answer = answer
        self.choices = choices
        self.answerType = answerType
        self.precision = precision
        self.metadata = metadata
    }

    /// Whether `response` states this item's gold answer (`FreeTextAnswer.isCorrect`).
    public func isCorrect(_ response: String) -> Bool {
        FreeTextAnswer.isCorrect(response, gold: answer, type: answerType, precision: precision, choices: choices)
    }

    /// The letter that names choice `index` ("A" for 0).
    public static func letter(_ index: Int) -> String {
        String(UnicodeScalar(UInt8(65 + min(max(index, 0), 25))))
    }
}

/// The four parts a real dataset is cut into, as the digit suite's splits of the same names.
public enum DatasetSplit: String, Sendable, CaseIterable, Codable {
    /// Prompts trained on with their gold answers.
    case labelled
    /// Prompts whose answers the method does not see.
    case unlabelled
    /// Temperature search and dynamics.
    case validation
    /// Final scores.
    case test
}

/// What share of a dataset goes to each split; labelled takes what the others leave.
public struct SplitFractions: Sendable, Equatable {
    public var unlabelled: Double
    public var validation: Double
    public var test: Double
    /// 1 minus the other three.
    public var labelled: Double { 1 - unlabelled - validation - test }

    /// 70% labelled, 10% validation, 20% test, nothing unlabelled.
    public static let standard = SplitFractions(uncheckedUnlabelled: 0, validation: 0.1, test: 0.2)

    /// Fractions from 0 to 1 that add up to at most 1.
    public init(unlabelled: Double, validation: Double, test: Double) throws {
        for (name, v) in [("unlabelled", unlabelled), ("validation", validation), ("test", test)] {
            guard v.isFinite, v >= 0, v <= 1 else { throw TasksError.invalid("--\(name) must be a fraction from 0 to 1; got \(v)") }
        }
        guard unlabelled + validation + test <= 1 + 1e-9 else {
            throw TasksError.invalid("--unlabelled, --validation and --test add up to \(unlabelled + validation + test); "
                + "they must leave 0 or more for labelled (at most 1 in all)")
        }
        self.init(uncheckedUnlabelled: unlabelled, validation: validation, test: test)
    }

    private init(uncheckedUnlabelled: Double, validation: Double, test: Double) {
        self.unlabelled = uncheckedUnlabelled
        self.validation = validation
        self.test = test
    }

    /// How many of `n` items each split gets: each fraction times `n`, rounded, test first, then
    /// validation, then unlabelled, each at most what is left; labelled takes the rest.
    public func counts(_ n: Int) -> [DatasetSplit: Int] {
        var left = n
        var out = [DatasetSplit: Int]()
        for (split, f) in [(DatasetSplit.test, test), (.validation, validation), (.unlabelled, unlabelled)] {
            let k = min(left, Int((Double(n) * f).rounded()))
            out[split] = k
            left -= k
        }
        out[.labelled] = left
        return out
    }

    /// The split of each of `n` items: a seeded shuffle of 0..<n, whose first positions go to test,
    /// then validation, unlabelled and labelled, in the sizes `counts(n)` gives. The same seed and
    /// `n` give the same splits on any machine (the project's own generator, `RNG`).
    public func assign(_ n: Int, seed: UInt64) -> [DatasetSplit] {
        var rng = RNG(seed: seed, stream: SplitFractions.stream)
        let order = rng.permutation(n)
        let c = counts(n)
        var out = [DatasetSplit](repeating: .labelled, count: n)
        var position = 0
        for split in [DatasetSplit.test, .validation, .unlabelled] {
            for _ in 0..<c[split]! {
                out[order[position]] = split
                position += 1
            }
        }
        return out
    }

    /// The random stream of dataset splits ("DSET"); changing it changes every split.
    static let stream: UInt64 = 0x4453_4554
}

/// A loaded real dataset: its items, the records that were skipped and why, and its splits.
public struct ReasoningDataset: Sendable {
    /// The layout it was read in.
    public var format: DatasetFormat
    /// The file it was read from, as given.
    public var file: String
    /// The valid records, in file order (a dict keyed by id: in key order).
    public var items: [ReasoningItem]
    /// The records that were skipped, in file order.
    public var badRecords: [BadRecord]
    /// The seed the splits were drawn with.
    public var seed: UInt64
    /// The fractions the splits were cut with.
    public var fractions: SplitFractions
    /// The split of each item (`splits[i]` is `items[i]`'s).
    public var splits: [DatasetSplit]

    public init(format: DatasetFormat, file: String, items: [ReasoningItem], badRecords: [BadRecord],
                seed: UInt64, fractions: SplitFractions) {
        self.format = format
        self.file = file
        self.items = items
        self.badRecords = badRecords
        self.seed = seed
        self.fractions = fractions
        self.splits = fractions.assign(items.count, seed: seed)
    }

    /// The items of `split`, in file order.
    public func items(in split: DatasetSplit) -> [ReasoningItem] {
        zip(items, splits).filter { $0.1 == split }.map(\.0)
    }
}
