import Foundation

/// Raised when a non-finite loss or gradient stops training; the model and optimizer are back in
/// the state before that update.
public struct NonFiniteLoss: Error, CustomStringConvertible {
    /// Optimizer updates taken before the one that failed.
    public var step: Int
    /// Loss of the failed update.
    public var loss: Float
    /// Global gradient norm of the failed update (NaN when it was not reached).
    public var gradNorm: Float

    /// Creates the error from its fields.
    public init(step: Int, loss: Float, gradNorm: Float) { self.step = step; self.loss = loss; self.gradNorm = gradNorm }

    /// What went non-finite, at which step, and that the last good state is back.
    public var description: String {
        let what = !loss.isFinite ? "loss \(loss)" : !gradNorm.isFinite ? "gradient norm \(gradNorm)" : "parameters after the update"
        return "training stopped at step \(step): non-finite \(what); restored the last good state (lower the learning rate or check the data)"
    }
}

extension AdamW {
    /// One optimizer update that non-finite numbers cannot corrupt: the single update step every
    /// objective trains through (SFT, GRPO, the PRM's step loss, vision pretraining).
    ///
    /// `loss(i)` gives the loss of the i-th of `parts` accumulated batches, with gradients recorded;
    /// the objective is their mean. The gradients are clipped to a global norm of `clip`, then AdamW
    /// updates at `lr`. A non-finite loss or gradient norm stops before the update; non-finite
    /// parameters after it put back the parameters, both moments and the step count from before it.
    /// Either way the gradients are cleared and `NonFiniteLoss` is thrown, so a training loop that
    /// stops on it leaves every earlier update in place and this one undone.
    @discardableResult
    public func safeUpdate(lr: Float, clip: Float, parts: Int = 1, _ loss: (Int) throws -> Tensor) throws -> (loss: Float, gradNorm: Float) {
        precondition(parts >= 1, "an update needs at least one batch")
        zeroGrad()
        var total: Float = 0
        for i in 0..<parts {
            let l = try loss(i)
            let value = l.item
            guard value.isFinite else {
                zeroGrad()
                throw NonFiniteLoss(step: step, loss: value, gradNorm: .nan)
            }
            // The mean over accumulated batches; one batch is its own mean (no scaling pass).
            if parts == 1 { try l.backward() } else { try scale(l, 1 / Float(parts)).backward() }
            total += value
        }
        let mean = total / Float(parts)
        let norm = clipGradNorm(params, maxNorm: clip)
        guard norm.isFinite else {
            zeroGrad()
            throw NonFiniteLoss(step: step, loss: mean, gradNorm: norm)
        }
        // An update can still overflow; keep the state from before it to fall back to.
        saveBackup()
        update(lr: lr)
        zeroGrad()
        guard parametersAreFinite else {
            restoreBackup()
            throw NonFiniteLoss(step: step, loss: mean, gradNorm: norm)
        }
        return (mean, norm)
    }
}
