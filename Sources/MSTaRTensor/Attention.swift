/// Multi-head self-attention, fused: one op from the packed q|k|v projection to the merged heads.
///
/// Per (batch, head) it runs S = QKᵀ/√d, a (causally) masked softmax and O = PV as GEMMs that read
/// the heads in place through leading dimensions, so nothing is transposed or copied. Only the
/// probabilities P are kept for backward. `attentionReference` builds the same function from
/// primitive ops and is what the tests hold this kernel to.

/// Self-attention over `qkv` of shape [B, T, 3C] (q, k, v concatenated on the last axis), with
/// `heads` heads of size C / heads; `causal` masks each position from later ones. Returns [B, T, C].
public func selfAttention(_ qkv: Tensor, heads: Int, causal: Bool = true) throws -> Tensor {
    guard qkv.rank == 3, qkv.shape[2] % (3 * heads) == 0, heads > 0 else {
        throw TensorError.shapeMismatch("selfAttention needs qkv of shape [B, T, 3·C] with C divisible by \(heads) heads, got \(qkv.shape)")
    }
    let (b, t, c3) = (qkv.shape[0], qkv.shape[1], qkv.shape[2])
    let c = c3 / 3, hs = c / heads
    let scale = 1 / Float(hs).squareRoot()
    let out = Tensor(uninitialized: [b, t, c])
    let probs = Tensor(uninitialized: [b, heads, t, t])
    let pq = qkv.ptr, po = out.ptr, pp = probs.ptr

    // Each (batch, head) pair is independent: split them across threads, one BLAS call at a time each.
    parallelEach(b * heads) { bh in
        let bi = bh / heads, h = bh % heads
        let q = pq + bi * t * c3 + h * hs, k = q + c, v = q + 2 * c
        let p = pp + bh * t * t
        sgemm(transB: true, m: t, n: t, k: hs, alpha: scale, a: q, lda: c3, b: k, ldb: c3, c: p, ldc: t)
        for i in 0..<t {
            let row = p + i * t
            let visible = causal ? i + 1 : t
            softmaxRow(row, visible)
            if visible < t { (row + visible).update(repeating: 0, count: t - visible) }
        }
        sgemm(m: t, n: hs, k: t, a: p, lda: t, b: v, ldb: c3, c: po + bi * t * c + h * hs, ldc: c)
    }
    return out.recording([qkv]) { out in
        let g = out.grad!.ptr, pq = qkv.ptr, pp = probs.ptr
        qkv.accumulateGrad { dqkv, fresh in
            if !fresh {
                // Heads write disjoint slices, so the kernel can overwrite; add an existing gradient after.
                let tmp = Tensor(uninitialized: qkv.shape)
                attentionBackward(g, pq, pp, tmp.ptr, b: b, t: t, c: c, heads: heads, causal: causal, scale: scale)
                add(dqkv, tmp.ptr, qkv.count)
            } else {
                attentionBackward(g, pq, pp, dqkv, b: b, t: t, c: c, heads: heads, causal: causal, scale: scale)
            }
        }
    }
}

/// Self-attention for `count` positions of each batch row only, from `queriesFrom[b]` in row b of
/// `qkv` [B, T, 3C], each seeing every earlier position of its row (causal): [B, count, C].
/// Continuing cached prefixes (the PRM scoring responses to many prompts) puts each row's prefix
/// keys and values first, its own length in `queriesFrom`. Each output is the one `selfAttention`
/// computes for its position, with the same operations in the same order, so it has the same bits.
/// Inference only: nothing is recorded for backward.
public func selfAttention(_ qkv: Tensor, heads: Int, queriesFrom starts: [Int], count: Int) throws -> Tensor {
    guard qkv.rank == 3, qkv.shape[2] % (3 * heads) == 0, heads > 0, starts.count == qkv.shape[0], count > 0,
          starts.allSatisfy({ $0 >= 0 && $0 + count <= qkv.shape[1] }) else {
        throw TensorError.shapeMismatch("selfAttention needs qkv of shape [B, T, 3·C] with C divisible by \(heads) heads and B rows of \(count) queries inside T, got \(qkv.shape) from \(starts)")
    }
    guard !(Tensor.isGradEnabled && qkv.requiresGrad) else {
        throw TensorError.invalid("selfAttention(queriesFrom:) has no backward; call it inside Tensor.withoutGrad")
    }
    let (b, t, c3) = (qkv.shape[0], qkv.shape[1], qkv.shape[2])
    let c = c3 / 3, hs = c / heads
    let scale = 1 / Float(hs).squareRoot()
    let out = Tensor(uninitialized: [b, count, c])
    let probs = UnsafeMutablePointer<Float>.allocate(capacity: b * heads * count * t)
    defer { probs.deallocate() }
    let pq = qkv.ptr, po = out.ptr
    starts.withUnsafeBufferPointer { starts in
        parallelEach(b * heads) { bh in
            let bi = bh / heads, h = bh % heads, q0 = starts[bi], length = q0 + count
            let q = pq + bi * t * c3 + h * hs, k = q + c, v = q + 2 * c
            let p = probs + bh * count * t
            sgemm(transB: true, m: count, n: length, k: hs, alpha: scale, a: q + q0 * c3, lda: c3, b: k, ldb: c3, c: p, ldc: length)
            for i in 0..<count { softmaxRow(p + i * length, q0 + i + 1) }
            for i in 0..<count where q0 + i + 1 < length { (p + i * length + q0 + i + 1).update(repeating: 0, count: length - q0 - i - 1) }
            sgemm(m: count, n: hs, k: length, a: p, lda: length, b: v, ldb: c3, c: po + bi * count * c + h * hs, ldc: c)
        }
    }
    return out
}

