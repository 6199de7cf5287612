/// The four task families; each renders its own kind of scene and asks its own questions.
public enum Family: String, Sendable, NamedCase, CaseIterable, Codable, Hashable {
    /// A row of 2 to 6 digits: sum, or largest minus smallest.
    case arithmetic
    /// A 3x5 grid of digits with empty cells: how many digits pass a test.
    case counting
    /// Two multi-digit numbers, one above the other: their difference or sum.
    case comparison
    /// A bar chart with digit labels: total height of the bars, or of those whose label passes a test.
    case chart

    public static let caseKind = "family"
}

/// Difficulty: levels 1 to 3 appear in training; `.ood` is harder and only in the OOD split.
public enum Level: Int, Sendable, CaseIterable, Codable, Hashable, Comparable, CustomStringConvertible {
    case one = 1, two = 2, three = 3
    /// Out of distribution: more items or larger numbers than any training level.
    case ood = 4

    /// The levels training splits use.
    public static let inDistribution: [Level] = [.one, .two, .three]

    public var description: String { self == .ood ? "ood" : String(rawValue) }

    public static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }
}
