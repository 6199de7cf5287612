import MSTaRModel
import MSTaRTasks
import MSTaRTensor

/// One prompt's responses as the reward and the selection see them.
public struct Judgement: Sendable {
    /// The answer each response ends with, if it has one.
    public var answers: [Int?]
    /// Each response decoded.
    public var texts: [String]
    /// The reward of each response: 1 when its answer is the label and the checks the settings turn
    /// on pass, else 0.
    public var rewards: [Float]
    /// Indices of the responses kept for training, ascending (none under GRPO, which trains on every
    /// rollout, and none when the rule needs PRM scores that are missing).
    public var kept: [Int]
}

extension EvolutionSettings {
    /// Rewards one prompt's responses against `label` and selects among them: the one function that
    /// both `Evolution.step` and the workbench's `sample --split` call, so that what `sample` shows
    /// as rewarded and kept is what a step would reward and keep.
    ///
    /// The reward is the outcome (the answer equals `label`); with `stepCheck`, the chain's steps must
    /// also pass the checks that need no scene, and with `readingVote` its reading must be the most
    /// common one among the K responses. `prmScores` are the aggregated PRM scores, required by the
    /// PRM selection rules; `oracle-steps` asks the oracle verifier about each response's steps.
    public func judge(_ rollouts: [Rollout], for e: Example, label: Int?, prmScores: [Float]?,
                      tokenizer: Tokenizer, rng: inout RNG) -> Judgement {
        let answers = rollouts.map { AnswerExtractor.extract(ids: $0.tokens, tokenizer: tokenizer) }
        let texts = rollouts.map { tokenizer.responseText($0.tokens) }
        let steps = stepCheck || readingVote ? texts.map(Chain.parse) : []
        let common = readingVote ? commonReading(steps.map(Chain.reading)) : nil
        let rewards: [Float] = answers.indices.map { j in
            guard label != nil, answers[j] == label else { return 0 }
            if stepCheck && !StepVerifier.checkWithoutScene(steps: steps[j], kind: e.kind) { return 0 }
            return common?[j] == false ? 0 : 1
        }
        var kept: [Int] = []
        if method != .grpo && !(selection.needsPRM && prmScores == nil) {
            let stepsCorrect = selection == .oracleSteps ? texts.map { StepVerifier.verify($0, for: e).stepsCorrect } : nil
            kept = Selector(self).select(rewards: rewards, prmScores: prmScores, tokens: rollouts.map(\.tokens),
                                         stepsCorrect: stepsCorrect, rng: &rng)
        }
        return Judgement(answers: answers, texts: texts, rewards: rewards, kept: kept)
    }
}
