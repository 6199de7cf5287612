import Foundation

/// An arithmetic operator in a chain step.
public enum Operator: String, Sendable, CaseIterable, Codable {
    case plus = "+", minus = "-"

    /// The operator applied to two integers.
    public func apply(_ a: Int, _ b: Int) -> Int { self == .plus ? a + b : a - b }
}

/// A comparison in a chain step.
public enum Relation: String, Sendable, CaseIterable, Codable {
    case greater = ">", less = "<", equal = "="

    /// Whether `a rel b` holds.
    public func holds(_ a: Int, _ b: Int) -> Bool {
        switch self {
        case .greater: return a > b
        case .less: return a < b
        case .equal: return a == b
        }
    }

    /// The relation that holds between `a` and `b`.
    public static func between(_ a: Int, _ b: Int) -> Relation { a > b ? .greater : a < b ? .less : .equal }
}

/// One step of a chain of thought; steps are separated by " ; " in text.
public enum Step: Sendable, Equatable, CustomStringConvertible {
    /// `read 3 7 5`: digits read from the scene (one step per number in comparison scenes).
    case read([Int])
    /// `height 2 4 1`: bar heights read from a chart, left to right.
    case height([Int])
    /// `keep 7 8` or `keep none`: the digits (or bar heights) that pass the question's test.
    case keep([Int])
    /// `count 2`: how many values the previous `keep` kept.
    case count(Int)
    /// `largest 7`: the largest digit read.
    case largest(Int)
    /// `smallest 3`: the smallest digit read.
    case smallest(Int)
    /// `47 > 25`: a comparison of two numbers.
    case compare(Int, Relation, Int)
    /// `3 + 7 = 10`: one arithmetic operation with its claimed result.
    case arithmetic(Int, Operator, Int, Int)
    /// `answer 15`: the final answer.
    case answer(Int)
    /// A step that fits none of the forms above, kept verbatim.
    case malformed(String)

    /// The step in the canonical grammar.
    public var description: String {
        func list(_ xs: [Int]) -> String { xs.map(String.init).joined(separator: " ") }
        switch self {
        case .read(let d): return "read \(list(d))"
        case .height(let h): return "height \(list(h))"
        case .keep(let k): return k.isEmpty ? "keep none" : "keep \(list(k))"
        case .count(let n): return "count \(n)"
        case .largest(let n): return "largest \(n)"
        case .smallest(let n): return "smallest \(n)"
        case .compare(let a, let r, let b): return "\(a) \(r.rawValue) \(b)"
        case .arithmetic(let a, let op, let b, let c): return "\(a) \(op.rawValue) \(b) = \(c)"
        case .answer(let n): return "answer \(n)"
        case .malformed(let s): return s
        }
    }

    /// Whether this is a reading step (`read` or `height`), checked against the scene itself.
    public var isReading: Bool {
        switch self {
        case .read, .height: return true
        default: return false
        }
    }
}

/// Chains of thought as text: the separator, rendering and a parser that accepts any text.
public enum Chain {
    /// The step separator as it appears between steps.
    public static let separator = " ; "

    /// Steps joined in the canonical grammar, e.g. `read 3 7 ; 3 + 7 = 10 ; answer 10`.
    public static func render(_ steps: [Step]) -> String { steps.map(\.description).joined(separator: separator) }

    /// The text of each step, split at ";" and trimmed; empty pieces are dropped.
    public static func split(_ text: String) -> [String] {
        text.split(separator: ";").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
    }

    /// Parses text into steps; pieces that fit no step form become `.malformed`, so this never fails.
    public static func parse(_ text: String) -> [Step] {
        text.split(separator: ";").compactMap { piece in
            let tokens = lex(String(piece))
            return tokens.isEmpty ? nil : parseStep(tokens, raw: piece.trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }

    /// What a chain read from the scene: its `read` and `height` steps in the canonical grammar (nil if
    /// it has none). Two chains that read the scene alike have the same reading.
    public static func reading(_ text: String) -> String? { reading(parse(text)) }

    /// The reading of a chain already parsed into `steps`.
    public static func reading(_ steps: [Step]) -> String? {
        let read = steps.filter {
            switch $0 { case .read, .height: return true; default: return false }
        }
        return read.isEmpty ? nil : render(read)
    }

    private static func parseStep(_ lx: [Lexeme], raw: String) -> Step {
        var tokens = lx
        // A trailing full stop ends a sentence, not a step form.
        if tokens.count > 1, tokens.last == .symbol(".") { tokens.removeLast() }
        func numbers(_ s: ArraySlice<Lexeme>) -> [Int]? {
            var out = [Int]()
            for t in s { guard case .number(let n) = t else { return nil }; out.append(n) }
            return out
        }
        if case .word(let w) = tokens.first {
            let rest = tokens.dropFirst()
            switch w {
            case "read": if let d = numbers(rest), !d.isEmpty { return .read(d) }
            case "height": if let h = numbers(rest), !h.isEmpty { return .height(h) }
            case "keep":
                if rest.count == 1, rest.first == .word("none") { return .keep([]) }
                if let k = numbers(rest), !k.isEmpty { return .keep(k) }
            case "count": if let n = numbers(rest), n.count == 1 { return .count(n[0]) }
            case "largest": if let n = numbers(rest), n.count == 1 { return .largest(n[0]) }
            case "smallest": if let n = numbers(rest), n.count == 1 { return .smallest(n[0]) }
            case "answer":
                var r = rest
                while let f = r.first, f == .symbol(":") || f == .word("is") || f == .symbol("=") { r = r.dropFirst() }
                if let n = numbers(r), n.count == 1 { return .answer(n[0]) }
            default: break
            }
            return .malformed(raw)
        }
        if tokens.count == 3, case .number(let a) = tokens[0], case .symbol(let s) = tokens[1],
           case .number(let b) = tokens[2], let rel = Relation(rawValue: String(s)) {
            return .compare(a, rel, b)
        }
        if tokens.count == 5, case .number(let a) = tokens[0], case .symbol(let s) = tokens[1],
           case .number(let b) = tokens[2], tokens[3] == .symbol("="), case .number(let c) = tokens[4],
           let op = Operator(rawValue: String(s)) {
            return .arithmetic(a, op, b, c)
        }
        return .malformed(raw)
    }
}