/// Writes d(qkv) for every (batch, head): dV = Pᵀ dO, dP = dO Vᵀ, dS = P ⊙ (dP − rowsum(dP ⊙ P)),
/// dQ = dS K · scale, dK = dSᵀ Q · scale.
private func attentionBackward(
    _ g: UnsafeMutablePointer<Float>, _ pq: UnsafeMutablePointer<Float>, _ pp: UnsafeMutablePointer<Float>,
    _ dqkv: UnsafeMutablePointer<Float>, b: Int, t: Int, c: Int, heads: Int, causal: Bool, scale: Float
) {
    let c3 = 3 * c, hs = c / heads
    parallelEach(b * heads) { bh in
        let bi = bh / heads, h = bh % heads
        let q = pq + bi * t * c3 + h * hs, k = q + c, v = q + 2 * c
        let dq = dqkv + bi * t * c3 + h * hs, dk = dq + c, dv = dq + 2 * c
        let p = pp + bh * t * t, dO = g + bi * t * c + h * hs
        let ds = UnsafeMutablePointer<Float>.allocate(capacity: t * t)
        defer { ds.deallocate() }
        sgemm(transA: true, m: t, n: hs, k: t, a: p, lda: t, b: dO, ldb: c, c: dv, ldc: c3)
        sgemm(transB: true, m: t, n: t, k: hs, a: dO, lda: c, b: v, ldb: c3, c: ds, ldc: t)
        for i in 0..<t {
            let pr = p + i * t, dr = ds + i * t
            let visible = causal ? i + 1 : t
            var dot: Float = 0
            for j in 0..<visible { dot += pr[j] * dr[j] }
            for j in 0..<visible { dr[j] = pr[j] * (dr[j] - dot) }
            if visible < t { (dr + visible).update(repeating: 0, count: t - visible) }
        }
        sgemm(m: t, n: hs, k: t, alpha: scale, a: ds, lda: t, b: k, ldb: c3, c: dq, ldc: c3)
        sgemm(transA: true, m: t, n: hs, k: t, alpha: scale, a: ds, lda: t, b: q, ldb: c3, c: dk, ldc: c3)
    }
}

/// The same attention built from primitive differentiable ops (slices, matmul, masked softmax):
/// slow, but independent of the fused kernel, so tests can compare the two.
public func attentionReference(_ qkv: Tensor, heads: Int, causal: Bool = true) throws -> Tensor {
    let (b, t, c3) = (qkv.shape[0], qkv.shape[1], qkv.shape[2])
    let c = c3 / 3, hs = c / heads
    // [B, T, 3, H, hs] -> [3, B, H, T, hs]
    let split = try permute(try qkv.reshaped([b, t, 3, heads, hs]), [2, 0, 3, 1, 4])
    func part(_ i: Int) throws -> Tensor { try split.rows(i, 1).reshaped([b * heads, t, hs]) }
    let (q, k, v) = (try part(0), try part(1), try part(2))
    var scores = scale(try matmul(q, k, transB: true), 1 / Float(hs).squareRoot())
    if causal {
        let mask = Tensor.zeros([t, t])
        for i in 0..<t { for j in (i + 1)..<Swift.max(i + 1, t) { mask[i, j] = -Float.infinity } }
        scores = try add(scores, mask)
    }
    let o = try matmul(try softmax(scores), v)  // [B·H, T, hs]
    return try permute(try o.reshaped([b, heads, t, hs]), [0, 2, 1, 3]).reshaped([b, t, c])
}
