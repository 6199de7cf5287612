import COpenBLAS

#if os(Linux)
/// glibc's mallopt (malloc.h is not part of the Glibc module).
@_silgen_name("mallopt") private func mallopt(_ param: Int32, _ value: Int32) -> Int32
private let M_TRIM_THRESHOLD: Int32 = -1, M_MMAP_THRESHOLD: Int32 = -3
#endif

/// Process-wide compute settings: BLAS threads and the kernel OpenBLAS chose.
///
/// Float results depend in the last bits on the BLAS thread count and kernel, so both are settings
/// that journals and benchmarks record, and a run that must be reproduced pins them.
public enum Runtime {
    nonisolated(unsafe) private static var _threads = 1

    /// A thread count for the current task only (see `withThreads`).
    @TaskLocal static var scopedThreads: Int?

    /// Threads used by OpenBLAS and by the element-wise kernels that split work.
    public static var threads: Int { scopedThreads ?? _threads }

    /// Runs `body` with `n` threads for the work this task starts, leaving the process setting and
    /// other tasks alone (tests compare thread counts side by side this way). Needs `blasSplit`, so
    /// that OpenBLAS itself stays single-threaded.
    public static func withThreads<R>(_ n: Int, _ body: () throws -> R) rethrows -> R {
        try $scopedThreads.withValue(Swift.max(1, n)) { try body() }
    }

    /// Sets the thread count for BLAS and element-wise work (call once, before computing).
    /// Whether large GEMMs are split over mstar's workers (single-threaded OpenBLAS underneath)
    /// rather than threaded inside OpenBLAS. Set before `setThreads`.
    nonisolated(unsafe) public static var blasSplit = true

    public static func setThreads(_ n: Int) {
        _threads = Swift.max(1, n)
        openblas_set_num_threads(Int32(blasSplit ? 1 : _threads))
        keepFreedMemory()
    }

    /// Training frees and reallocates the same activation buffers every step. By default glibc
    /// hands blocks of a few MB back to the kernel and faults them in again (zeroed) next step;
    /// keeping them in the heap removes that cost.
    private static func keepFreedMemory() {
        #if os(Linux)
        _ = mallopt(M_MMAP_THRESHOLD, 256 << 20)
        _ = mallopt(M_TRIM_THRESHOLD, 512 << 20)
        #endif
    }

    /// The OpenBLAS core type in use (e.g. "Haswell", "SkylakeX").
    public static var blasKernel: String { String(cString: openblas_get_corename()) }

    /// The OpenBLAS build configuration string.
    public static var blasConfig: String { String(cString: openblas_get_config()) }
}

