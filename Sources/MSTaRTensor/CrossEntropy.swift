import Foundation

/// Cross-entropy over logits, fused with log-softmax; targets equal to `ignoreIndex` carry no loss,
/// which is how loss is kept on response tokens only.

/// Mean negative log-likelihood of `targets` under `logits` ([rows, vocab] or [..., vocab]),
/// over the rows whose target is not `ignoreIndex`. Optional per-row `weights` scale each row's
/// loss (the mean then divides by the number of counted rows, not by the weight sum).
public func crossEntropy(
    _ logits: Tensor, _ targets: [Int32], ignoreIndex: Int32 = -1, weights: [Float]? = nil
) throws -> Tensor {
    guard logits.rank >= 1 else { throw TensorError.shapeMismatch("crossEntropy needs logits of shape [rows, vocab], got \(logits.shape)") }
    let v = logits.shape[logits.rank - 1], rows = v == 0 ? 0 : logits.count / v
    guard rows == targets.count else {
        throw TensorError.shapeMismatch("crossEntropy: logits \(logits.shape) have \(rows) rows but there are \(targets.count) targets")
    }
    if let weights, weights.count != rows {
        throw TensorError.shapeMismatch("crossEntropy: \(weights.count) weights for \(rows) rows")
    }
    if let bad = targets.first(where: { $0 != ignoreIndex && ($0 < 0 || Int($0) >= v) }) {
        throw TensorError.invalid("crossEntropy: target \(bad) outside the vocabulary 0..<\(v)")
    }
    let counted = targets.reduce(0) { $0 + ($1 == ignoreIndex ? 0 : 1) }
    let denom = Float(Swift.max(counted, 1))
    // Row-wise log-sum-exp, kept for backward.
    let lse = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(rows, 1))
    let px = logits.ptr
    var total: Double = 0
    let partial = UnsafeMutablePointer<Double>.allocate(capacity: Swift.max(rows, 1))
    defer { partial.deallocate() }
    parallelFor(rows, grain: 64) { r in
        for i in r {
            let xi = px + i * v
            var m = -Float.infinity
            for j in 0..<v { m = Swift.max(m, xi[j]) }
            var s: Float = 0
            for j in 0..<v { s += fastExp(xi[j] - m) }
            lse[i] = m + Foundation.log(s)
            let t = targets[i]
            partial[i] = t == ignoreIndex ? 0 : Double((lse[i] - xi[Int(t)]) * (weights?[i] ?? 1))
        }
    }
    for i in 0..<rows { total += partial[i] }  // fixed order: deterministic
    let out = Tensor(scalar: Float(total / Double(denom)))
    let box = Allocation(lse)
    return out.recording([logits]) { out in
        let g = out.grad!.item / denom, px = logits.ptr, lse = box.ptr
        logits.accumulateGrad { dx, fresh in
            // d/dx = (softmax(x) - onehot(t)) · w / counted, zero on ignored rows.
            parallelFor(rows, grain: 64) { r in
                for i in r {
                    let xi = px + i * v, d = dx + i * v, t = targets[i]
                    if t == ignoreIndex {
                        if fresh { d.update(repeating: 0, count: v) }
                        continue
                    }
                    let gw = g * (weights?[i] ?? 1), l = lse[i]
                    for j in 0..<v {
                        let p = fastExp(xi[j] - l) * gw
                        d[j] = fresh ? p : d[j] + p
                    }
                    d[Int(t)] -= gw
                }
            }
        }
    }
}

/// log p(target) for each row of `logits` ([rows, vocab]): the per-token log-probabilities that
/// policy-gradient losses (GRPO's ratio, KL) are built from. Differentiable.
public func tokenLogProbs(_ logits: Tensor, _ targets: [Int32]) throws -> Tensor {
    let v = logits.shape[logits.rank - 1], rows = logits.count / Swift.max(v, 1)
    guard rows == targets.count else {
        throw TensorError.shapeMismatch("tokenLogProbs: logits \(logits.shape) have \(rows) rows but there are \(targets.count) targets")
    }
    if let bad = targets.first(where: { $0 < 0 || Int($0) >= v }) {
        throw TensorError.invalid("tokenLogProbs: target \(bad) outside the vocabulary 0..<\(v)")
    }
    let lsm = try logSoftmax(try logits.reshaped([rows, v]))
    let out = Tensor(uninitialized: [rows])
    for i in 0..<rows { out.ptr[i] = lsm.ptr[i * v + Int(targets[i])] }
    return out.recording([lsm]) { out in
        let g = out.grad!.ptr
        lsm.accumulateGrad { d, fresh in
            if fresh { d.update(repeating: 0, count: rows * v) }
            for i in 0..<rows { d[i * v + Int(targets[i])] += g[i] }
        }
    }
}
