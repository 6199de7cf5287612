/// The oracle's judgement of one step.
public enum StepVerdict: String, Sendable, Codable, CaseIterable {
    /// True for the scene and following from earlier steps.
    case correct
    /// A `read` or `height` step that differs from what the scene shows.
    case wrongReading
    /// A computation that is false for its own inputs: a sum or difference, a comparison, largest or
    /// smallest, the digits kept by a test, or a count.
    case wrongArithmetic
    /// Uses numbers no earlier step established, is a step the question does not call for or comes out
    /// of order, or gives an answer other than the result the chain derived.
    case inconsistent
    /// Text that fits no step form.
    case malformed
}

/// The verifier's report on one chain of thought.
public struct Verification: Sendable, Equatable {
    /// The parsed steps.
    public var steps: [Step]
    /// One verdict per step.
    public var verdicts: [StepVerdict]
    /// Index of the first step that is not correct; `steps.count` when every step is correct but the
    /// chain stops before its answer (or, for captions, before reading everything); nil if all is right.
    public var firstWrongStep: Int?
    /// The final answer `AnswerExtractor` finds in the text (nil: no answer).
    public var answer: Int?
    /// Whether `answer` equals the gold answer.
    public var answerCorrect: Bool

    /// Every step correct and the chain complete.
    public var stepsCorrect: Bool { firstWrongStep == nil }
    /// A right answer reached through at least one wrong or missing step.
    public var rightAnswerWrongReasoning: Bool { answerCorrect && firstWrongStep != nil }
}

/// Checks each step of a chain against the scene facts, arithmetic, and the steps before it.
public enum StepVerifier {
    /// Verifies `text` as an answer to `example`.
    public static func verify(_ text: String, for example: Example) -> Verification {
        verify(text, kind: example.kind, facts: example.facts, gold: example.answer)
    }

    /// Verifies generated token ids (read up to the first `<eos>`) as an answer to `example`.
    public static func verify(ids: [Int], for example: Example, tokenizer: Tokenizer = .standard) -> Verification {
        verify(tokenizer.responseText(ids), for: example)
    }

    /// Verifies `text` as an answer to a `kind` question about a scene with `facts`.
    public static func verify(_ text: String, kind: QuestionKind, facts: SceneFacts, gold: Int?) -> Verification {
        let steps = Chain.parse(text)
        let (verdicts, first) = judge(steps, kind: kind, facts: facts)
        let answer = AnswerExtractor.extract(text)
        return Verification(steps: steps, verdicts: verdicts, firstWrongStep: first, answer: answer,
                            answerCorrect: gold != nil && answer == gold)
    }

    /// Each step's verdict, and the first step that is not correct (`steps.count` for a chain that
    /// stops early; nil when all is right).
    private static func judge(_ steps: [Step], kind: QuestionKind, facts: SceneFacts) -> (verdicts: [StepVerdict], first: Int?) {
        var state = State(kind: kind, facts: facts)
        let verdicts = steps.map { state.judge($0) }
        var first = verdicts.firstIndex { $0 != .correct }
        if first == nil, !state.complete { first = steps.count }
        return (verdicts, first)
    }

    /// What the chain has established so far.
    private struct State {
        let kind: QuestionKind
        let facts: SceneFacts
        var reads: [[Int]] = []
        var heights: [Int]?
        var kept: [Int]?
        var counted: Int?
        var largest: Int?
        var smallest: Int?
        var compared = false
        var computed = false       // any step after reading
        var answered = false
        /// Values arithmetic may use; each use consumes one, each result adds one.
        var pool: [Int] = []

        init(kind: QuestionKind, facts: SceneFacts) {
            self.kind = kind
            self.facts = facts
        }

        var needsHeights: Bool { kind.family == .chart || (kind == .caption && !facts.heights.isEmpty) }
        var readingDone: Bool { reads.count == facts.reads.count && (!needsHeights || heights != nil) }
        var claimedDigits: [Int] { reads.flatMap { $0 } }

        var complete: Bool { kind == .caption ? readingDone : answered }

        /// The value the answer must equal, if the chain has derived one.
        var derived: Int? {
            switch kind {
            case .caption: return nil
            case .countAbove, .countBelow, .countEqual: return counted
            case .range: return largest != nil && smallest != nil && pool.count == 1 ? pool[0] : nil
            case .chartAbove, .chartBelow:
                guard let k = kept else { return nil }
                if k.isEmpty && pool.isEmpty { return 0 }
                return pool.count == 1 ? pool[0] : nil
            default: return readingDone && pool.count == 1 ? pool[0] : nil
            }
        }

        mutating func readingFinished() {
            switch kind {
            case .sum: pool = claimedDigits
            case .difference, .total: pool = reads.map(SceneFacts.number)
            case .chartTotal: pool = heights ?? []
            default: pool = []
            }
        }

