import MSTaRTensor

/// Every split of the task suite, generated from one seed.
///
/// Example `i` of a split depends only on (seed, split, i): it draws from its own random stream, so
/// sizes can change without changing the examples they share, and `example(_:index:)` costs one
/// render. Family is `i % 4` and level `(i / 4) % 3 + 1` (OOD split: level `.ood`).
public struct TaskSuite: Sendable {
    /// The seed everything derives from.
    public let seed: UInt64
    /// Split sizes used by `examples(_:family:)`.
    public let sizes: SplitSizes
    /// The disjoint handwriting pools.
    public let handwriting: HandwritingSplit
    /// Draws the scenes.
    public let renderer: SceneRenderer

    /// A suite over `bank` with handwriting pools and every example derived from `seed`.
    public init(seed: UInt64, sizes: SplitSizes = .standard, bank: DigitBank, style: RenderStyle = .standard) throws {
        for s in SplitName.allCases where sizes[s] < 0 {
            throw TasksError.invalid("split \(s.rawValue) has negative size \(sizes[s])")
        }
        self.seed = seed
        self.sizes = sizes
        handwriting = try HandwritingSplit(bank: bank, seed: seed)
        renderer = SceneRenderer(bank: bank, handwriting: handwriting, style: style)
    }

    /// A suite over the digits at `digitsPath` (default: found by `DigitBank.locate()`).
    public init(seed: UInt64, sizes: SplitSizes = .standard, digitsPath: String? = nil,
                style: RenderStyle = .standard) throws {
        try self.init(seed: seed, sizes: sizes, bank: try DigitBank.load(path: digitsPath), style: style)
    }

    /// The family of example `index` in any split.
    public static func family(at index: Int) -> Family { Family.allCases[index % Family.allCases.count] }

    /// The level of example `index` in `split`.
    public static func level(at index: Int, in split: SplitName) -> Level {
        split == .ood ? .ood : Level.inDistribution[(index / Family.allCases.count) % Level.inDistribution.count]
    }

    /// Example `index` of `split` (valid for any index >= 0, also beyond the split's size).
    public func example(_ split: SplitName, index: Int) -> Example { laidOutExample(split, index: index).example }

    /// Example `index` of `split` and where its digits were pasted (empty for text-only examples).
    public func laidOutExample(_ split: SplitName, index: Int) -> (example: Example, placements: [DigitPlacement]) {
        precondition(index >= 0, "example index must be >= 0")
        let family = Self.family(at: index)
        let level = Self.level(at: index, in: split)
        var rng = RNG(seed: seed, stream: split.streamCode << 40 | UInt64(index))
        let (kind, facts) = TaskGenerator.content(family, level: level, rng: &rng)
        let id = "\(split.rawValue)-" + String(repeating: "0", count: max(0, 6 - String(index).count)) + String(index)

        switch split {
        case .captions:
            let (image, sources, placements) = renderer.renderLaidOut(family, facts: facts, pool: split.pool, rng: &rng)
            return (Example(id: id, family: family, level: level, kind: .caption, question: QuestionKind.caption.text,
                           image: image, answer: nil, chain: Solver.chain(.caption, facts: facts),
                           annotation: .chain, facts: facts, sourceImages: sources), placements)
        case .text:
            return (Example(id: id, family: family, level: level, kind: kind,
                           question: TaskGenerator.factsText(family, facts: facts) + " " + kind.text,
                           image: nil, answer: Solver.answer(kind, facts: facts),
                           chain: Solver.chain(kind, facts: facts), annotation: .chain, facts: facts), [])
        default:
            let (image, sources, placements) = renderer.renderLaidOut(family, facts: facts, pool: split.pool, rng: &rng)
            return (Example(id: id, family: family, level: level, kind: kind, question: kind.text, image: image,
                           answer: Solver.answer(kind, facts: facts), chain: Solver.chain(kind, facts: facts),
                           annotation: split.annotation, facts: facts, sourceImages: sources), placements)
        }
    }

    /// All examples of `split`, optionally only those of one family, in index order.
    public func examples(_ split: SplitName, family: Family? = nil) -> [Example] {
        let n = sizes[split]
        let families = Family.allCases.count
        let indices = family.map { f in
            stride(from: Family.allCases.firstIndex(of: f)!, to: n, by: families).map { $0 }
        } ?? Array(0..<n)
        return indices.map { example(split, index: $0) }
    }
}