/// Row-major single-precision GEMM: C = alpha * op(A) * op(B) + beta * C, where op(A) is M x K and
/// op(B) is K x N. Leading dimensions default to tight packing of the stored (untransposed) layout.
/// With `bias` (N floats; beta must be 0), C = bias + alpha * op(A) * op(B) row by row: the bits of
/// beta 1 over a C whose rows hold the bias, without writing and reading C twice.
@inline(__always)
public func sgemm(
    transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
    a: UnsafePointer<Float>, lda: Int? = nil, b: UnsafePointer<Float>, ldb: Int? = nil,
    beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int? = nil, bias: UnsafePointer<Float>? = nil
) {
    if m == 0 || n == 0 { return }
    precondition(bias == nil || beta == 0, "sgemm: a bias replaces C (beta must be 0)")
    var beta = beta
    if let bias, k == 0 || Numerics.mode != .portable {
        // The bias as C's rows, added to with beta 1.
        for i in 0..<m { (c + i * (ldc ?? n)).update(from: bias, count: n) }
        beta = 1
    }
    let gemmBias = beta == 0 ? bias : nil
    if k == 0 {  // BLAS leaves C untouched when K = 0 only if beta is honoured; make it explicit
        for i in 0..<m { for j in 0..<n { let p = c + i * (ldc ?? n) + j; p.pointee = beta == 0 ? 0 : beta * p.pointee } }
        return
    }
    let lda = lda ?? (transA ? m : k), ldb = ldb ?? (transB ? k : n), ldc = ldc ?? n
    if Numerics.mode == .portable {
        if Numerics.vectorWidth == 16 {
            GEMM.product(Tile6<SIMD16<Float>>.self, transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                         a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc, bias: gemmBias, threads: Runtime.threads)
        } else {
            GEMM.product(Tile6<SIMD8<Float>>.self, transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                         a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc, bias: gemmBias, threads: Runtime.threads)
        }
        return
    }
    // Large products are split by output rows over our own workers, each calling single-threaded
    // OpenBLAS: one thread pool instead of two competing ones (OpenBLAS's idle workers spin in
    // sched_yield and steal the cores that the element-wise kernels need). Each output element is
    // computed by the same kernel either way.
    let workers = Runtime.blasSplit ? Swift.min(Runtime.threads, m / 64) : 1
    if workers > 1 && m * n * k >= 1 << 18 {
        let rowsPer = (m + workers - 1) / workers
        parallelEach(workers) { w in
            let lo = w * rowsPer, rows = Swift.min(m, lo + rowsPer) - lo
            guard rows > 0 else { return }
            cblas_sgemm(
                CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                Int32(rows), Int32(n), Int32(k), alpha,
                transA ? a + lo : a + lo * lda, Int32(lda), b, Int32(ldb), beta, c + lo * ldc, Int32(ldc))
        }
        return
    }
    cblas_sgemm(
        CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
        Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

/// The same product as `sgemm`, always as one call on the calling thread (never split): for
/// callers that parallelise at a coarser level and need each row computed the same way.
@inline(__always)
public func sgemmSingle(
    transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
    a: UnsafePointer<Float>, lda: Int? = nil, b: UnsafePointer<Float>, ldb: Int? = nil,
    beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int? = nil
) {
    if m == 0 || n == 0 { return }
    if Numerics.mode == .portable {
        let lda = lda ?? (transA ? m : k), ldb = ldb ?? (transB ? k : n), ldc = ldc ?? n
        if Numerics.vectorWidth == 16 {
            GEMM.product(Tile6<SIMD16<Float>>.self, transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                         a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc, threads: 1)
        } else {
            GEMM.product(Tile6<SIMD8<Float>>.self, transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                         a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc, threads: 1)
        }
        return
    }
    cblas_sgemm(
        CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
        Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda ?? (transA ? m : k)), b, Int32(ldb ?? (transB ? k : n)),
        beta, c, Int32(ldc ?? n))
}

/// How many row positions of a `rows`-row product X·Wᵀ (as the sampler's decoding blocks compute
/// it) give a row other bits than position 0 does: 0 when this BLAS computes every row the same
/// way, so a sample's numbers cannot depend on its place in the batch. OpenBLAS 0.3.21's Haswell
/// and Zen SGEMM kernels give 68 of 128 when OpenBLAS runs single-threaded, as `Runtime` sets it
/// (rows 6–11 of every 12, and the last 8; more when OpenBLAS splits the product over its own
/// threads); its Sandybridge kernels (`OPENBLAS_CORETYPE=Sandybridge`) give 0, and so did the
/// AVX-512 machine the notebooks were recorded on (bit-identical samples).
public func gemmRowPlacementSensitivity(rows: Int = 128, k: Int = 128, n: Int = 384, seed: UInt64 = 1) -> Int {
    var rng = RNG(seed: seed)
    let x = (0..<(rows * k)).map { _ in rng.uniform() - 0.5 }, w = (0..<(n * k)).map { _ in rng.uniform() - 0.5 }
    var reference = [Float](repeating: 0, count: rows * n), moved = reference, swapped = x
    sgemmSingle(transB: true, m: rows, n: n, k: k, a: x, b: w, c: &reference)
    var differing = 0
    for p in 1..<rows {
        // Row 0 moves to position p (and row p to 0); compare its outputs, then swap them back.
        for j in 0..<k { swapped.swapAt(j, p * k + j) }
        sgemmSingle(transB: true, m: rows, n: n, k: k, a: swapped, b: w, c: &moved)
        if !moved[(p * n)..<((p + 1) * n)].elementsEqual(reference[0..<n], by: { $0.bitPattern == $1.bitPattern }) { differing += 1 }
        for j in 0..<k { swapped.swapAt(j, p * k + j) }
    }
    return differing
}
