import Foundation

/// A learning-rate schedule: the rate for each optimizer step, as data (saved with the run).
public enum LRSchedule: Codable, Equatable, Sendable {
    /// The same rate throughout.
    case constant(lr: Float)
    /// Linear warm-up from 0 over `warmup` steps, then constant.
    case warmup(lr: Float, warmup: Int)
    /// Linear warm-up, then cosine decay to `minLR` at `total` steps (held there after).
    case cosine(lr: Float, warmup: Int, total: Int, minLR: Float)
    /// Linear warm-up, then linear decay to `minLR` at `total` steps.
    case linear(lr: Float, warmup: Int, total: Int, minLR: Float)

    /// The rate at 0-based optimizer step `step`.
    public func lr(at step: Int) -> Float {
        switch self {
        case .constant(let lr):
            return lr
        case .warmup(let lr, let warmup):
            return step < warmup ? lr * Float(step + 1) / Float(warmup) : lr
        case .cosine(let lr, let warmup, let total, let minLR):
            if step < warmup { return lr * Float(step + 1) / Float(warmup) }
            let t = Swift.min(1, Double(step - warmup) / Double(Swift.max(1, total - warmup)))
            return minLR + (lr - minLR) * Float(0.5 * (1 + cos(Double.pi * t)))
        case .linear(let lr, let warmup, let total, let minLR):
            if step < warmup { return lr * Float(step + 1) / Float(warmup) }
            let t = Swift.min(1, Float(step - warmup) / Float(Swift.max(1, total - warmup)))
            return lr + (minLR - lr) * t
        }
    }
}
