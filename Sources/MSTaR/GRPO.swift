import Foundation
import MSTaRModel
import MSTaRTasks
import MSTaRTensor

/// One prompt's K samples with their rewards, as GRPO consumes them.
public struct RolloutGroup {
    /// The prompt's scene (nil for text-only prompts).
    public var image: Canvas?
    /// Prompt ids the rollouts continue.
    public var prompt: [Int]
    /// The K sampled responses, with the sampler's log-probabilities.
    public var rollouts: [Rollout]
    /// Each rollout's reward (1 or 0), in rollout order.
    public var rewards: [Float]

    /// A group from its fields.
    public init(image: Canvas?, prompt: [Int], rollouts: [Rollout], rewards: [Float]) {
        self.image = image; self.prompt = prompt; self.rollouts = rollouts; self.rewards = rewards
    }
}

/// Group-normalised advantages: (r - mean) / std over one prompt's samples; all zero when every
/// sample got the same reward (such a group carries no signal).
public func groupAdvantages(_ rewards: [Float]) -> [Float] {
    let n = Float(Swift.max(rewards.count, 1))
    let mean = rewards.reduce(0, +) / n
    let variance = rewards.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / n
    guard variance > 1e-12 else { return [Float](repeating: 0, count: rewards.count) }
    let std = variance.squareRoot()
    return rewards.map { ($0 - mean) / std }
}

/// GRPO (Shao et al. 2024): the clipped-ratio policy-gradient objective with group-normalised
/// advantages, each sequence's token terms averaged over its length, and an optional k3 estimate
/// of KL(π‖π_ref) to the initial policy.
public struct GRPOLoss {
    /// ε of the clipped ratio: the ratio is clamped to [1 − clip, 1 + clip].
    public var clip: Float
    /// β: weight of the k3 KL penalty to the reference policy (0 = none).
    public var klBeta: Float

    /// Creates the objective from its clip range and KL weight.
    public init(clip: Float, klBeta: Float) { self.clip = clip; self.klBeta = klBeta }

    /// The loss of a batch of sequences (prompt + sampled response). `oldLogProbs[i]` are the
    /// sampler's log-probabilities of sequence i's response tokens, `advantages[i]` its advantage.
    public func loss(policy: VisionLanguageModel, reference: VisionLanguageModel?, sequences: [TrainingSequence],
                     oldLogProbs: [[Float]], advantages: [Float]) throws -> (loss: Tensor, tokens: Int) {
        let batch = try SequenceBatch(sequences, config: policy.config)
        let rows = batch.batch * batch.length
        var old = [Float](repeating: 0, count: rows), adv = old, weight = old
        var safeTargets = [Int32](repeating: 0, count: rows)
        var tokens = 0
        for i in 0..<batch.batch {
            let positions = (0..<batch.length).filter { batch.targets[i * batch.length + $0] >= 0 }
            for (j, p) in positions.enumerated() {
                let r = i * batch.length + p
                safeTargets[r] = batch.targets[r]
                old[r] = oldLogProbs[i][j]
                adv[r] = advantages[i]
                weight[r] = 1 / (Float(positions.count) * Float(batch.batch))
            }
            tokens += positions.count
        }
        let logits = try policy.logits(images: batch.images, tokens: batch.tokens, batch: batch.batch, length: batch.length)
        let lp = try tokenLogProbs(try logits.reshaped([rows, policy.config.vocab]), safeTargets)
        let w = try Tensor(weight, shape: [rows])
        let ratio = exp(try sub(lp, try Tensor(old, shape: [rows])))
        let a = try Tensor(adv, shape: [rows])
        let objective = try minimum(try mul(ratio, a), try mul(clamp(ratio, 1 - clip, 1 + clip), a))
        var loss = neg(sum(try mul(objective, w)))
        if klBeta > 0, let reference {
            let refLP = try Tensor.withoutGrad {
                let l = try reference.logits(images: batch.images, tokens: batch.tokens, batch: batch.batch, length: batch.length)
                return try tokenLogProbs(try l.reshaped([rows, policy.config.vocab]), safeTargets)
            }
            // k3 = exp(ref - lp) - (ref - lp) - 1 >= 0, unbiased for KL(π‖π_ref) under π's samples.
            let d = try sub(refLP, lp)
            let k3 = shift(try sub(exp(d), d), -1)
            loss = try add(loss, scale(sum(try mul(k3, w)), klBeta))
        }
        return (loss, tokens)
    }
}
