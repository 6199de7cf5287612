import Foundation

/// The engine's own single-precision matrix product, with bits that depend on nothing but the inputs.
///
/// Every output is `alpha · Σₚ op(A)[i,p]·op(B)[p,j] + beta · C[i,j]`, the sum taken with one fused
/// multiply-add per term in order p = 0, 1, …, k−1 from 0. Vector lanes hold different outputs
/// (never parts of one sum), the k loop is never split, and threads divide the outputs, never a sum;
/// so the same bits come out at any vector width, tile shape, thread count or CPU, Intel or AMD. The
/// speed comes from the usual packing: A in strips of `mr` rows and B in panels of `nr` columns, laid
/// out so that the micro-kernel streams both, and an `mr × nr` block of outputs held in registers.

/// A register tile: `mr` rows by `nr` columns of outputs, and the kernel that accumulates them.
protocol GEMMTile {
    /// Rows of A per strip.
    static var mr: Int { get }
    /// Columns of B per panel.
    static var nr: Int { get }
    /// `c[i][j] (+)= Σₚ a[i·rs + p·cs] · b[p·bs + j]` for the tile's mr × nr outputs and p in 0..<kc, from
    /// zero when `first` (else continuing the sums stored in c, whose rows are `ldc` apart).
    static func kernel(_ kc: Int, a: UnsafePointer<Float>, rs: Int, cs: Int, b: UnsafePointer<Float>, bs: Int,
                       c: UnsafeMutablePointer<Float>, ldc: Int, first: Bool)
}

/// 6 rows by two vectors of outputs: with 16 lanes (AVX-512) twelve of its 32 registers, with 8 lanes
/// (AVX2) twelve of its 16. The same code for both widths, so only the speed differs. A is read in
/// place through its strides (a broadcast per row and step), B as two vectors per step.
enum Tile6<V: SIMD>: GEMMTile where V.Scalar == Float {
    static var mr: Int { 6 }
    static var nr: Int { 2 * V.scalarCount }

