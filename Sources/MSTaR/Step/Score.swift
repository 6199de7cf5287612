import MSTaRModel
import MSTaRTasks
import MSTaRTensor

extension Evolution {
    /// Stage 3, score: the PRM's step scores of every response, when selection or the pseudo-label
    /// vote needs them (nil otherwise): `[prompt][response][step]`.
    func score(_ prompts: [ScheduledPrompt], _ drawn: [[Rollout]]) throws -> [[[Float]]]? {
        let s = settings
        guard let prm, s.selection.needsPRM || s.promptVariation == .prmVote else { return nil }
        let flat = try prm.stepScores(zip(prompts, drawn).flatMap { p, rs in rs.map { (p.example, $0.tokens) } })
        return (0..<prompts.count).map { Array(flat[($0 * s.k)..<(($0 + 1) * s.k)]) }
    }
}
