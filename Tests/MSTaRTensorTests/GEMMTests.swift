import Foundation
import MSTaRTensor
import Testing

/// The portable matrix product against a plain loop: every output the same bits as
/// `Σₚ fma(a, b, acc)` in order, whatever the shape, layout, vector width or thread count.
@Suite struct GEMMTests {
    /// The definition, one output at a time.
    static func reference(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: [Float], lda: Int,
                          b: [Float], ldb: Int, beta: Float, c: inout [Float], ldc: Int) {
        for i in 0..<m {
            for j in 0..<n {
                var acc: Float = 0
                for p in 0..<k {
                    acc = acc.addingProduct(transA ? a[p * lda + i] : a[i * lda + p], transB ? b[j * ldb + p] : b[p * ldb + j])
                }
                let r = alpha == 1 ? acc : alpha * acc
                c[i * ldc + j] = beta == 0 ? r : beta * c[i * ldc + j] + r
            }
        }
    }

    @Test func everyOutputIsTheInOrderFusedSumAtEveryWidthAndThreadCount() throws {
        var rng = RNG(seed: 5)
        for trial in 0..<80 {
            let m = 1 + rng.int(below: 45), n = 1 + rng.int(below: 80), k = rng.int(below: 300)
            let transA = rng.int(below: 2) == 1, transB = rng.int(below: 2) == 1
            let alpha: Float = [1, 0.5, -2][trial % 3], beta: Float = [0, 1, 0.25, 0][trial % 4]
            // Leading dimensions wider than the matrix, as attention's strided heads use them.
            let lda = (transA ? m : k) + rng.int(below: 3), ldb = (transB ? k : n) + rng.int(below: 3), ldc = n + rng.int(below: 3)
            let a = (0..<Swift.max(1, (transA ? k : m) * lda)).map { _ in rng.uniform() - 0.5 }
            let b = (0..<Swift.max(1, (transB ? n : k) * ldb)).map { _ in rng.uniform() - 0.5 }
            let c0 = (0..<(m * ldc)).map { _ in rng.uniform() - 0.5 }
            var expected = c0
            Self.reference(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                           beta: beta, c: &expected, ldc: ldc)
            for (width, threads) in [(8, 1), (16, 1), (8, 3), (16, 2)] {
                Numerics.vectorWidth = width
                var got = c0
                Runtime.withThreads(threads) {
                    sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                          beta: beta, c: &got, ldc: ldc)
                }
                #expect(got.map(\.bitPattern) == expected.map(\.bitPattern),
                        "\(m)x\(n)x\(k) transA \(transA) transB \(transB) width \(width) threads \(threads)")
            }
        }
        Numerics.vectorWidth = Numerics.wideVectors ? 16 : 8
    }

    @Test func largeProductsSplitOverThreadsGiveTheSameBits() throws {
        var rng = RNG(seed: 6)
        // Tall (split by rows) and short-wide (split by column panels), as training and decoding run them.
        for (m, n, k) in [(700, 96, 64), (10, 900, 128)] {
            let a = (0..<(m * k)).map { _ in rng.uniform() - 0.5 }, b = (0..<(n * k)).map { _ in rng.uniform() - 0.5 }
            var expected = [Float](repeating: 0, count: m * n)
            Self.reference(transA: false, transB: true, m: m, n: n, k: k, alpha: 1, a: a, lda: k, b: b, ldb: k, beta: 0, c: &expected, ldc: n)
            for threads in [1, 2, 4, 7] {
                var got = [Float](repeating: 0, count: m * n)
                Runtime.withThreads(threads) { sgemm(transB: true, m: m, n: n, k: k, a: a, b: b, c: &got) }
                #expect(got.map(\.bitPattern) == expected.map(\.bitPattern), "\(m)x\(n)x\(k) at \(threads) threads")
            }
            var single = [Float](repeating: 0, count: m * n)
            sgemmSingle(transB: true, m: m, n: n, k: k, a: a, b: b, c: &single)
            #expect(single.map(\.bitPattern) == expected.map(\.bitPattern))
        }
        // Every row comes out the same wherever it sits in the batch.
        #expect(gemmRowPlacementSensitivity() == 0)
    }
}
