import Foundation
import MSTaRModel
import MSTaRTensor
import Testing

/// The lane-blocked decoding attention against a plain loop: softmax(q·k/√hs) v per head over a
/// prompt's prefix and each sample's own generated tokens.
@Suite struct DecodeAttentionTests {
    /// Runs `generated` decoding steps for `k` samples of `prompts` prompts with random keys, values
    /// and queries (some samples finished early) and compares every output with the plain loop.
    func check(k: Int, heads: Int, headSize hs: Int, prompts nP: Int, generated: Int, seed: UInt64) {
        var rng = RNG(seed: seed)
        let d = heads * hs, maxNew = generated + 2
        let prefixLength = (0..<nP).map { 1 + (3 * $0 + 5) % 9 }
        let maxPrefix = prefixLength.max()!
        let prefixK = Init.normal([nP, maxPrefix, d], std: 1, rng: &rng), prefixV = Init.normal([nP, maxPrefix, d], std: 1, rng: &rng)
        let cache = GeneratedCache(layers: 1, prompts: nP, k: k, maxNew: maxNew, width: d)
        let n = nP * k
        // Sequence s stops after `stop[s]` tokens (every sequence feeds at least one).
        let stop = (0..<n).map { s in s % 3 == 1 ? 1 + s % generated : generated }
        var keys = [[[Float]]](repeating: [], count: n), values = [[[Float]]](repeating: [], count: n)
        var worst: Float = 0
        for step in 0..<generated {
            let active = (0..<n).filter { stop[$0] > step }
            let qkv = Init.normal([active.count, 3 * d], std: 1, rng: &rng)
            let out = Tensor(uninitialized: [active.count, d])
            cache.attend(layer: 0, groups: cache.laneGroups(active: active), qkv: qkv.ptr, generated: step + 1, heads: heads,
                         prefixKeys: prefixK.ptr, prefixValues: prefixV.ptr, prefixLength: prefixLength, maxPrefix: maxPrefix,
                         out: out.ptr)
            for (r, s) in active.enumerated() {
                let row = qkv.ptr + r * 3 * d
                keys[s].append((0..<d).map { row[d + $0] }); values[s].append((0..<d).map { row[2 * d + $0] })
                let p = s / k, lp = prefixLength[p]
                for h in 0..<heads {
                    var scores: [Double] = []
                    for t in 0..<(lp + step + 1) {
                        var dot: Double = 0
                        for j in 0..<hs {
                            let key = t < lp ? prefixK.ptr[(p * maxPrefix + t) * d + h * hs + j] : keys[s][t - lp][h * hs + j]
                            dot += Double(row[h * hs + j]) * Double(key)
                        }
                        scores.append(dot / Double(hs).squareRoot())
                    }
                    let m = scores.max()!
                    let e = scores.map { Foundation.exp($0 - m) }, z = e.reduce(0, +)
                    for j in 0..<hs {
                        var o: Double = 0
                        for t in 0..<e.count {
                            let v = t < lp ? prefixV.ptr[(p * maxPrefix + t) * d + h * hs + j] : values[s][t - lp][h * hs + j]
                            o += e[t] / z * Double(v)
                        }
                        worst = Swift.max(worst, abs(Float(o) - out.ptr[r * d + h * hs + j]))
                    }
                }
            }
        }
        #expect(worst < 1e-5, "k \(k), heads \(heads) x \(hs): largest difference \(worst)")
    }

    @Test(arguments: [1, 2, 3, 5, 8, 16, 17])
    func matchesPlainLoop(k: Int) {
        check(k: k, heads: 2, headSize: 8, prompts: 3, generated: 6, seed: UInt64(90 + k))
    }

    /// Head sizes that are not multiples of the four-way unrolling.
    @Test func oddHeadSizes() {
        check(k: 6, heads: 3, headSize: 7, prompts: 2, generated: 5, seed: 99)
        check(k: 2, heads: 1, headSize: 5, prompts: 2, generated: 9, seed: 98)
    }
}
