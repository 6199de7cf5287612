import Foundation

/// Binary cross-entropy on logits, the loss of the process reward model's step scores.

/// Weighted mean of `softplus(x) - y·x` (= -y·log σ(x) - (1-y)·log(1-σ(x))) over the entries of
/// `logits` (any shape, read flat). Labels may be soft (in [0, 1]); an entry with weight 0 carries no
/// loss, so one call can score only the step-end positions of a padded batch. The mean divides by the
/// weight sum.
public func binaryCrossEntropy(logits: Tensor, labels: [Float], weights: [Float]) throws -> Tensor {
    let n = logits.count
    guard labels.count == n, weights.count == n else {
        throw TensorError.shapeMismatch("binaryCrossEntropy: \(n) logits, \(labels.count) labels, \(weights.count) weights")
    }
    var wsum: Double = 0
    for w in weights { wsum += Double(w) }
    let denom = Float(Swift.max(wsum, 1e-12))
    let px = logits.ptr
    var total: Double = 0
    for i in 0..<n where weights[i] != 0 {
        let x = px[i]
        // softplus(x) = max(x, 0) + log(1 + exp(-|x|)) is stable for large |x|.
        let sp = Swift.max(x, 0) + Foundation.log1p(Foundation.exp(-Swift.abs(x)))
        total += Double(weights[i] * (sp - labels[i] * x))
    }
    let out = Tensor(scalar: Float(total / Double(denom)))
    return out.recording([logits]) { out in
        let g = out.grad!.item / denom, px = logits.ptr
        logits.accumulateGrad { d, fresh in
            for i in 0..<n {
                // d/dx = (σ(x) - y) · w
                let v = weights[i] == 0 ? 0 : g * weights[i] * (1 / (1 + Foundation.exp(-px[i])) - labels[i])
                d[i] = fresh ? v : d[i] + v
            }
        }
    }
}
