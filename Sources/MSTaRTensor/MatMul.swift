/// Matrix products, all through `sgemm` (BLAS.swift): the engine's own product with the portable
/// numerics, OpenBLAS with `numerics openblas`.

/// `op(a) @ op(b)` for 2-D operands, or batched over a shared leading dimension for 3-D ones
/// (`[B, M, K] @ [B, K, N]`); a 3-D `a` times a 2-D `b` multiplies every batch by the same `b`.
/// `transA`/`transB` read the stored matrix transposed, so no copy is made.
public func matmul(_ a: Tensor, _ b: Tensor, transA: Bool = false, transB: Bool = false) throws -> Tensor {
    func mismatch() -> TensorError {
        .shapeMismatch("matmul cannot multiply \(a.shape)\(transA ? "ᵀ" : "") by \(b.shape)\(transB ? "ᵀ" : "")")
    }
    guard (a.rank == 2 || a.rank == 3), (b.rank == 2 || b.rank == 3), !(a.rank == 2 && b.rank == 3) else {
        throw mismatch()
    }
    let batch = a.rank == 3 ? a.shape[0] : 1
    if b.rank == 3 && b.shape[0] != batch { throw mismatch() }
    let (ar, ac) = (a.shape[a.rank - 2], a.shape[a.rank - 1])
    let (br, bc) = (b.shape[b.rank - 2], b.shape[b.rank - 1])
    let (m, k) = transA ? (ac, ar) : (ar, ac)
    let (kb, n) = transB ? (bc, br) : (br, bc)
    guard k == kb else { throw mismatch() }

    // A 3-D `a` times a shared 2-D `b` without transA is one tall GEMM.
    if a.rank == 3 && b.rank == 2 && !transA {
        let flat = try a.reshaped([batch * m, k])
        return try matmul(flat, b, transB: transB).reshaped([batch, m, n])
    }

    let out = Tensor(uninitialized: a.rank == 3 ? [batch, m, n] : [m, n])
    let aStride = ar * ac, bStride = b.rank == 3 ? br * bc : 0
    for i in 0..<batch {
        sgemm(transA: transA, transB: transB, m: m, n: n, k: k,
              a: a.ptr + i * aStride, lda: ac, b: b.ptr + i * bStride, ldb: bc, c: out.ptr + i * m * n)
    }
    return out.recording([a, b]) { out in
        let g = out.grad!.ptr
        a.accumulateGrad { da, fresh in
            for i in 0..<batch {
                let gi = g + i * m * n, bi = b.ptr + i * bStride, dai = da + i * aStride
                // dA = dC op(B)^T, stored transposed when transA.
                if transA {
                    sgemm(transA: transB, transB: true, m: k, n: m, k: n, a: bi, lda: bc, b: gi, ldb: n,
                          beta: fresh ? 0 : 1, c: dai, ldc: ac)
                } else {
                    sgemm(transA: false, transB: !transB, m: m, n: k, k: n, a: gi, lda: n, b: bi, ldb: bc,
                          beta: fresh ? 0 : 1, c: dai, ldc: ac)
                }
            }
        }
        b.accumulateGrad { db, fresh in
            for i in 0..<batch {
                let gi = g + i * m * n, ai = a.ptr + i * aStride, dbi = db + i * bStride
                // With a shared 2-D b, batches add into one gradient.
                let beta: Float = (fresh && (bStride != 0 || i == 0)) ? 0 : 1
                // dB = op(A)^T dC, stored transposed when transB.
                if transB {
                    sgemm(transA: true, transB: transA, m: n, n: k, k: m, a: gi, lda: n, b: ai, ldb: ac,
                          beta: beta, c: dbi, ldc: bc)
                } else {
                    sgemm(transA: !transA, transB: false, m: k, n: n, k: m, a: ai, lda: ac, b: gi, ldb: n,
                          beta: beta, c: dbi, ldc: bc)
                }
            }
        }
    }
}

/// A fully connected layer, `x @ weightᵀ + bias`, with `weight` stored `[out, in]` as in PyTorch.
/// `x` may have any number of leading dimensions; the last must be `in`.
public func linear(_ x: Tensor, _ weight: Tensor, _ bias: Tensor? = nil) throws -> Tensor {
    guard weight.rank == 2, x.rank >= 1, x.shape[x.rank - 1] == weight.shape[1] else {
        throw TensorError.shapeMismatch("linear cannot apply weight \(weight.shape) (out, in) to input \(x.shape)")
    }
    let (outF, inF) = (weight.shape[0], weight.shape[1])
    if let bias, bias.shape != [outF] {
        throw TensorError.shapeMismatch("linear bias \(bias.shape) does not match weight \(weight.shape): expected [\(outF)]")
    }
    let rows = x.count / inF
    let out = Tensor(uninitialized: Array(x.shape.dropLast()) + [outF])
    let y = out.ptr
    sgemm(transB: true, m: rows, n: outF, k: inF, a: x.ptr, b: weight.ptr, c: y, bias: bias.map { UnsafePointer($0.ptr) })
    let inputs = bias.map { [x, weight, $0] } ?? [x, weight]
    return out.recording(inputs) { out in
        let g = out.grad!.ptr
        x.accumulateGrad { dx, fresh in  // dx = dy W
            sgemm(m: rows, n: inF, k: outF, a: g, b: weight.ptr, beta: fresh ? 0 : 1, c: dx)
        }
        weight.accumulateGrad { dw, fresh in  // dW = dyᵀ x
            sgemm(transA: true, m: outF, n: inF, k: rows, a: g, b: x.ptr, beta: fresh ? 0 : 1, c: dw)
        }
        bias?.accumulateGrad { db, fresh in  // db = column sums of dy
            if fresh { db.update(repeating: 0, count: outF) }
            for r in 0..<rows { add(db, g + r * outF, outF) }
        }
    }
}
