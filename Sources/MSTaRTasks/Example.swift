/// The facts about a scene that the oracle needs: the true digits and bar heights.
public struct SceneFacts: Sendable, Equatable, Hashable, Codable {
    /// True digits of each `read` step in reading order: one group for rows, grids and charts (the bar
    /// labels), two for comparison scenes (top number, then bottom number).
    public var reads: [[Int]]
    /// True bar heights left to right (charts only; empty otherwise).
    public var heights: [Int]

    public init(reads: [[Int]], heights: [Int] = []) {
        self.reads = reads
        self.heights = heights
    }

    /// Each read group as a decimal number ("4 7" is 47), as comparison questions use them.
    public var numbers: [Int] { reads.map(Self.number) }

    /// The number whose decimal digits are `digits`.
    public static func number(_ digits: [Int]) -> Int { digits.reduce(0) { $0 * 10 + $1 } }
}

/// What a learner may see of an example's target: the whole chain, the answer only, or nothing.
public enum Annotation: String, Sendable, Codable, CaseIterable {
    /// The chain of thought is given (seed CoT set, captions, text corpora, evaluation references).
    case chain
    /// Only the final answer is given (labelled prompts).
    case answer
    /// Nothing is given (unlabelled prompts); `answer` and `chain` remain for oracle experiments.
    case none
}

/// One prompt with its scene, gold answer, canonical chain of thought and the facts the verifier needs.
public struct Example: Sendable, Equatable {
    /// Unique within a suite, e.g. "test-000042".
    public var id: String
    /// The task family.
    public var family: Family
    /// Difficulty; `.ood` only in the OOD split.
    public var level: Level
    /// What the question asks.
    public var kind: QuestionKind
    /// The question words (text-only prompts start with the facts, e.g. "given 3 7 5 what is ...").
    public var question: String
    /// The scene; nil for text-only pretraining prompts.
    public var image: Canvas?
    /// Gold final answer; nil for captions, which ask for reading only.
    public var answer: Int?
    /// The canonical chain of thought (for captions: the reading steps).
    public var chain: String
    /// What a learner may see of `chain` and `answer`.
    public var annotation: Annotation
    /// Ground truth for the step verifier.
    public var facts: SceneFacts
    /// Bank indices of the handwritten digit images drawn in `image` (empty when unknown or text-only).
    public var sourceImages: [Int]

    public init(id: String, family: Family, level: Level, kind: QuestionKind, question: String, image: Canvas?,
                answer: Int?, chain: String, annotation: Annotation, facts: SceneFacts, sourceImages: [Int] = []) {
        self.id = id
        self.family = family
        self.level = level
        self.kind = kind
        self.question = question
        self.image = image
        self.answer = answer
        self.chain = chain
        self.annotation = annotation
        self.facts = facts
        self.sourceImages = sourceImages
    }

    /// The canonical chain parsed into steps.
    public var steps: [Step] { Chain.parse(chain) }

    /// The target text a learner may train on: the chain, "answer N", or nil when nothing is given.
    public var visibleTarget: String? {
        switch annotation {
        case .chain: return chain
        case .answer: return answer.map { "answer \($0)" }
        case .none: return nil
        }
    }
}