    @inline(__always)
    static func kernel(_ kc: Int, a: UnsafePointer<Float>, rs: Int, cs: Int, b: UnsafePointer<Float>, bs: Int,
                       c: UnsafeMutablePointer<Float>, ldc: Int, first: Bool) {
        let out = UnsafeMutableRawPointer(c)
        let w = MemoryLayout<V>.stride, r = 4 * ldc
        var c00 = V(), c01 = V(), c10 = V(), c11 = V(), c20 = V(), c21 = V()
        var c30 = V(), c31 = V(), c40 = V(), c41 = V(), c50 = V(), c51 = V()
        if !first {
            c00 = out.loadUnaligned(fromByteOffset: 0, as: V.self); c01 = out.loadUnaligned(fromByteOffset: w, as: V.self)
            c10 = out.loadUnaligned(fromByteOffset: r, as: V.self); c11 = out.loadUnaligned(fromByteOffset: r + w, as: V.self)
            c20 = out.loadUnaligned(fromByteOffset: 2 * r, as: V.self); c21 = out.loadUnaligned(fromByteOffset: 2 * r + w, as: V.self)
            c30 = out.loadUnaligned(fromByteOffset: 3 * r, as: V.self); c31 = out.loadUnaligned(fromByteOffset: 3 * r + w, as: V.self)
            c40 = out.loadUnaligned(fromByteOffset: 4 * r, as: V.self); c41 = out.loadUnaligned(fromByteOffset: 4 * r + w, as: V.self)
            c50 = out.loadUnaligned(fromByteOffset: 5 * r, as: V.self); c51 = out.loadUnaligned(fromByteOffset: 5 * r + w, as: V.self)
        }
        let a0 = a, a1 = a + rs, a2 = a + 2 * rs, a3 = a + 3 * rs, a4 = a + 4 * rs, a5 = a + 5 * rs
        var bp = UnsafeRawPointer(b), p = 0
        for _ in 0..<kc {
            let b0 = bp.loadUnaligned(as: V.self), b1 = bp.loadUnaligned(fromByteOffset: w, as: V.self)
            var s = V(repeating: a0[p]); c00 = c00.addingProduct(s, b0); c01 = c01.addingProduct(s, b1)
            s = V(repeating: a1[p]); c10 = c10.addingProduct(s, b0); c11 = c11.addingProduct(s, b1)
            s = V(repeating: a2[p]); c20 = c20.addingProduct(s, b0); c21 = c21.addingProduct(s, b1)
            s = V(repeating: a3[p]); c30 = c30.addingProduct(s, b0); c31 = c31.addingProduct(s, b1)
            s = V(repeating: a4[p]); c40 = c40.addingProduct(s, b0); c41 = c41.addingProduct(s, b1)
            s = V(repeating: a5[p]); c50 = c50.addingProduct(s, b0); c51 = c51.addingProduct(s, b1)
            p += cs
            bp += 4 * bs
        }
        out.storeBytes(of: c00, toByteOffset: 0, as: V.self); out.storeBytes(of: c01, toByteOffset: w, as: V.self)
        out.storeBytes(of: c10, toByteOffset: r, as: V.self); out.storeBytes(of: c11, toByteOffset: r + w, as: V.self)
        out.storeBytes(of: c20, toByteOffset: 2 * r, as: V.self); out.storeBytes(of: c21, toByteOffset: 2 * r + w, as: V.self)
        out.storeBytes(of: c30, toByteOffset: 3 * r, as: V.self); out.storeBytes(of: c31, toByteOffset: 3 * r + w, as: V.self)
        out.storeBytes(of: c40, toByteOffset: 4 * r, as: V.self); out.storeBytes(of: c41, toByteOffset: 4 * r + w, as: V.self)
        out.storeBytes(of: c50, toByteOffset: 5 * r, as: V.self); out.storeBytes(of: c51, toByteOffset: 5 * r + w, as: V.self)
    }
}

/// Scratch memory a thread packs into, kept between products so that the hot loop allocates nothing.
final class GEMMScratch {
    private var buffer: UnsafeMutablePointer<Float>
    private var capacity = 0

    init() { buffer = .allocate(capacity: 1) }

    deinit { buffer.deallocate() }

    /// At least `count` floats, 64-byte aligned.
    func floats(_ count: Int) -> UnsafeMutablePointer<Float> {
        if count > capacity {
            buffer.deallocate()
            capacity = Swift.max(count, capacity * 2)
            buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity * 4, alignment: 64).bindMemory(to: Float.self, capacity: capacity)
        }
        return buffer
    }
}

/// A thread's packing buffers: products run on many threads at once (attention heads in parallel,
/// tests side by side), so each thread packs into its own.
final class GEMMThreadScratch {
    /// The packed B of a deep product (shared read-only by its workers).
    let b = GEMMScratch()
    /// A worker's own: a packed panel, the padded last strip, partial sums.
    let panel = GEMMScratch(), strip = GEMMScratch(), sums = GEMMScratch()

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key) { p in if let p { Unmanaged<GEMMThreadScratch>.fromOpaque(p).release() } }
        return key
    }()

    /// The calling thread's buffers, made on its first product.
    static var current: GEMMThreadScratch {
        if let p = pthread_getspecific(key) { return Unmanaged<GEMMThreadScratch>.fromOpaque(p).takeUnretainedValue() }
        let s = GEMMThreadScratch()
        pthread_setspecific(key, Unmanaged.passRetained(s).toOpaque())
        return s
    }
}

/// C = alpha · op(A)·op(B) + beta · C, every output one in-order FMA chain.
enum GEMM {
    /// Depth of one pass over k in a deep product: a 6 × 256 strip of A and a 256-row block of B
    /// stay in cache while every panel of the strip accumulates.
    static let kc = 256
    /// Products deeper than this accumulate in blocks of `kc` (the weight gradients, whose depth is
    /// every token of the batch); shallower ones run each tile's whole sum in one pass.
    static let deep = 512

