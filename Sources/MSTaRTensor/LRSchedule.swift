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

    /// Checks that every rate is finite and in 0...1 and every step count in 0...2^40 (a schedule read
    /// from a file must not make a rate infinite or a division meaningless).
    public func validate() throws {
        let rates: [Float], steps: [Int]
        switch self {
        case .constant(let lr): (rates, steps) = ([lr], [])
        case .warmup(let lr, let warmup): (rates, steps) = ([lr], [warmup])
        case .cosine(let lr, let warmup, let total, let minLR), .linear(let lr, let warmup, let total, let minLR):
            (rates, steps) = ([lr, minLR], [warmup, total])
        }
        for r in rates where !(r.isFinite && r >= 0 && r <= 1) { throw TensorError.invalid("schedule rate \(r) is outside 0 to 1") }
        for n in steps where !(0...(1 << 40)).contains(n) { throw TensorError.invalid("schedule step count \(n) is outside 0 to 2^40") }
    }

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
