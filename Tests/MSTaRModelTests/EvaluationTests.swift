import Foundation
import MSTaRModel
import Testing

@Suite struct EvaluationTests {
    /// The unbiased estimator equals the fraction of all k-subsets of the n samples that contain a
    /// correct one, counted by enumerating every subset.
    @Test func passAtKMatchesExactEnumeration() {
        for n in 1...8 {
            for c in 0...n {
                for k in 1...n {
                    var hit = 0, total = 0
                    for mask in 0..<(1 << n) where mask.nonzeroBitCount == k {
                        total += 1
                        // Samples 0..<c are the correct ones.
                        if mask & ((1 << c) - 1) != 0 { hit += 1 }
                    }
                    #expect(abs(passAtK(n: n, c: c, k: k) - Double(hit) / Double(total)) < 1e-12, "n \(n) c \(c) k \(k)")
                }
            }
        }
        #expect(passAtK(n: 3, c: 1, k: 16) == 1)
        #expect(passAtK(n: 3, c: 0, k: 16) == 0)
    }
}
