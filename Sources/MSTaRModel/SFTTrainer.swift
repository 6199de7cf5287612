import Dispatch
import MSTaRTensor

/// Where training stands, reported after every optimizer update.
public struct TrainProgress: Sendable {
    /// Optimizer updates done so far (from 1).
    public var step: Int
    /// Updates the training will make in all.
    public var totalSteps: Int
    /// Loss of the latest update.
    public var loss: Float
    /// Loss-carrying tokens per second so far (0 where not measured).
    public var tokensPerSecond: Double
    /// Seconds since the training began.
    public var elapsed: Double

    /// Creates a progress report from its fields.
    public init(step: Int, totalSteps: Int, loss: Float, tokensPerSecond: Double, elapsed: Double) {
        self.step = step; self.totalSteps = totalSteps; self.loss = loss
        self.tokensPerSecond = tokensPerSecond; self.elapsed = elapsed
    }
}

/// What a call to `train` did.
public struct TrainReport: Sendable, Codable, Equatable {
    /// Optimizer updates taken.
    public var steps: Int
    /// Training sequences passed over, counted once per epoch.
    public var sequences: Int
    /// Response tokens that carried loss.
    public var tokens: Int
    /// Mean loss per update over the training (NaN when no update ran).
    public var meanLoss: Float
    /// Loss of the last update.
    public var lastLoss: Float
    /// Wall-clock seconds of the training.
    public var seconds: Double

    /// Creates a report from its fields.
    public init(steps: Int, sequences: Int, tokens: Int, meanLoss: Float, lastLoss: Float, seconds: Double) {
        self.steps = steps; self.sequences = sequences; self.tokens = tokens
        self.meanLoss = meanLoss; self.lastLoss = lastLoss; self.seconds = seconds
    }
}

/// Supervised fine-tuning of the policy on (scene, prompt, response) with loss on response tokens
/// only: length-bucketed batches, gradient accumulation, AdamW, clipping and a schedule.
public final class SFTTrainer {
    /// Settings of the trainer (saved with checkpoints).
    public struct Options: Codable, Equatable, Sendable {
        /// Sequences per batch.
        public var batchSize: Int
        /// Batches whose gradients are summed into one update.
        public var accumulation: Int
        /// Learning rate by update step (it overrides the optimizer config's rate).
        public var schedule: LRSchedule
        /// Largest global gradient norm; larger gradients are scaled down to it.
        public var clip: Float
        /// AdamW settings of a fresh optimizer (betas, eps, weight decay; the rate comes from `schedule`).
        public var optimizer: AdamW.Config

        /// Creates options from their fields.
        public init(batchSize: Int = 32, accumulation: Int = 1, schedule: LRSchedule = .constant(lr: 1e-3),
                    clip: Float = 1, optimizer: AdamW.Config = .init(lr: 1e-3, beta1: 0.9, beta2: 0.98, eps: 1e-8, weightDecay: 0.01)) {
            self.batchSize = batchSize; self.accumulation = accumulation; self.schedule = schedule
            self.clip = clip; self.optimizer = optimizer
        }
    }

    /// The policy being trained.
    public let model: VisionLanguageModel
    /// Batching, schedule, clipping and optimizer settings.
    public var options: Options
    /// The AdamW optimizer, fresh or carried over from earlier training.
    public let optimizer: AdamW
    /// Draws the data order.
    public var rng: RNG
    /// Optimizer updates taken (the schedule's position).
    public var step: Int { optimizer.step }

    /// A trainer over the policy's parameters (not the score head) with a fresh optimizer.
    public init(model: VisionLanguageModel, options: Options = Options(), seed: UInt64, parameters: [Tensor]? = nil) {
        self.model = model
        self.options = options
        optimizer = AdamW(params: parameters ?? model.policyParameters, config: options.optimizer)
        rng = RNG(seed: seed, stream: 0x5F7)
    }

    /// A trainer that carries on with an existing optimizer (its moments and step: the LR schedule's
    /// position), as continuous self-evolving training does across iterations.
    public init(model: VisionLanguageModel, options: Options, optimizer: AdamW, seed: UInt64) {
        self.model = model
        self.options = options
        self.optimizer = optimizer
        rng = RNG(seed: seed, stream: 0x5F7)
    }

    /// Loss of one batch under the current model, with gradients recorded.
    public func loss(_ batch: SequenceBatch) throws -> Tensor {
        let logits = try model.logits(images: batch.images, tokens: batch.tokens, batch: batch.batch, length: batch.length)
        return try crossEntropy(logits, batch.targets, weights: batch.weights)
    }

    /// One optimizer update from the summed gradients of `batches`; returns the mean loss.
    /// A non-finite loss, gradient or updated parameter leaves the model and optimizer as they were
    /// before this update and throws `NonFiniteLoss` (`AdamW.safeUpdate`).
    @discardableResult
    public func update(_ batches: [SequenceBatch]) throws -> Float {
        try optimizer.safeUpdate(lr: options.schedule.lr(at: step), clip: options.clip, parts: batches.count) { try loss(batches[$0]) }.loss
    }

    /// Trains on `sequences` for `epochs` passes in length-bucketed batches, reporting progress
    /// after each update. `shouldStop` is polled between updates (interrupts).
    public func train(_ sequences: [TrainingSequence], epochs: Int = 1,
                      progress: ((TrainProgress) -> Void)? = nil, shouldStop: (() -> Bool)? = nil) throws -> TrainReport {
        var plan: [[TrainingSequence]] = []
        for _ in 0..<epochs { plan += lengthBucketedBatches(sequences, batchSize: options.batchSize, rng: &rng) }
        let perUpdate = Swift.max(1, options.accumulation)
        let total = (plan.count + perUpdate - 1) / perUpdate
        let start = DispatchTime.now().uptimeNanoseconds
        var tokens = 0, sumLoss: Float = 0, last: Float = 0, done = 0
        var i = 0
        while i < plan.count {
            if shouldStop?() == true { break }
            let group = try plan[i..<Swift.min(plan.count, i + perUpdate)].map { try SequenceBatch($0, config: model.config) }
            last = try update(group)
            sumLoss += last
            tokens += group.reduce(0) { $0 + $1.targetCount }
            done += 1
            i += perUpdate
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            progress?(TrainProgress(step: done, totalSteps: total, loss: last,
                                    tokensPerSecond: Double(tokens) / Swift.max(elapsed, 1e-9), elapsed: elapsed))
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return TrainReport(steps: done, sequences: sequences.count * epochs, tokens: tokens,
                           meanLoss: done > 0 ? sumLoss / Float(done) : .nan, lastLoss: last, seconds: seconds)
    }
}