    /// The product over up to `threads` workers, each computing whole outputs: runs of row strips, or
    /// of column panels when there are too few strips. Small products stay on the calling thread.
    static func product<T: GEMMTile>(_: T.Type, transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                                     a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                                     beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, bias: UnsafePointer<Float>? = nil,
                                     threads: Int) {
        let mr = T.mr, nr = T.nr
        let strips = (m + mr - 1) / mr, panels = (n + nr - 1) / nr
        let byRows = strips >= 2 * threads || panels < threads
        let units = byRows ? strips : panels
        let workers = Swift.max(1, Swift.min(threads, units, (m * n * k) >> 18))
        let per = (units + workers - 1) / workers
        // A deep product packs B once for all its workers when it is stored transposed or ragged.
        let packB = k > deep && (transB || n % nr != 0)
        let np = panels * nr
        let packed = packB ? GEMMThreadScratch.current.b.floats(k * np) : nil
        if let packed {
            for p in 0..<k {
                let row = packed + p * np
                if transB { for j in 0..<n { row[j] = b[j * ldb + p] } } else { row.update(from: b + p * ldb, count: n) }
                for j in n..<np { row[j] = 0 }
            }
        }
        let bIn = packed.map { UnsafePointer($0) } ?? b, bStride = packed == nil ? ldb : np, bTransposed = packed == nil && transB
        func work(_ w: Int) {
            let lo = w * per, hi = Swift.min(units, lo + per)
            guard lo < hi else { return }
            let rows = byRows ? lo..<hi : 0..<strips, cols = byRows ? 0..<panels : lo..<hi
            if k > deep {
                deepBlock(T.self, transA: transA, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: bIn, bs: bStride, beta: beta, c: c, ldc: ldc, bias: bias,
                          strips: rows, panels: cols)
            } else {
                shallowBlock(T.self, transA: transA, transB: bTransposed, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: bIn, ldb: bStride,
                             beta: beta, c: c, ldc: ldc, bias: bias, strips: rows, panels: cols)
            }
        }
        if workers == 1 { work(0) } else { parallelEach(workers) { work($0) } }
    }

    /// Outputs of `strips` × `panels` with k ≤ `deep`: each tile's whole sum in one kernel call,
    /// straight into C when the tile is whole and C is not scaled or added to.
    @inline(__always)
    static func shallowBlock<T: GEMMTile>(_: T.Type, transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                                          a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                                          beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, bias: UnsafePointer<Float>?,
                                          strips: Range<Int>, panels: Range<Int>) {
        let mr = T.mr, nr = T.nr
        let scratch = GEMMThreadScratch.current
        let tile = scratch.sums.floats(mr * nr), panel = scratch.panel.floats(Swift.max(k, 1) * nr)
        let pad = scratch.strip.floats(mr * Swift.max(k, 1))
        let (rs, cs) = transA ? (1, lda) : (lda, 1)
        for jp in panels {
            let j0 = jp * nr, w = Swift.min(nr, n - j0)
            // B in place when its rows hold the panel's columns; else packed k × nr, zero past n.
            var bp = b + j0, bs = ldb
            if transB || w < nr {
                for p in 0..<k {
                    let row = panel + p * nr
                    if transB { for j in 0..<w { row[j] = b[(j0 + j) * ldb + p] } } else { row.update(from: b + p * ldb + j0, count: w) }
                    for j in w..<nr { row[j] = 0 }
                }
                bp = UnsafePointer(panel)
                bs = nr
            }
            for s in strips {
                let i0 = s * mr, h = Swift.min(mr, m - i0)
                var ap = a + i0 * rs, ars = rs, acs = cs
                if h < mr {  // the last rows, copied with zero rows below
                    for i in 0..<mr { for p in 0..<k { pad[i * k + p] = i < h ? a[(i0 + i) * rs + p * cs] : 0 } }
                    ap = UnsafePointer(pad); ars = k; acs = 1
                }
                let direct = h == mr && w == nr && alpha == 1 && beta == 0 && bias == nil && k > 0
                if k == 0 {
                    tile.update(repeating: 0, count: mr * nr)
                } else {
                    T.kernel(k, a: ap, rs: ars, cs: acs, b: bp, bs: bs, c: direct ? c + i0 * ldc + j0 : tile, ldc: direct ? ldc : nr, first: true)
                }
                if !direct { store(tile, nr, h: h, w: w, alpha: alpha, beta: beta, bias: bias.map { $0 + j0 }, into: c + i0 * ldc + j0, ldc: ldc) }
            }
        }
    }

