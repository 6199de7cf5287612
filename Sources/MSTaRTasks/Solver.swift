/// The oracle: the canonical chain of thought and the gold answer for a question about known facts.
public enum Solver {
    /// The gold answer to `kind` on a scene with `facts` (nil for captions).
    public static func answer(_ kind: QuestionKind, facts: SceneFacts) -> Int? {
        guard case .answer(let a)? = steps(kind, facts: facts).last else { return nil }
        return a
    }

    /// The canonical steps: reading first, then one operation per step, then `answer`.
    public static func steps(_ kind: QuestionKind, facts: SceneFacts) -> [Step] {
        var steps = facts.reads.map { Step.read($0) }
        if !facts.heights.isEmpty { steps.append(.height(facts.heights)) }
        let digits = facts.reads.flatMap { $0 }

        // Left-to-right running sum of `values`; `answer` of the total (0 for no values).
        func runningSum(_ values: [Int]) {
            guard var acc = values.first else { steps.append(.answer(0)); return }
            for v in values.dropFirst() {
                steps.append(.arithmetic(acc, .plus, v, acc + v))
                acc += v
            }
            steps.append(.answer(acc))
        }

        switch kind {
        case .caption:
            break
        case .sum:
            runningSum(digits)
        case .range:
            let hi = digits.max() ?? 0, lo = digits.min() ?? 0
            steps += [.largest(hi), .smallest(lo), .arithmetic(hi, .minus, lo, hi - lo), .answer(hi - lo)]
        case .countAbove, .countBelow, .countEqual:
            let kept = digits.filter(kind.keeps)
            steps += [.keep(kept), .count(kept.count), .answer(kept.count)]
        case .difference:
            let n = facts.numbers
            guard n.count == 2 else { return steps }
            let hi = max(n[0], n[1]), lo = min(n[0], n[1])
            steps += [.compare(n[0], .between(n[0], n[1]), n[1]), .arithmetic(hi, .minus, lo, hi - lo),
                      .answer(hi - lo)]
        case .total:
            runningSum(facts.numbers)
        case .chartTotal:
            runningSum(facts.heights)
        case .chartAbove, .chartBelow:
            let kept = zip(digits, facts.heights).filter { kind.keeps($0.0) }.map(\.1)
            steps.append(.keep(kept))
            runningSum(kept)
        }
        return steps
    }

    /// The canonical chain as text.
    public static func chain(_ kind: QuestionKind, facts: SceneFacts) -> String { Chain.render(steps(kind, facts: facts)) }
}
