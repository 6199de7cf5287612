import Foundation
import MSTaRTensor

/// Intervals and paired tests for accuracies measured on the same test prompts over several seeds:
/// what a reader needs to tell a real difference between two variants from noise.
///
/// Outcomes are laid out `[seed][prompt]` (true: the greedy answer is right). Intervals are
/// percentile bootstraps that resample seeds and prompts together (both are sources of variance:
/// a run's training and the test set), seeded, so the same outcomes give the same interval.
public enum StudyStatistics {
    /// A mean with its 95% interval.
    public struct Interval: Codable, Equatable, Sendable {
        /// The mean over every seed and prompt.
        public var mean: Double
        /// The 2.5% and 97.5% bootstrap percentiles.
        public var low: Double, high: Double
    }

    /// One variant against another on the same prompts and seeds.
    public struct Comparison: Codable, Equatable, Sendable {
        /// a − b: the difference of mean accuracies, with its 95% paired-bootstrap interval.
        public var difference: Interval
        /// (seed, prompt) pairs that a gets right and b wrong, and the reverse: McNemar's discordant pairs.
        public var onlyA: Int, onlyB: Int
        /// Exact two-sided McNemar p-value over the discordant pairs.
        public var p: Double
        /// Whether the difference is significant at 5%: the interval excludes 0 and p < 0.05.
        public var significant: Bool { p < 0.05 && (difference.low > 0 || difference.high < 0) }
    }

    /// Bootstrap draws behind every interval.
    public static let draws = 2000

    /// The 95% interval of the mean of `outcomes` [seed][prompt].
    public static func interval(_ outcomes: [[Bool]], seed: UInt64 = 0x57A7) -> Interval {
        let zero = outcomes.map { $0.map { _ in false } }
        return paired(outcomes, zero, seed: seed)
    }

    /// a − b, paired by seed and prompt (a[s][i] and b[s][i] are the same prompt in runs of the same
    /// seed): the difference with its interval and McNemar's exact test.
    public static func compare(_ a: [[Bool]], _ b: [[Bool]], seed: UInt64 = 0x57A7) -> Comparison {
        var onlyA = 0, onlyB = 0
        for (ra, rb) in zip(a, b) {
            for (x, y) in zip(ra, rb) where x != y { if x { onlyA += 1 } else { onlyB += 1 } }
        }
        return Comparison(difference: paired(a, b, seed: seed), onlyA: onlyA, onlyB: onlyB, p: mcnemarExact(onlyA, onlyB))
    }

    /// Exact two-sided McNemar p-value: twice the binomial(n = b + c, 1/2) tail at min(b, c), at most 1.
    public static func mcnemarExact(_ b: Int, _ c: Int) -> Double {
        let n = b + c
        guard n > 0 else { return 1 }
        let k = Swift.min(b, c)
        // Σ_{i ≤ k} C(n, i) / 2ⁿ in logs (n reaches thousands), summed from the largest term down.
        let logN = lgamma(Double(n + 1)) - Double(n) * log(2.0)
        var logTerms: [Double] = []
        for i in 0...k {
            let logChoose: Double = lgamma(Double(i + 1)) + lgamma(Double(n - i + 1))
            logTerms.append(logN - logChoose)
        }
        let top = logTerms.max()!
        var sum = 0.0
        for t in logTerms { sum += exp(t - top) }
        let tail = exp(top) * sum
        return Swift.min(1, 2 * tail)
    }

    /// Mean of a − b with its percentile interval: each draw resamples the seeds and the prompts
    /// with replacement, the same draw for a and b (the pairing survives).
    static func paired(_ a: [[Bool]], _ b: [[Bool]], seed: UInt64) -> Interval {
        let seeds = Swift.min(a.count, b.count), prompts = Swift.min(a.map(\.count).min() ?? 0, b.map(\.count).min() ?? 0)
        guard seeds > 0, prompts > 0 else { return Interval(mean: 0, low: 0, high: 0) }
        // d[s][i] ∈ {-1, 0, 1}.
        let d = (0..<seeds).map { s in (0..<prompts).map { i in Double((a[s][i] ? 1 : 0) - (b[s][i] ? 1 : 0)) } }
        let mean = d.reduce(0) { $0 + $1.reduce(0, +) } / Double(seeds * prompts)
        var rng = RNG(seed: seed)
        var means = [Double](repeating: 0, count: draws)
        for r in 0..<draws {
            var sum = 0.0
            let picked = (0..<seeds).map { _ in rng.int(below: seeds) }
            for _ in 0..<prompts {
                let i = rng.int(below: prompts)
                for s in picked { sum += d[s][i] }
            }
            means[r] = sum / Double(seeds * prompts)
        }
        means.sort()
        return Interval(mean: mean, low: means[Int(0.025 * Double(draws))], high: means[Int(0.975 * Double(draws)) - 1])
    }
}
