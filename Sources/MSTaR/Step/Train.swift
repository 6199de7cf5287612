import Foundation
import MSTaRModel
import MSTaRTasks
import MSTaRTensor

extension Evolution {
    /// Stage 7, train: the selection through the run's trainer, by the method's rules. Continuous
    /// training (and SFT, GRPO) carries the optimizer across iterations; iterative RFT takes a fresh
    /// one; ReST-EM restarts from π0 with a fresh one; GRPO trains on every rollout group with its
    /// advantages.
    func train(_ sequences: [TrainingSequence], groups: [RolloutGroup], shouldStop: (() -> Bool)?) throws -> TrainReport? {
        let s = settings
        if s.method == .grpo {
            return try trainer.trainGRPO(groups, objective: GRPOLoss(clip: s.grpoClip, klBeta: s.grpoKL), lr: s.lr,
                                         promptsPerUpdate: s.grpoPromptsPerUpdate, seed: derivedSeed(.grpo, iteration: iteration),
                                         shouldStop: shouldStop)
        }
        let carry = CarryRule.of(s.method)
        let report = try trainer.trainSFT(sequences, carry: carry, lr: s.lr, batchSize: s.batchSize, epochs: s.trainEpochs,
                                          seed: derivedSeed(.training, iteration: iteration), shouldStop: shouldStop)
        if report != nil, shouldStop?() == true { throw EvolutionInterrupted() }
        return report
    }
}
