import Foundation
import MSTaR
import MSTaRTensor
import Testing

/// Intervals and paired tests of the study's tables, against independent references.
@Suite struct StatisticsTests {
    /// McNemar's exact p-value equals scipy.stats.binomtest(min(b, c), b + c, 0.5) (two-sided),
    /// computed with SciPy 1.17.1.
    @Test func mcnemarMatchesSciPy() {
        let reference: [(Int, Int, Double)] = [
            (10, 2, 0.03857421875), (0, 5, 0.0625), (30, 30, 1.0), (120, 90, 0.045114087864840696),
            (1000, 1100, 0.03072070786424249), (3, 0, 0.25),
        ]
        for (b, c, p) in reference {
            #expect(abs(StudyStatistics.mcnemarExact(b, c) - p) < 1e-9 * max(1, p), "b \(b), c \(c)")
            #expect(StudyStatistics.mcnemarExact(b, c) == StudyStatistics.mcnemarExact(c, b))
        }
        #expect(StudyStatistics.mcnemarExact(0, 0) == 1)
    }

    static func outcomes(seeds: Int, prompts: Int, rate: Double, seed: UInt64) -> [[Bool]] {
        var rng = RNG(seed: seed)
        return (0..<seeds).map { _ in (0..<prompts).map { _ in Double(rng.uniform()) < rate } }
    }

    /// The interval holds the mean, narrows with more prompts, and is the same for the same outcomes.
    @Test func intervalsHoldTheMeanAndNarrowWithData() {
        let small = Self.outcomes(seeds: 3, prompts: 100, rate: 0.3, seed: 1)
        let large = Self.outcomes(seeds: 3, prompts: 1600, rate: 0.3, seed: 2)
        let a = StudyStatistics.interval(small), b = StudyStatistics.interval(large)
        let mean = Double(small.flatMap { $0 }.filter { $0 }.count) / 300
        #expect(abs(a.mean - mean) < 1e-12)
        #expect(a.low < a.mean && a.mean < a.high && b.low < b.mean && b.mean < b.high)
        #expect(b.high - b.low < (a.high - a.low) / 2, "16x the prompts: about a quarter of the width")
        // About the binomial width: 2 · 1.96 · √(p(1-p)/n) for n = 300.
        let expected = 2 * 1.96 * (0.3 * 0.7 / 300).squareRoot()
        #expect(abs((a.high - a.low) - expected) < 0.5 * expected)
        #expect(StudyStatistics.interval(small) == a)
    }

    /// A variant that is right wherever the baseline is and on 27 more prompts in every seed is
    /// significantly better; one equal to the baseline is not; an effect that only one seed shows
    /// is not resolved (seeds are resampled too).
    @Test func pairedComparisonsSeparateRealDifferencesFromNoise() {
        let base = Self.outcomes(seeds: 3, prompts: 400, rate: 0.25, seed: 3)
        var better = base
        var added = 0
        for s in 0..<3 {  // 27 more in every seed: an effect each run shows
            var here = 0
            for i in 0..<400 where !better[s][i] && here < 27 { better[s][i] = true; here += 1; added += 1 }
        }
        let c = StudyStatistics.compare(better, base)
        #expect(c.onlyA == added && c.onlyB == 0)
        #expect(c.significant && c.difference.low > 0 && abs(c.difference.mean - Double(added) / 1200) < 1e-12)
        var oneSeed = base
        for i in 0..<400 where !oneSeed[0][i] && i < 200 { oneSeed[0][i] = true }
        #expect(StudyStatistics.compare(oneSeed, base).difference.low <= 0, "an effect in one seed of three")
        let same = StudyStatistics.compare(base, base)
        #expect(!same.significant && same.p == 1 && same.difference.mean == 0)
        // Unpaired noise of the same size: two independent draws at one rate are rarely significant.
        let other = Self.outcomes(seeds: 3, prompts: 400, rate: 0.25, seed: 4)
        #expect(!StudyStatistics.compare(other, base).significant)
    }
}
