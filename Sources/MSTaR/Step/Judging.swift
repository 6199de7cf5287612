import MSTaRModel
import MSTaRTasks
import MSTaRTensor

/// One prompt's responses as the reward and the selection see them.
public struct Judgement: Sendable {
    /// The answer each response ends with, if it has one.
    public var answers: [Int?]
    /// Each response decoded.
    public var texts: [String]
    /// The reward of each response: 1 when every reward piece the settings turn on accepts it, else 0.
    public var rewards: [Float]
    /// Indices of the responses kept for training, ascending (none under GRPO, which trains on every
    /// rollout, and none when the rule needs PRM scores that are missing).
    public var kept: [Int]
}

/// One piece of the reward, in the manner of TRL's reward functions: it sees a prompt's K
/// responses and accepts or refuses each. The reward is 1 when every piece accepts. A recipe turns
/// pieces on through its settings (`EvolutionSettings.rewardPieces`).
public enum RewardPiece: String, CaseIterable, Sendable {
    /// The answer equals the label (the outcome reward; always on).
    case outcome
    /// Every step holds on the chain's own reading (`StepVerifier.checkWithoutScene`): `step_check`.
    case stepCheck = "step_check"
    /// The chain's reading is the most common among the prompt's K samples (`commonReading`): `reading_vote`.
    case readingVote = "reading_vote"

    /// Refuses in `accepted` the responses this piece does not accept. `chains` are the parsed
    /// responses (needed by the two step pieces). The step check looks only at responses still
    /// accepted; the reading vote counts every response's reading.
    func refuse(in accepted: inout [Bool], answers: [Int?], chains: [[MSTaRTasks.Step]], label: Int?, kind: QuestionKind) {
        switch self {
        case .outcome:
            for j in accepted.indices where label == nil || answers[j] != label { accepted[j] = false }
        case .stepCheck:
            for j in accepted.indices where accepted[j] && !StepVerifier.checkWithoutScene(steps: chains[j], kind: kind) { accepted[j] = false }
        case .readingVote:
            for (j, common) in commonReading(chains.map { Chain.reading($0) }).enumerated() where !common { accepted[j] = false }
        }
    }
}

extension EvolutionSettings {
    /// The reward pieces these settings turn on, in order: the outcome, then the step check and the
    /// reading vote when on.
    public var rewardPieces: [RewardPiece] {
        [.outcome] + (stepCheck ? [.stepCheck] : []) + (readingVote ? [.readingVote] : [])
    }

    /// Stage 5, reward: each response's text and reward against `label`, given its `answers`
    /// (`answers(of:)`).
    public func reward(_ rollouts: [Rollout], answers: [Int?], for e: Example, label: Int?, tokenizer: Tokenizer) -> (texts: [String], rewards: [Float]) {
        let texts = rollouts.map { tokenizer.responseText($0.tokens) }
        let pieces = rewardPieces
        let chains = pieces.count > 1 ? texts.map(Chain.parse) : []
        var accepted = [Bool](repeating: true, count: rollouts.count)
        for piece in pieces { piece.refuse(in: &accepted, answers: answers, chains: chains, label: label, kind: e.kind) }
        return (texts, accepted.map { $0 ? 1 : 0 })
    }

    /// The answer each response ends with, if it has one (what the label and the reward compare).
    public func answers(of rollouts: [Rollout], tokenizer: Tokenizer) -> [Int?] {
        rollouts.map { AnswerExtractor.extract(ids: $0.tokens, tokenizer: tokenizer) }
    }

    /// Stage 6, select: which rewarded responses are kept for training, by the selection rule
    /// (`prmScores` are the aggregated PRM scores the PRM rules need; `oracle-steps` asks the
    /// oracle verifier about each response's steps).
    public func select(_ rollouts: [Rollout], texts: [String], rewards: [Float], for e: Example, prmScores: [Float]?, rng: inout RNG) -> [Int] {
        guard method != .grpo, !(selection.needsPRM && prmScores == nil) else { return [] }
        let stepsCorrect = selection == .oracleSteps ? texts.map { StepVerifier.verify($0, for: e).stepsCorrect } : nil
        return Selector(self).select(rewards: rewards, prmScores: prmScores, tokens: rollouts.map(\.tokens),
                                     stepsCorrect: stepsCorrect, rng: &rng)
    }

