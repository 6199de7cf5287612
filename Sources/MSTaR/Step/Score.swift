import MSTaRModel
import MSTaRTasks
import MSTaRTensor

extension Evolution {
    /// Stage 3, score: the PRM's step scores of the responses something reads, when selection or
    /// the pseudo-label vote needs them (nil otherwise): `[prompt][response]`, nil for a response
    /// nothing reads. The PRM-weighted vote reads every response of an unlabelled prompt; the PRM
    /// selection rules read only the rewarded responses (their candidates), whose reward does not
    /// depend on the PRM. `scored(_:)` scores the others when a record is shown.
    func score(_ prompts: [ScheduledPrompt], _ drawn: [[Rollout]]) throws -> [[[Float]?]]? {
        let s = settings
        guard let prm, s.selection.needsPRM || s.promptVariation == .prmVote else { return nil }
        let read: [[Bool]] = zip(prompts, drawn).map { p, rs in
            if p.pool == .unlabelled && s.promptVariation == .prmVote { return rs.map { _ in true } }
            guard s.selection.needsPRM else { return rs.map { _ in false } }
            let answers = s.answers(of: rs, tokenizer: tokenizer)
            let label = s.label(p.example, from: p.pool, answers: answers, prmScores: nil).label
            return s.reward(rs, answers: answers, for: p.example, label: label, tokenizer: tokenizer).rewards.map { $0 > 0 }
        }
        var items: [(example: Example, tokens: [Int])] = []
        for (i, p) in prompts.enumerated() { for (j, r) in drawn[i].enumerated() where read[i][j] { items.append((p.example, r.tokens)) } }
        var flat = try (stepScorer ?? prm).stepScores(items).makeIterator()
        return read.map { $0.map { $0 ? flat.next()! : nil } }
    }

    /// `record` (a prompt of the last step) with every response's PRM scores, scoring those the
    /// step did not need with the PRM the step used; as it is when that step used no PRM.
    public func scored(_ record: PromptRecord) throws -> PromptRecord {
        guard let scorer, record.responses.contains(where: { $0.stepScores == nil }) else { return record }
        var out = record
        let missing = record.responses.indices.filter { record.responses[$0].stepScores == nil }
        let steps = try scorer.stepScores(missing.map { (record.example, record.responses[$0].tokens) })
        for (j, sc) in zip(missing, steps) {
            out.responses[j].stepScores = sc
            out.responses[j].prmScore = scorer.aggregation.apply(sc)
        }
        return out
    }
}
