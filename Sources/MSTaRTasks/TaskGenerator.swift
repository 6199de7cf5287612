import MSTaRTensor

/// Draws the content of a task (question kind and scene facts) for a family and level.
///
/// | family     | level 1        | level 2          | level 3              | ood                      |
/// |------------|----------------|------------------|----------------------|--------------------------|
/// | arithmetic | 2 digits       | 3 digits         | 4-5 digits           | 6 digits                 |
/// | counting   | 3-4 digits     | 5-7 digits       | 8-10 digits          | 12-15 digits             |
/// | comparison | 2- vs 1-digit  | 2- vs 2-digit    | 2-digit carry/borrow | 100-199 vs 10-199        |
/// | chart      | 2 bars, all    | 3 bars           | 4 bars, filtered     | 5-6 bars                 |
public enum TaskGenerator {
    /// A question kind and the facts of a scene that answers it.
    public static func content(_ family: Family, level: Level, rng: inout RNG) -> (kind: QuestionKind, facts: SceneFacts) {
        switch family {
        case .arithmetic:
            let n: Int
            switch level {
            case .one: n = 2
            case .two: n = 3
            case .three: n = rng.int(in: 4...5)
            case .ood: n = 6
            }
            let digits = (0..<n).map { _ in rng.int(below: 10) }
            return (rng.int(below: 2) == 0 ? .sum : .range, SceneFacts(reads: [digits]))

        case .counting:
            let n: Int
            switch level {
            case .one: n = rng.int(in: 3...4)
            case .two: n = rng.int(in: 5...7)
            case .three: n = rng.int(in: 8...10)
            case .ood: n = rng.int(in: 12...15)
            }
            let digits = (0..<n).map { _ in rng.int(below: 10) }
            let kind: QuestionKind
            switch rng.int(below: 3) {
            case 0: kind = .countAbove(rng.int(in: 2...7))
            case 1: kind = .countBelow(rng.int(in: 3...8))
            default:
                // Mostly ask about a digit that is there, so counts are not nearly always 0.
                kind = .countEqual(rng.uniform() < 0.7 ? digits[rng.int(below: n)] : rng.int(below: 10))
            }
            return (kind, SceneFacts(reads: [digits]))

        case .comparison:
            // Sums stay within the number tokens (0...199), so the OOD level asks only differences.
            let kind: QuestionKind = level == .ood || rng.int(below: 2) == 0 ? .difference : .total
            var a: Int, b: Int
            switch level {
            case .one: a = rng.int(in: 10...99); b = rng.int(in: 0...9)
            case .two: a = rng.int(in: 10...99); b = rng.int(in: 10...99)
            case .three:
                // A carry (sum) or a borrow (difference) in the units.
                repeat {
                    a = rng.int(in: 10...99); b = rng.int(in: 10...99)
                } while kind == .total ? a % 10 + b % 10 < 10 : max(a, b) % 10 >= min(a, b) % 10
            case .ood: a = rng.int(in: 100...199); b = rng.int(in: 10...199)
            }
            if rng.int(below: 2) == 0 { swap(&a, &b) }
            return (kind, SceneFacts(reads: [digitsOf(a), digitsOf(b)]))

        case .chart:
            let n: Int
            switch level {
            case .one: n = 2
            case .two: n = 3
            case .three: n = 4
            case .ood: n = rng.int(in: 5...6)
            }
            let labels = (0..<n).map { _ in rng.int(below: 10) }
            let heights = (0..<n).map { _ in rng.int(in: 1...5) }
            let pick = level == .one ? 0 : level == .three ? 1 + rng.int(below: 2) : rng.int(below: 3)
            let kind: QuestionKind = pick == 0 ? .chartTotal
                : pick == 1 ? .chartAbove(rng.int(in: 2...7)) : .chartBelow(rng.int(in: 3...8))
            return (kind, SceneFacts(reads: [labels], heights: heights))
        }
    }

    /// The facts stated in words, put before the question of a text-only prompt.
    public static func factsText(_ family: Family, facts: SceneFacts) -> String {
        func list(_ xs: [Int]) -> String { xs.map(String.init).joined(separator: " ") }
        switch family {
        case .arithmetic, .counting: return "given \(list(facts.reads.flatMap { $0 }))"
        case .comparison: return "given " + facts.reads.map(list).joined(separator: " and ")
        case .chart: return "given labels \(list(facts.reads.flatMap { $0 })) heights \(list(facts.heights))"
        }
    }

    /// Decimal digits of a non-negative number, most significant first.
    public static func digitsOf(_ n: Int) -> [Int] { String(n).compactMap { $0.wholeNumberValue } }
}