    /// Outputs of `strips` × `panels` with k > `deep`: k in blocks of `kc`, the partial sums kept
    /// in a padded buffer between blocks and continued in the same order; each strip's block of A is
    /// packed (6 floats a step) so that the kernel reads it from one place.
    @inline(__always)
    static func deepBlock<T: GEMMTile>(_: T.Type, transA: Bool, m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
                                       b: UnsafePointer<Float>, bs: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int,
                                       bias: UnsafePointer<Float>?,
                                       strips: Range<Int>, panels: Range<Int>) {
        let mr = T.mr, nr = T.nr
        let scratch = GEMMThreadScratch.current
        let width = panels.count * nr
        let sums = scratch.sums.floats(strips.count * mr * width), apack = scratch.strip.floats(mr * kc)
        let (rs, cs) = transA ? (1, lda) : (lda, 1)
        var p0 = 0
        while p0 < k {
            let depth = Swift.min(kc, k - p0)
            for s in strips {
                let i0 = s * mr, h = Swift.min(mr, m - i0)
                for p in 0..<depth { for i in 0..<mr { apack[p * mr + i] = i < h ? a[(i0 + i) * rs + (p0 + p) * cs] : 0 } }
                let row = sums + (s - strips.lowerBound) * mr * width
                for jp in panels {
                    T.kernel(depth, a: apack, rs: 1, cs: mr, b: b + p0 * bs + jp * nr, bs: bs,
                             c: row + (jp - panels.lowerBound) * nr, ldc: width, first: p0 == 0)
                }
            }
            p0 += depth
        }
        for s in strips {
            let i0 = s * mr, h = Swift.min(mr, m - i0)
            for jp in panels {
                let j0 = jp * nr
                store(sums + (s - strips.lowerBound) * mr * width + (jp - panels.lowerBound) * nr, width, h: h, w: Swift.min(nr, n - j0),
                      alpha: alpha, beta: beta, bias: bias.map { $0 + j0 }, into: c + i0 * ldc + j0, ldc: ldc)
            }
        }
    }

    /// C = alpha · sums + beta · C over an h × w tile whose sums sit `stride` apart; with `bias`
    /// (beta 0), C = bias + alpha · sums, the bits of beta 1 over a C that held the bias.
    @inline(__always)
    static func store(_ sums: UnsafePointer<Float>, _ stride: Int, h: Int, w: Int, alpha: Float, beta: Float,
                      bias: UnsafePointer<Float>?, into c: UnsafeMutablePointer<Float>, ldc: Int) {
        for i in 0..<h {
            let row = c + i * ldc, s = sums + i * stride
            if let bias {
                if alpha == 1 { for j in 0..<w { row[j] = bias[j] + s[j] } } else { for j in 0..<w { row[j] = bias[j] + alpha * s[j] } }
            } else if beta == 0 {
                if alpha == 1 { row.update(from: s, count: w) } else { for j in 0..<w { row[j] = alpha * s[j] } }
            } else {
                for j in 0..<w { row[j] = beta * row[j] + (alpha == 1 ? s[j] : alpha * s[j]) }
            }
        }
    }
}
