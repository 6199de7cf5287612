/// What a prompt asks, with its parameter; the question text is a fixed template per kind.
public enum QuestionKind: Sendable, Equatable, Hashable {
    /// Reading only (pretraining captions): "what is in the image ?"
    case caption
    /// Arithmetic row: "what is the sum of the digits ?"
    case sum
    /// Arithmetic row: "what is the largest digit minus the smallest ?"
    case range
    /// Counting grid: "how many digits are greater than T ?"
    case countAbove(Int)
    /// Counting grid: "how many digits are less than T ?"
    case countBelow(Int)
    /// Counting grid: "how many digits are equal to D ?"
    case countEqual(Int)
    /// Comparison: "what is the difference between the two numbers ?" (larger minus smaller)
    case difference
    /// Comparison: "what is the sum of the two numbers ?"
    case total
    /// Chart: "what is the total height of the bars ?"
    case chartTotal
    /// Chart: "what is the total height of bars labelled above T ?"
    case chartAbove(Int)
    /// Chart: "what is the total height of bars labelled below T ?"
    case chartBelow(Int)

    /// The family that asks this kind of question (nil for captions, which every family has).
    public var family: Family? {
        switch self {
        case .caption: return nil
        case .sum, .range: return .arithmetic
        case .countAbove, .countBelow, .countEqual: return .counting
        case .difference, .total: return .comparison
        case .chartTotal, .chartAbove, .chartBelow: return .chart
        }
    }

    /// The question as words separated by single spaces.
    public var text: String {
        switch self {
        case .caption: return "what is in the image ?"
        case .sum: return "what is the sum of the digits ?"
        case .range: return "what is the largest digit minus the smallest ?"
        case .countAbove(let t): return "how many digits are greater than \(t) ?"
        case .countBelow(let t): return "how many digits are less than \(t) ?"
        case .countEqual(let d): return "how many digits are equal to \(d) ?"
        case .difference: return "what is the difference between the two numbers ?"
        case .total: return "what is the sum of the two numbers ?"
        case .chartTotal: return "what is the total height of the bars ?"
        case .chartAbove(let t): return "what is the total height of bars labelled above \(t) ?"
        case .chartBelow(let t): return "what is the total height of bars labelled below \(t) ?"
        }
    }

    /// The test a digit (or bar label) must pass to be kept, for the kinds that filter.
    public func keeps(_ value: Int) -> Bool {
        switch self {
        case .countAbove(let t), .chartAbove(let t): return value > t
        case .countBelow(let t), .chartBelow(let t): return value < t
        case .countEqual(let d): return value == d
        default: return true
        }
    }

    /// Whether the canonical chain has a `keep` step.
    public var filters: Bool {
        switch self {
        case .countAbove, .countBelow, .countEqual, .chartAbove, .chartBelow: return true
        default: return false
        }
    }

    /// Recognises the question at the end of `text` (text-only prompts put the facts before it).
    public init?(text: String) {
        let words = text.lowercased().split(whereSeparator: \.isWhitespace).map(String.init)
        func ends(_ template: String) -> Bool {
            let t = template.split(separator: " ").map(String.init)
            return words.count >= t.count && Array(words.suffix(t.count)) == t
        }
        // Fixed templates first, then the ones with a number before the "?".
        for k in [QuestionKind.caption, .sum, .range, .difference, .total, .chartTotal] where ends(k.text) {
            self = k
            return
        }
        guard words.count >= 2, words.last == "?", let n = Int(words[words.count - 2]) else { return nil }
        for k in [QuestionKind.countAbove(n), .countBelow(n), .countEqual(n), .chartAbove(n), .chartBelow(n)]
        where ends(k.text) {
            self = k
            return
        }
        return nil
    }
}
