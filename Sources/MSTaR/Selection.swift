import MSTaRTensor

/// Which of one prompt's responses are kept for training.
///
/// The outcome reward filters first (only responses with the right answer can be kept); then the
/// rule picks among them, and `cap` bounds what one prompt contributes. With `dedupe`, identical
/// responses count once, so a prompt the policy answers the same way K times does not flood the
/// training set with one sequence.
public struct Selector: Sendable {
    /// The rule that picks among the rewarded responses.
    public var rule: SelectionRule
    /// How many responses `random` and `prm-top` keep (fewer when fewer are rewarded).
    public var k: Int
    /// PRM score a response needs under `prm-threshold`, 0…1.
    public var alpha: Float
    /// Most responses kept per prompt (0 = no cap).
    public var cap: Int
    /// Whether identical responses count once before the rule applies.
    public var dedupe: Bool

    /// Creates a selector from its fields.
    public init(rule: SelectionRule, k: Int = 2, alpha: Float = 0.5, cap: Int = 0, dedupe: Bool = true) {
        self.rule = rule; self.k = k; self.alpha = alpha; self.cap = cap; self.dedupe = dedupe
    }

    /// The selector that a run's settings describe.
    public init(_ s: EvolutionSettings) {
        self.init(rule: s.selection, k: s.selectK, alpha: s.alpha, cap: s.perPromptCap, dedupe: s.dedupe)
    }

    /// Indices of the kept responses, in ascending order. `prmScores` is required by the PRM rules,
    /// `stepsCorrect` (the oracle's verdict on each response's steps) by `oracle-steps`.
    public func select(rewards: [Float], prmScores: [Float]?, tokens: [[Int]], stepsCorrect: [Bool]? = nil, rng: inout RNG) -> [Int] {
        var candidates = rewards.indices.filter { rewards[$0] > 0 }
        if dedupe {
            var seen = Set<[Int]>()
            candidates = candidates.filter { seen.insert(tokens[$0]).inserted }
        }
        var kept: [Int]
        switch rule {
        case .allCorrect:
            kept = candidates
        case .random:
            var pool = candidates
            rng.shuffle(&pool)
            kept = Array(pool.prefix(k))
        case .prmThreshold:
            let s = prmScores!
            kept = candidates.filter { s[$0] >= alpha }
        case .prmTop:
            let s = prmScores!
            kept = topIndices(candidates.map { s[$0] }, k).map { candidates[$0] }
        case .oracleSteps:
            let ok = stepsCorrect!
            kept = candidates.filter { ok[$0] }
        }
        if cap > 0, kept.count > cap {
            // Keep the best-scored when scores exist, else the first drawn.
            if let s = prmScores {
                kept = topIndices(kept.map { s[$0] }, cap).map { kept[$0] }
            } else {
                kept = Array(kept.prefix(cap))
            }
        }
        return kept.sorted()
    }
}
