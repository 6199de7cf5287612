import Foundation
import MSTaRTensor
import Testing

/// Products with a bias added as tiles are stored, and decoding's packed weights, against the plain
/// in-order fused sum: the bits of `beta 1` over an output that held the bias.
@Suite(.serialized) struct PackedLinearTests {
    /// x · Wᵀ + b, one output at a time: Σₚ fma in order from 0, then b + sum.
    static func reference(_ x: [Float], _ w: [Float], _ b: [Float]?, rows: Int, inF: Int, outF: Int, alpha: Float = 1) -> [Float] {
        var out = [Float](repeating: 0, count: rows * outF)
        for i in 0..<rows {
            for j in 0..<outF {
                var acc: Float = 0
                for p in 0..<inF { acc = acc.addingProduct(x[i * inF + p], w[j * inF + p]) }
                let r = alpha == 1 ? acc : alpha * acc
                out[i * outF + j] = b.map { $0[j] + r } ?? r
            }
        }
        return out
    }

    @Test func packedWeightsGiveThePlainSumPlusBiasAtEveryWidth() throws {
        var rng = RNG(seed: 31)
        for trial in 0..<40 {
            let rows = 1 + rng.int(below: 20), inF = rng.int(below: 70), outF = 1 + rng.int(below: 90)
            let x = (0..<Swift.max(1, rows * inF)).map { _ in rng.uniform() - 0.5 }
            let w = (0..<Swift.max(1, outF * inF)).map { _ in rng.uniform() - 0.5 }
            let b: [Float]? = trial % 3 == 0 ? nil : (0..<outF).map { _ in rng.uniform() - 0.5 }
            let expected = Self.reference(x, w, b, rows: rows, inF: inF, outF: outF)
            let weight = try Tensor(Array(w.prefix(outF * inF)), shape: [outF, inF])
            let bias = try b.map { try Tensor($0, shape: [outF]) }
            for width in [8, 16] {
                Numerics.vectorWidth = width
                let packed = PackedLinear(weight: weight, bias: bias)
                var got = [Float](repeating: .nan, count: rows * outF)
                got.withUnsafeMutableBufferPointer { out in packed(x, rows: rows, into: out.baseAddress!) }
                #expect(got.map(\.bitPattern) == expected.map(\.bitPattern), "\(rows)x\(inF)→\(outF) bias \(b != nil) width \(width)")
            }
        }
        Numerics.vectorWidth = Numerics.wideVectors ? 16 : 8
    }

    /// `sgemm(bias:)`, shallow and deep, at every width and thread count: the bits of the same
    /// product with beta 1 over rows holding the bias.
    @Test func aBiasGivesTheBitsOfBetaOneOverTheBias() {
        var rng = RNG(seed: 32)
        for (m, n, k, alpha) in [(7, 33, 20, Float(1)), (13, 16, 0, 1), (40, 50, 700, 1), (5, 70, 130, 0.5), (64, 8, 600, -2)] {
            let a = (0..<Swift.max(1, m * k)).map { _ in rng.uniform() - 0.5 }, b = (0..<Swift.max(1, n * k)).map { _ in rng.uniform() - 0.5 }
            let bias = (0..<n).map { _ in rng.uniform() - 0.5 }
            let expected = Self.reference(a, b, bias, rows: m, inF: k, outF: n, alpha: alpha)
            for (width, threads) in [(8, 1), (16, 1), (8, 3), (16, 2)] {
                Numerics.vectorWidth = width
                var got = [Float](repeating: .nan, count: m * n)
                var betaOne = (0..<m).flatMap { _ in bias }
                Runtime.withThreads(threads) {
                    sgemm(transB: true, m: m, n: n, k: k, alpha: alpha, a: a, b: b, c: &got, bias: bias)
                    sgemm(transB: true, m: m, n: n, k: k, alpha: alpha, a: a, b: b, beta: 1, c: &betaOne)
                }
                #expect(got.map(\.bitPattern) == expected.map(\.bitPattern), "\(m)x\(n)x\(k) width \(width) threads \(threads)")
                #expect(got.map(\.bitPattern) == betaOne.map(\.bitPattern), "\(m)x\(n)x\(k) width \(width) threads \(threads)")
            }
        }
        Numerics.vectorWidth = Numerics.wideVectors ? 16 : 8
    }

    /// Every job runs once, on a runtime of one thread; a stop hands out no further job.
    @Test(arguments: [1, 2, 5])
    func jobsRunOnceEachOnOneThreadAndStop(threads: Int) throws {
        let n = 37
        var seen = [Int](repeating: 0, count: n), inner = [Int](repeating: 0, count: n)
        try seen.withUnsafeMutableBufferPointer { seen in
            try inner.withUnsafeMutableBufferPointer { inner in
                try Runtime.withThreads(threads) {
                    try parallelJobs(n) { i in seen[i] += 1; inner[i] = Runtime.threads }
                }
            }
        }
        #expect(seen == [Int](repeating: 1, count: n))
        #expect(inner == [Int](repeating: 1, count: n))
        var asked = 0, ran = [Bool](repeating: false, count: n)
        try ran.withUnsafeMutableBufferPointer { ran in
            try Runtime.withThreads(threads) {
                try parallelJobs(n, stop: { asked += 1; return asked > 10 }) { i in ran[i] = true }
            }
        }
        #expect(ran.filter { $0 }.count == 10 && asked == 11)
    }
}