        mutating func judge(_ step: Step) -> StepVerdict {
            if answered { return .inconsistent }  // nothing may follow the answer
            switch step {
            case .malformed:
                return .malformed

            case .read(let digits):
                guard reads.count < facts.reads.count, heights == nil, !computed else { return .inconsistent }
                let verdict: StepVerdict = digits == facts.reads[reads.count] ? .correct : .wrongReading
                reads.append(digits)
                if readingDone { readingFinished() }
                return verdict

            case .height(let h):
                guard needsHeights, heights == nil, reads.count == facts.reads.count, !computed else {
                    return .inconsistent
                }
                heights = h
                readingFinished()
                return h == facts.heights ? .correct : .wrongReading

            case .keep(let values):
                guard kind.filters, readingDone, kept == nil else { return .inconsistent }
                computed = true
                let isChart = kind.family == .chart
                let source = isChart ? (heights ?? []) : claimedDigits
                let expected = isChart
                    ? zip(claimedDigits, heights ?? []).filter { kind.keeps($0.0) }.map(\.1)
                    : claimedDigits.filter(kind.keeps)
                kept = values
                if isChart { pool = values }
                guard isSubMultiset(values, of: source) else { return .inconsistent }
                return values.sorted() == expected.sorted() ? .correct : .wrongArithmetic

            case .count(let n):
                guard kind.family == .counting, let k = kept, counted == nil else { return .inconsistent }
                counted = n
                return n == k.count ? .correct : .wrongArithmetic

            case .largest(let x), .smallest(let x):
                let isLargest: Bool = { if case .largest = step { return true } else { return false } }()
                guard kind == .range, readingDone, (isLargest ? largest : smallest) == nil, !claimedDigits.isEmpty
                else { return .inconsistent }
                computed = true
                if isLargest { largest = x } else { smallest = x }
                pool.append(x)
                let truth = isLargest ? claimedDigits.max()! : claimedDigits.min()!
                return x == truth ? .correct : .wrongArithmetic

            case .compare(let a, let rel, let b):
                guard kind == .difference, readingDone, !compared,
                      [a, b].sorted() == reads.map(SceneFacts.number).sorted() else { return .inconsistent }
                computed = true
                compared = true
                return rel.holds(a, b) ? .correct : .wrongArithmetic

            case .arithmetic(let a, let op, let b, let c):
                let allowed: Operator
                switch kind {
                case .sum, .total, .chartTotal, .chartAbove, .chartBelow: allowed = .plus
                case .range, .difference: allowed = .minus
                default: return .inconsistent
                }
                guard readingDone, op == allowed, !kind.filters || kept != nil else { return .inconsistent }
                if kind == .range && (largest == nil || smallest == nil) { return .inconsistent }
                // The question asks for the larger minus the smaller.
                if op == .minus && a < b { return .inconsistent }
                var rest = pool
                guard let i = rest.firstIndex(of: a) else { return .inconsistent }
                rest.remove(at: i)
                guard let j = rest.firstIndex(of: b) else { return .inconsistent }
                rest.remove(at: j)
                computed = true
                pool = rest + [c]
                return op.apply(a, b) == c ? .correct : .wrongArithmetic

            case .answer(let v):
                answered = true
                guard let d = derived else { return .inconsistent }
                return v == d ? .correct : .inconsistent
            }
        }

        private func isSubMultiset(_ xs: [Int], of ys: [Int]) -> Bool {
            var rest = ys
            for x in xs {
                guard let i = rest.firstIndex(of: x) else { return false }
                rest.remove(at: i)
            }
            return true
        }
    }
}

extension StepVerifier {
    /// Whether every step of `text` holds given only what the chain itself read: its arithmetic,
    /// comparisons, kept digits and counts are true for its own inputs, it uses no number it did not
    /// establish, and it answers what it derived. This needs no scene facts and no gold answer (only
    /// the question kind, which the prompt states), so a run may use it on any prompt, like a
    /// calculator would; a misreading passes, since only the scene can show it.
    public static func checkWithoutScene(_ text: String, kind: QuestionKind) -> Bool {
        checkWithoutScene(steps: Chain.parse(text), kind: kind)
    }

    /// `checkWithoutScene` of a chain already parsed into `steps`.
    public static func checkWithoutScene(steps: [Step], kind: QuestionKind) -> Bool {
        guard let family = kind.family else { return false }
        var reads: [[Int]] = [], heights: [Int]?
        for step in steps {
            switch step {
            case .read(let d): reads.append(d)
            case .height(let h) where heights == nil: heights = h
            default: break
            }
        }
        // The scene's shape follows from the family: two numbers to compare, or one row of digits
        // (with as many bar heights as labels for charts).
        guard reads.count == (family == .comparison ? 2 : 1), !reads[0].isEmpty else { return false }
        if family == .chart { guard let h = heights, h.count == reads[0].count else { return false } }
        let claimed = SceneFacts(reads: reads, heights: family == .chart ? heights! : [])
        return judge(steps, kind: kind, facts: claimed).first == nil
    }
}
