import MSTaRTasks

extension EvolutionSettings {
    /// Stage 4, label: the answer a prompt's responses are rewarded against, and where it came from.
    /// A labelled prompt has its gold answer; an unlabelled one gets none (labelled only), the
    /// majority answer of its K samples, the PRM-weighted vote (`prmScores` required) or, for
    /// analysis, its true answer.
    public func label(_ e: Example, from pool: Pool, answers: [Int?], prmScores: [Float]?) -> (label: Int?, source: LabelSource) {
        guard pool == .unlabelled else { return (e.answer, .gold) }
        switch promptVariation {
        case .labelled: return (nil, .gold)
        case .majority: return (majorityVote(answers), .majority)
        case .prmVote: return (weightedVote(answers, weights: prmScores ?? answers.map { _ in 1 }), .prmVote)
        case .oracle: return (e.answer, .oracle)
        }
    }
}
