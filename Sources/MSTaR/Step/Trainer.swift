import Foundation
import MSTaRModel
import MSTaRTasks
import MSTaRTensor

/// What a training method keeps of the optimizer from one iteration to the next.
public enum CarryRule: Sendable {
    /// Keep the optimizer's moments and step (continuous training, SFT, GRPO).
    case carry
    /// A fresh optimizer for this iteration's training only (iterative RFT).
    case fresh
    /// Back to π0's weights first, then a fresh optimizer (ReST-EM).
    case restart
}

/// What `PolicyTrainer.snapshot` returns: everything training changes, to put back.
public protocol TrainerSnapshot {
    /// Puts the trainer back as it was when the snapshot was taken.
    func restore() throws
}

/// What trains the policy on a step's selection: the trainer side of the seam (the engine's own is
/// `NativeTrainer`; a trainer for a served model can stand here). The evolution step trains only
/// through it.
///
/// The contract (`TrainerConformance` checks it): training on data changes the state and reports
/// finite losses; the same state, data and seed give the same state after; a snapshot restores the
/// state exactly; a non-finite update throws `NonFiniteLoss` and leaves the state as it was;
/// `restart` with nothing to train on puts π0 back.
public protocol PolicyTrainer: AnyObject {
    /// Supervised updates on `sequences` (loss on the response tokens), `epochs` passes in batches of
    /// `batchSize` at a constant `lr`, the data order from `seed`; `carry` says what the optimizer
    /// keeps. Nil when there is nothing to train on.
    func trainSFT(_ sequences: [TrainingSequence], carry: CarryRule, lr: Float, batchSize: Int, epochs: Int, seed: UInt64,
                  shouldStop: (() -> Bool)?) throws -> TrainReport?
    /// GRPO updates on rollout groups (groups with no advantage are skipped), `promptsPerUpdate`
    /// groups per update in an order from `seed`, the optimizer carried.
    func trainGRPO(_ groups: [RolloutGroup], objective: GRPOLoss, lr: Float, promptsPerUpdate: Int, seed: UInt64,
                   shouldStop: (() -> Bool)?) throws -> TrainReport
    /// Everything training changes (weights, optimizer), to put back after an error or interrupt.
    func snapshot() throws -> any TrainerSnapshot
    /// A digest of the trained state (weights, optimizer moments and step): equal exactly when the
    /// states are. The conformance check compares states through it.
    func stateDigest() throws -> String
}

/// The engine's trainer: the policy in this process, AdamW, every update through `safeUpdate`.
public final class NativeTrainer: PolicyTrainer {
    /// The policy it trains.
    public let policy: VisionLanguageModel
    /// π0, where `restart` goes back to and what GRPO's KL refers to.
    public let initialPolicy: VisionLanguageModel
    /// The optimizer `carry` keeps (nil until a carrying method first trains).
    public var optimizer: AdamW?

    /// A trainer of `policy` that restarts to `initialPolicy`.
    public init(policy: VisionLanguageModel, initialPolicy: VisionLanguageModel, optimizer: AdamW? = nil) {
        self.policy = policy; self.initialPolicy = initialPolicy; self.optimizer = optimizer
    }

    static func adam(_ lr: Float) -> AdamW.Config { AdamW.Config(lr: lr, beta1: 0.9, beta2: 0.98, eps: 1e-8, weightDecay: 0.01) }

    public func trainSFT(_ sequences: [TrainingSequence], carry: CarryRule, lr: Float, batchSize: Int, epochs: Int, seed: UInt64,
                         shouldStop: (() -> Bool)?) throws -> TrainReport? {
        let options = SFTTrainer.Options(batchSize: batchSize, schedule: .constant(lr: lr), clip: 1, optimizer: Self.adam(lr))
        if carry == .restart { try policy.loadWeights(from: initialPolicy) }
        guard !sequences.isEmpty else { return nil }
        let trainer: SFTTrainer
        switch carry {
        case .fresh, .restart:
            trainer = SFTTrainer(model: policy, options: options, seed: seed)
        case .carry:
            if optimizer == nil { optimizer = AdamW(params: policy.policyParameters, config: Self.adam(lr)) }
            optimizer!.config.lr = lr
            trainer = SFTTrainer(model: policy, options: options, optimizer: optimizer!, seed: seed)
        }
        return try trainer.train(sequences, epochs: epochs, shouldStop: shouldStop)
    }

    public func trainGRPO(_ groups: [RolloutGroup], objective: GRPOLoss, lr: Float, promptsPerUpdate: Int, seed: UInt64,
                          shouldStop: (() -> Bool)?) throws -> TrainReport {
        if optimizer == nil { optimizer = AdamW(params: policy.policyParameters, config: Self.adam(lr)) }
        let opt = optimizer!
        let start = Date()
        var rng = RNG(seed: seed)
        var order = groups.indices.filter { groupAdvantages(groups[$0].rewards).contains { $0 != 0 } }
        rng.shuffle(&order)
        var updates = 0, tokens = 0, sum: Float = 0, last: Float = 0
        var b = 0
        while b < order.count {
            if shouldStop?() == true { throw EvolutionInterrupted() }
            var seqs: [TrainingSequence] = [], old: [[Float]] = [], adv: [Float] = []
            for g in order[b..<Swift.min(order.count, b + promptsPerUpdate)] {
                let a = groupAdvantages(groups[g].rewards)
                for (r, ai) in zip(groups[g].rollouts, a) where !r.tokens.isEmpty {
                    seqs.append(TrainingSequence(image: groups[g].image, prompt: groups[g].prompt, response: r.tokens))
                    old.append(r.logProbs); adv.append(ai)
                }
            }
            b += promptsPerUpdate
            var n = 0
            last = try opt.safeUpdate(lr: lr, clip: 1) { _ in
                let (loss, count) = try objective.loss(policy: policy, reference: objective.klBeta > 0 ? initialPolicy : nil,
                                                       sequences: seqs, oldLogProbs: old, advantages: adv)
                n = count
                return loss
            }.loss
            updates += 1; tokens += n; sum += last
        }
        return TrainReport(steps: updates, sequences: groups.reduce(0) { $0 + $1.rollouts.count }, tokens: tokens,
                           meanLoss: updates > 0 ? sum / Float(updates) : .nan, lastLoss: last,
                           seconds: Date().timeIntervalSince(start))
    }

    /// Weights and optimizer state, copied.
    struct Snapshot: TrainerSnapshot {
        let trainer: NativeTrainer
        let weights: VisionLanguageModel
        let optimizer: (tensors: [String: Tensor], step: Int)?
        let hadOptimizer: Bool

        func restore() throws {
            try trainer.policy.loadWeights(from: weights)
            if let o = optimizer { try trainer.optimizer?.loadState(o.tensors, step: o.step) }
            if !hadOptimizer { trainer.optimizer = nil }
        }
    }

    public func snapshot() throws -> any TrainerSnapshot {
        Snapshot(trainer: self, weights: try policy.copy(), optimizer: optimizer.map { opt in
            (Dictionary(uniqueKeysWithValues: opt.stateTensors().map { ($0.0, $0.1.copy()) }), opt.step)
        }, hadOptimizer: optimizer != nil)
    }

    public func stateDigest() throws -> String {
        // The weights' and moments' bits and the step (or a mark for no optimizer).
        var h = FNV1a()
        for (_, t) in policy.namedParameters { h.add(t) }
        if let o = optimizer {
            for (_, t) in o.stateTensors() { h.add(t) }
            h.add(UInt64(o.step))
        } else {
            h.add(UInt64.max)
        }
        return h.hex
    }
}
