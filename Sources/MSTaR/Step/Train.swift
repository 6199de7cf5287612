import Foundation
import MSTaRModel
import MSTaRTasks
import MSTaRTensor

extension Evolution {
    /// Stage 7, train: the selection by the method's rules. Continuous training (and SFT, GRPO)
    /// carries the optimizer across iterations; iterative RFT takes a fresh one; ReST-EM restarts
    /// from π0 with a fresh one; GRPO trains on every rollout group with its advantages. Every update
    /// goes through `AdamW.safeUpdate`.
    func train(_ sequences: [TrainingSequence], groups: [RolloutGroup], shouldStop: (() -> Bool)?) throws -> TrainReport? {
        let s = settings
        let adam = AdamW.Config(lr: s.lr, beta1: 0.9, beta2: 0.98, eps: 1e-8, weightDecay: 0.01)
        let options = SFTTrainer.Options(batchSize: s.batchSize, schedule: .constant(lr: s.lr), clip: 1, optimizer: adam)
        let dataSeed = derivedSeed(.training, iteration: iteration)
        if s.method == .grpo { return try trainGRPO(groups, config: adam, shouldStop: shouldStop) }
        if s.method == .restEM { try policy.loadWeights(from: initialPolicy) }
        guard !sequences.isEmpty else { return nil }
        let trainer: SFTTrainer
        switch s.method {
        case .iterativeRFT, .restEM:
            trainer = SFTTrainer(model: policy, options: options, seed: dataSeed)
        case .continuous, .sft, .grpo:
            if optimizer == nil { optimizer = AdamW(params: policy.policyParameters, config: adam) }
            optimizer!.config.lr = s.lr
            trainer = SFTTrainer(model: policy, options: options, optimizer: optimizer!, seed: dataSeed)
        }
        let report = try trainer.train(sequences, epochs: s.trainEpochs, shouldStop: shouldStop)
        if shouldStop?() == true { throw EvolutionInterrupted() }
        return report
    }

    /// GRPO: the clipped-ratio objective over groups of `grpoPromptsPerUpdate` prompts, in a seeded order;
    /// groups whose rewards are all equal (no advantage) are skipped.
    func trainGRPO(_ groups: [RolloutGroup], config: AdamW.Config, shouldStop: (() -> Bool)?) throws -> TrainReport? {
        let s = settings
        if optimizer == nil { optimizer = AdamW(params: policy.policyParameters, config: config) }
        let opt = optimizer!
        let start = Date()
        var rng = RNG(seed: derivedSeed(.grpo, iteration: iteration))
        var order = groups.indices.filter { groupAdvantages(groups[$0].rewards).contains { $0 != 0 } }
        rng.shuffle(&order)
        let objective = GRPOLoss(clip: s.grpoClip, klBeta: s.grpoKL)
        var updates = 0, tokens = 0, sum: Float = 0, last: Float = 0
        var b = 0
        while b < order.count {
            if shouldStop?() == true { throw EvolutionInterrupted() }
            var seqs: [TrainingSequence] = [], old: [[Float]] = [], adv: [Float] = []
            for g in order[b..<Swift.min(order.count, b + s.grpoPromptsPerUpdate)] {
                let a = groupAdvantages(groups[g].rewards)
                for (r, ai) in zip(groups[g].rollouts, a) where !r.tokens.isEmpty {
                    seqs.append(TrainingSequence(image: groups[g].image, prompt: groups[g].prompt, response: r.tokens))
                    old.append(r.logProbs); adv.append(ai)
                }
            }
            b += s.grpoPromptsPerUpdate
            var n = 0
            last = try opt.safeUpdate(lr: s.lr, clip: 1) { _ in
                let (loss, count) = try objective.loss(policy: policy, reference: s.grpoKL > 0 ? initialPolicy : nil,
                                                       sequences: seqs, oldLogProbs: old, advantages: adv)
                n = count
                return loss
            }.loss
            updates += 1; tokens += n; sum += last
        }
        return TrainReport(steps: updates, sequences: groups.count * s.k, tokens: tokens,
                           meanLoss: updates > 0 ? sum / Float(updates) : .nan, lastLoss: last,
                           seconds: Date().timeIntervalSince(start))
    }
}
