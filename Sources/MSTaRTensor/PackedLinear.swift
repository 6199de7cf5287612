/// A linear layer's weight W [out, in] and bias, laid out once for many products x·Wᵀ + b.
///
/// Decoding calls each layer once per generated token, a few hundred rows at a time. The portable
/// product, given W as stored, gathers every column panel of Wᵀ again on each call and adds the bias
/// by reading back an output it first filled with b. Here the panels are packed once, the
/// micro-kernel streams them, and the bias is added as each tile is stored. Every output is the
/// portable product's: Σₚ x[i,p]·W[j,p] by one fused multiply-add per term in order from 0, then
/// + b[j]: the bits of `sgemm(transB: true, ..., beta: 1)` over an output holding b.
///
/// Packed for the vector width in effect when made (`Numerics.vectorWidth`), and for the portable
/// numerics only. A product runs on the calling thread: decoding runs one job per thread.
public final class PackedLinear {
    /// Features in (W's columns) and out (W's rows).
    public let inFeatures: Int, outFeatures: Int
    /// Lanes of the product's vectors this packing was made for.
    let vectorWidth: Int
    /// Columns per panel, and panels.
    let nr: Int, panels: Int
    /// Panel p holds Wᵀ's columns p·nr ..< (p+1)·nr as `inFeatures` rows of `nr`, zero past `outFeatures`.
    let packed: UnsafeMutablePointer<Float>
    /// The bias (nil for none).
    let bias: UnsafeMutablePointer<Float>?

    /// Packs `weight` [out, in] and `bias` [out] (copies: later changes to them are not seen).
    public init(weight: Tensor, bias: Tensor?) {
        precondition(weight.shape.count == 2, "PackedLinear: weight must be [out, in]")
        outFeatures = weight.shape[0]; inFeatures = weight.shape[1]
        vectorWidth = Numerics.vectorWidth
        nr = 2 * vectorWidth
        panels = (outFeatures + nr - 1) / nr
        let k = inFeatures, n = outFeatures, nr = nr, count = Swift.max(1, panels * k * nr)
        let packed = UnsafeMutableRawPointer.allocate(byteCount: count * 4, alignment: 64).bindMemory(to: Float.self, capacity: count)
        withExtendedLifetime(weight) {
            for jp in 0..<(count / (k * nr)) where k > 0 {
                let panel = packed + jp * k * nr, j0 = jp * nr
                for p in 0..<k {
                    for j in 0..<nr { panel[p * nr + j] = j0 + j < n ? weight.ptr[(j0 + j) * k + p] : 0 }
                }
            }
        }
        self.packed = packed
        if let bias {
            precondition(bias.count == outFeatures, "PackedLinear: bias must be [out]")
            let b = UnsafeMutablePointer<Float>.allocate(capacity: n)
            withExtendedLifetime(bias) { b.update(from: bias.ptr, count: n) }
            self.bias = b
        } else {
            self.bias = nil
        }
    }

    deinit {
        packed.deallocate()
        bias?.deallocate()
    }

    /// out [rows, out] = x [rows, in] · Wᵀ + b, on the calling thread.
    public func callAsFunction(_ x: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<Float>) {
        // The width it was packed for (the same bits at either width).
        if vectorWidth == 16 { run(Tile6<SIMD16<Float>>.self, x, rows, out) } else { run(Tile6<SIMD8<Float>>.self, x, rows, out) }
    }

    @inline(__always)
    private func run<T: GEMMTile>(_: T.Type, _ x: UnsafePointer<Float>, _ rows: Int, _ out: UnsafeMutablePointer<Float>) {
        let mr = T.mr, k = inFeatures, n = outFeatures
        guard rows > 0, n > 0 else { return }
        if k == 0 {
            for i in 0..<rows { for j in 0..<n { out[i * n + j] = bias.map { $0[j] } ?? 0 } }
            return
        }
        let scratch = GEMMThreadScratch.current
        let tile = scratch.sums.floats(mr * nr), pad = scratch.strip.floats(mr * k)
        let strips = (rows + mr - 1) / mr
        for jp in 0..<panels {
            let j0 = jp * nr, w = Swift.min(nr, n - j0), panel = UnsafePointer(packed + jp * k * nr)
            for s in 0..<strips {
                let i0 = s * mr, h = Swift.min(mr, rows - i0)
                var a = x + i0 * k
                if h < mr {  // the last rows, copied with zero rows below
                    pad.update(from: a, count: h * k)
                    (pad + h * k).update(repeating: 0, count: (mr - h) * k)
                    a = UnsafePointer(pad)
                }
                T.kernel(k, a: a, rs: k, cs: 1, b: panel, bs: nr, c: tile, ldc: nr, first: true)
                for i in 0..<h {
                    let row = out + (i0 + i) * n + j0, t = tile + i * nr
                    if let bias {
                        let b = bias + j0
                        for j in 0..<w { row[j] = b[j] + t[j] }
                    } else {
                        row.update(from: t, count: w)
                    }
                }
            }
        }
    }
}