    /// Reward and selection together: the one function that both `Evolution.step` and the
    /// workbench's `sample --split` call, so that what `sample` shows as rewarded and kept is what
    /// a step would reward and keep.
    /// `answers` are the responses' answers when the caller already has them (the label stage does).
    public func judge(_ rollouts: [Rollout], for e: Example, label: Int?, prmScores: [Float]?,
                      tokenizer: Tokenizer, answers known: [Int?]? = nil, rng: inout RNG) -> Judgement {
        let answers = known ?? answers(of: rollouts, tokenizer: tokenizer)
        let r = reward(rollouts, answers: answers, for: e, label: label, tokenizer: tokenizer)
        let kept = select(rollouts, texts: r.texts, rewards: r.rewards, for: e, prmScores: prmScores, rng: &rng)
        return Judgement(answers: answers, texts: r.texts, rewards: r.rewards, kept: kept)
    }
}

/// What a step's label, reward and select stages produce: the records of every prompt, the
/// sequences to train on, GRPO's rollout groups, and how often pseudo-labels were right.
struct StepSelection {
    var records: [PromptRecord] = []
    var training: [TrainingSequence] = []
    var groups: [RolloutGroup] = []
    var pseudoRight = 0, pseudoTotal = 0
}

extension Evolution {
    /// Stages 4 to 6 for every prompt of the step: label, reward, select; the kept responses become
    /// training sequences (GRPO keeps every rollout with its reward instead).
    func judgeStep(_ scheduled: [ScheduledPrompt], prompts: [SamplePrompt], drawn: [[Rollout]], stepScores: [[[Float]?]]?) -> StepSelection {
        let s = settings
        var out = StepSelection()
        for (i, p) in scheduled.enumerated() {
            let e = p.example
            // Responses the score stage skipped are read by nothing here (see `score`).
            let scores = stepScores.map { $0[i].map { $0.map { prm!.aggregation.apply($0) } ?? 0 } }
            let answers = s.answers(of: drawn[i], tokenizer: tokenizer)
            let (label, source) = s.label(e, from: p.pool, answers: answers, prmScores: scores)
            if p.pool == .unlabelled && source != .oracle {
                out.pseudoTotal += 1
                out.pseudoRight += label != nil && label == e.answer ? 1 : 0
            }
            var rng = RNG(seed: derivedSeed(.selection, iteration: iteration), stream: UInt64(i))
            let judged = s.judge(drawn[i], for: e, label: label, prmScores: scores, tokenizer: tokenizer, answers: answers, rng: &rng)
            let kept = Set(judged.kept)
            let prompt = prompts[i].prompt
            for j in judged.kept { out.training.append(TrainingSequence(image: e.image, prompt: prompt, response: drawn[i][j].tokens)) }
            if s.method == .grpo { out.groups.append(RolloutGroup(image: e.image, prompt: prompt, rollouts: drawn[i], rewards: judged.rewards)) }
            out.records.append(PromptRecord(
                example: e, pool: p.pool.rawValue, label: label, labelSource: source,
                responses: drawn[i].enumerated().map { j, r in
                    ResponseRecord(tokens: r.tokens, text: judged.texts[j], answer: judged.answers[j], reward: judged.rewards[j],
                                   correct: e.answer != nil && judged.answers[j] == e.answer, logProbs: r.logProbs, entropy: r.meanEntropy,
                                   finished: r.finished, stepScores: stepScores?[i][j] ?? nil,
                                   prmScore: (stepScores?[i][j] ?? nil).map { prm!.aggregation.apply($0) },
                                   selected: kept.contains(j))
                }))
        }
        return out
    }
}
