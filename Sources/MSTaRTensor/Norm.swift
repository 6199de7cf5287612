import Foundation

/// LayerNorm and RMSNorm over the last axis, each with a hand-written backward.

/// LayerNorm: (x - mean) / √(var + eps) · weight + bias, over the last axis of size `weight.count`.
public func layerNorm(_ x: Tensor, weight: Tensor, bias: Tensor, eps: Float = 1e-5) throws -> Tensor {
    let c = weight.count
    guard x.rank >= 1, x.shape[x.rank - 1] == c, weight.shape == [c], bias.shape == [c] else {
        throw TensorError.shapeMismatch("layerNorm: input \(x.shape) needs weight and bias of shape [last axis], got \(weight.shape) and \(bias.shape)")
    }
    let rows = x.count / c
    let out = Tensor(uninitialized: x.shape)
    // Per-row mean and 1/std, kept for backward.
    let stats = UnsafeMutablePointer<Float>.allocate(capacity: 2 * rows)
    let px = x.ptr, py = out.ptr, w = weight.ptr, b = bias.ptr
    parallelFor(rows, grain: 64) { r in
        for i in r {
            let xi = px + i * c, yi = py + i * c
            var m: Float = 0
            for j in 0..<c { m += xi[j] }
            m /= Float(c)
            var v: Float = 0
            for j in 0..<c { let d = xi[j] - m; v += d * d }
            let rstd = 1 / (v / Float(c) + eps).squareRoot()
            for j in 0..<c { yi[j] = (xi[j] - m) * rstd * w[j] + b[j] }
            stats[2 * i] = m; stats[2 * i + 1] = rstd
        }
    }
    let statsBox = Allocation(stats)
    return out.recording([x, weight, bias]) { out in
        let g = out.grad!.ptr, px = x.ptr, w = weight.ptr, stats = statsBox.ptr
        x.accumulateGrad { dx, fresh in
            parallelFor(rows, grain: 64) { r in
                for i in r {
                    let xi = px + i * c, gi = g + i * c, d = dx + i * c
                    let m = stats[2 * i], rstd = stats[2 * i + 1]
                    // dx = rstd · (gw - mean(gw) - x̂ · mean(gw · x̂)), gw = g ⊙ weight
                    var s1: Float = 0, s2: Float = 0
                    for j in 0..<c { let gw = gi[j] * w[j]; s1 += gw; s2 += gw * (xi[j] - m) * rstd }
                    s1 /= Float(c); s2 /= Float(c)
                    for j in 0..<c {
                        let v = rstd * (gi[j] * w[j] - s1 - (xi[j] - m) * rstd * s2)
                        d[j] = fresh ? v : d[j] + v
                    }
                }
            }
        }
        weight.accumulateGrad { dw, fresh in
            if fresh { dw.update(repeating: 0, count: c) }
            for i in 0..<rows {
                let xi = px + i * c, gi = g + i * c, m = stats[2 * i], rstd = stats[2 * i + 1]
                for j in 0..<c { dw[j] += gi[j] * (xi[j] - m) * rstd }
            }
        }
        bias.accumulateGrad { db, fresh in
            if fresh { db.update(repeating: 0, count: c) }
            for i in 0..<rows { add(db, g + i * c, c) }
        }
    }
}

/// RMSNorm: x / √(mean(x²) + eps) · weight, over the last axis of size `weight.count`.
public func rmsNorm(_ x: Tensor, weight: Tensor, eps: Float = 1e-5) throws -> Tensor {
    let c = weight.count
    guard x.rank >= 1, x.shape[x.rank - 1] == c, weight.shape == [c] else {
        throw TensorError.shapeMismatch("rmsNorm: input \(x.shape) needs weight of shape [last axis], got \(weight.shape)")
    }
    let rows = x.count / c
    let out = Tensor(uninitialized: x.shape)
    let rstds = UnsafeMutablePointer<Float>.allocate(capacity: rows)
    let px = x.ptr, py = out.ptr, w = weight.ptr
    parallelFor(rows, grain: 64) { r in
        for i in r {
            let xi = px + i * c, yi = py + i * c
            var ss: Float = 0
            for j in 0..<c { ss += xi[j] * xi[j] }
            let rstd = 1 / (ss / Float(c) + eps).squareRoot()
            for j in 0..<c { yi[j] = xi[j] * rstd * w[j] }
            rstds[i] = rstd
        }
    }
    let box = Allocation(rstds)
    return out.recording([x, weight]) { out in
        let g = out.grad!.ptr, px = x.ptr, w = weight.ptr, rstds = box.ptr
        x.accumulateGrad { dx, fresh in
            parallelFor(rows, grain: 64) { r in
                for i in r {
                    let xi = px + i * c, gi = g + i * c, d = dx + i * c, rstd = rstds[i]
                    // dx = rstd · (gw - x̂ · mean(gw · x̂)), gw = g ⊙ weight
                    var s: Float = 0
                    for j in 0..<c { s += gi[j] * w[j] * xi[j] * rstd }
                    s /= Float(c)
                    for j in 0..<c {
                        let v = rstd * (gi[j] * w[j] - xi[j] * rstd * s)
                        d[j] = fresh ? v : d[j] + v
                    }
                }
            }
        }
        weight.accumulateGrad { dw, fresh in
            if fresh { dw.update(repeating: 0, count: c) }
            for i in 0..<rows {
                let xi = px + i * c, gi = g + i * c, rstd = rstds[i]
                for j in 0..<c { dw[j] += gi[j] * xi[j] * rstd }
            }
        }
    }
}

/// Owns a raw allocation that a backward closure needs; freed with the closure.
final class Allocation: @unchecked Sendable {
    let ptr: UnsafeMutablePointer<Float>
    init(_ ptr: UnsafeMutablePointer<Float>) { self.ptr = ptr }
    deinit { ptr.deallocate() }
}
