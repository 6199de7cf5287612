import Foundation
import MSTaRTensor
import Testing

@Suite struct RNGTests {
    @Test func sameSeedSameStreamDifferentSeedDifferentStream() {
        var a = RNG(seed: 42), b = RNG(seed: 42), c = RNG(seed: 43), d = RNG(seed: 42, stream: 1)
        let xa = (0..<8).map { _ in a.next() }, xb = (0..<8).map { _ in b.next() }
        let xc = (0..<8).map { _ in c.next() }, xd = (0..<8).map { _ in d.next() }
        #expect(xa == xb)
        #expect(xa != xc && xa != xd)
    }

    @Test func xoshiroMatchesReferenceAlgorithm() throws {
        // xoshiro256** from state (1, 2, 3, 4): first outputs of the reference C code (Blackman & Vigna).
        var r = try RNG(state: [1, 2, 3, 4])
        #expect(r.next() == 11520)
        #expect(r.next() == 0)
        #expect(r.next() == 1_509_978_240)
        #expect(r.next() == 1_215_971_899_390_074_240)
    }

    @Test func stateRoundTripsThroughJSON() throws {
        var r = RNG(seed: 7)
        for _ in 0..<5 { _ = r.next() }
        let data = try JSONEncoder().encode(r)
        var restored = try JSONDecoder().decode(RNG.self, from: data)
        #expect(restored == r)
        #expect((0..<10).map { _ in restored.next() } == (0..<10).map { _ in r.next() })
        #expect(throws: TensorError.self) { try RNG(state: [0, 0, 0, 0]) }
    }

    @Test func splitDoesNotAdvanceParentAndGivesDistinctChildren() {
        let r = RNG(seed: 9)
        var a = r.split(1), b = r.split(2), a2 = r.split(1)
        #expect(a.next() == a2.next())
        #expect(a.next() != b.next())
        #expect(r == RNG(seed: 9))
    }

    @Test func distributionsHaveTheRightMoments() {
        var r = RNG(seed: 11)
        let n = 200_000
        var s = 0.0, s2 = 0.0, u = 0.0
        var counts = [Int](repeating: 0, count: 7)
        for _ in 0..<n {
            let z = Double(r.normal()); s += z; s2 += z * z
            u += Double(r.uniform())
            counts[r.int(below: 7)] += 1
        }
        #expect(abs(s / Double(n)) < 0.01)
        #expect(abs(s2 / Double(n) - 1) < 0.02)
        #expect(abs(u / Double(n) - 0.5) < 0.005)
        for c in counts { #expect(abs(Double(c) / Double(n) - 1.0 / 7) < 0.005) }
        let p = r.permutation(50)
        #expect(p.sorted() == Array(0..<50) && p != Array(0..<50))
    }

    @Test func categoricalFollowsWeights() {
        var r = RNG(seed: 12)
        let w: [Float] = [0, 1, 3, 0]
        var counts = [0, 0, 0, 0]
        w.withUnsafeBufferPointer { wp in for _ in 0..<40_000 { counts[r.categorical(wp)] += 1 } }
        #expect(counts[0] == 0 && counts[3] == 0)
        #expect(abs(Double(counts[2]) / 40_000 - 0.75) < 0.01)
    }

    @Test func unmixInvertsMix() {
        var r = RNG(seed: 7)
        for v in [0, 1, UInt64.max, 0x8000_0000_0000_0000] + (0..<1000).map({ _ in r.next() }) {
            #expect(SplitMix64.unmix(SplitMix64.mix(v)) == v)
            #expect(SplitMix64.mix(SplitMix64.unmix(v)) == v)
        }
    }
}
