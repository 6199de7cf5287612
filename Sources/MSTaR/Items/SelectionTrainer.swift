import Foundation
import MSTaRModel
import MSTaRTasks

/// One iteration's training on a selection folder, as the method asks for it.
public struct SelectionJob: Sendable {
    /// The iteration being trained (1-based).
    public var iteration: Int
    /// Iterations the whole run plans (a continuous run fixes its schedule's horizon from it).
    public var iterations: Int
    /// The selection in TRL's layout (`train.jsonl` and `images/`), as `TrainerData` writes it.
    public var data: URL
    /// The examples it holds (a trainer that reads another layout writes them in its own).
    public var examples: [TrainerExample]
    /// What the optimizer keeps from the last iteration: the method's state rule.
    public var carry: CarryRule
    /// The run's training settings.
    public var lr: Float, batchSize: Int, epochs: Int
    /// The data-order seed.
    public var seed: UInt64

    /// A job; `carry` follows from the method (`CarryRule.of`).
    public init(iteration: Int, iterations: Int, data: URL, examples: [TrainerExample], carry: CarryRule, lr: Float, batchSize: Int, epochs: Int, seed: UInt64) {
        self.iteration = iteration; self.iterations = iterations; self.data = data; self.examples = examples; self.carry = carry
        self.lr = lr; self.batchSize = batchSize; self.epochs = epochs; self.seed = seed
    }
}

extension CarryRule {
    /// The state rule of a training method: ReST-EM restarts from π0, iterative RFT continues the
    /// last weights with a fresh optimizer, the others carry the optimizer and the schedule.
    public static func of(_ method: TrainingMethod) -> CarryRule {
        method == .restEM ? .restart : method == .iterativeRFT ? .fresh : .carry
    }
}

/// What trains a served model on an item step's selection: a trainer outside the process (TRL,
/// LLaMA-Factory, ms-swift, any command) whose output the server is then made to sample from.
///
/// The step's protocol: `prepare` before the first sample (the server samples the committed
/// model), `train` after selection (the trained model is pending, and the server samples it for
/// the step's dynamics), then `commit` when the step completes or `rollback` when it does not,
/// which puts the committed model back. So a failed or interrupted step leaves the run, its
/// checkpoints and the served model as they were.
public protocol SelectionTrainer: AnyObject {
    /// Makes the server sample from the committed model (a no-op when it already does).
    func prepare() throws
    /// Trains on `job` and makes the server sample from the result, which stays pending.
    /// `progress` receives the trainer's output lines as they come.
    func train(_ job: SelectionJob, progress: ((String) -> Void)?, shouldStop: (() -> Bool)?) throws -> TrainReport
    /// The pending training becomes the run's.
    func commit() throws
    /// Drops the pending training; the server is made to sample the committed model again.
    func rollback()
}
