import Foundation

/// Softmax and log-softmax along the last axis, numerically stable (the row maximum is subtracted).

/// In place: row ← softmax(row), for a row of `n` values.
@inline(__always)
public func softmaxRow(_ row: UnsafeMutablePointer<Float>, _ n: Int) {
    var m = -Float.infinity
    for j in 0..<n { m = Swift.max(m, row[j]) }
    var s: Float = 0
    for j in 0..<n { let e = fastExp(row[j] - m); row[j] = e; s += e }
    let inv = 1 / s
    for j in 0..<n { row[j] *= inv }
}

/// Softmax along the last axis.
public func softmax(_ x: Tensor) throws -> Tensor {
    guard x.rank >= 1, x.shape[x.rank - 1] > 0 else { throw TensorError.shapeMismatch("softmax needs a non-empty last axis, got \(x.shape)") }
    let n = x.shape[x.rank - 1], rows = x.count / n
    let out = x.copy()
    let py = out.ptr
    parallelFor(rows, grain: 64) { r in for i in r { softmaxRow(py + i * n, n) } }
    return out.recording([x]) { out in
        let g = out.grad!.ptr, py = out.ptr
        x.accumulateGrad { dx, fresh in
            // dx = y ⊙ (g - Σ g·y)
            parallelFor(rows, grain: 64) { r in
                for i in r {
                    let y = py + i * n, gi = g + i * n, d = dx + i * n
                    var dot: Float = 0
                    for j in 0..<n { dot += gi[j] * y[j] }
                    for j in 0..<n { d[j] = (fresh ? 0 : d[j]) + y[j] * (gi[j] - dot) }
                }
            }
        }
    }
}

/// Log-softmax along the last axis.
public func logSoftmax(_ x: Tensor) throws -> Tensor {
    guard x.rank >= 1, x.shape[x.rank - 1] > 0 else { throw TensorError.shapeMismatch("logSoftmax needs a non-empty last axis, got \(x.shape)") }
    let n = x.shape[x.rank - 1], rows = x.count / n
    let out = Tensor(uninitialized: x.shape)
    let px = x.ptr, py = out.ptr
    parallelFor(rows, grain: 64) { r in
        for i in r {
            let xi = px + i * n, yi = py + i * n
            var m = -Float.infinity
            for j in 0..<n { m = Swift.max(m, xi[j]) }
            var s: Float = 0
            for j in 0..<n { s += fastExp(xi[j] - m) }
            let lse = m + Foundation.log(s)
            for j in 0..<n { yi[j] = xi[j] - lse }
        }
    }
    return out.recording([x]) { out in
        let g = out.grad!.ptr, py = out.ptr
        x.accumulateGrad { dx, fresh in
            // dx = g - softmax · Σ g
            parallelFor(rows, grain: 64) { r in
                for i in r {
                    let y = py + i * n, gi = g + i * n, d = dx + i * n
                    var gs: Float = 0
                    for j in 0..<n { gs += gi[j] }
                    for j in 0..<n { d[j] = (fresh ? 0 : d[j]) + gi[j] - fastExp(y[j]) * gs }
                }
            }
        }
    }
}
