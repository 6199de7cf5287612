/// Inverted dropout: zeroes each element with probability `p` and scales survivors by 1/(1-p), so
/// evaluation needs no rescaling. The mask is drawn from `rng`, so a seeded run repeats exactly.
public func dropout(_ x: Tensor, p: Float, rng: inout RNG, training: Bool = true) throws -> Tensor {
    guard p >= 0 && p < 1 else { throw TensorError.invalid("dropout probability must be in [0, 1), got \(p)") }
    if !training || p == 0 { return x }
    let keep = 1 / (1 - p)
    let mask = Allocation(UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(x.count, 1)))
    let m = mask.ptr
    for i in 0..<x.count { m[i] = rng.uniform() < p ? 0 : keep }
    let out = Tensor(uninitialized: x.shape)
    let px = x.ptr, po = out.ptr
    for i in 0..<x.count { po[i] = px[i] * m[i] }
    return out.recording([x]) { out in
        let g = out.grad!.ptr, m = mask.ptr
        x.accumulateGrad { dx, fresh in
            for i in 0..<x.count { dx[i] = (fresh ? 0 : dx[i]) + g[i] * m[i] }
        }
    }
}
