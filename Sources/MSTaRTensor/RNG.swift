import Foundation

/// The project's only source of randomness: xoshiro256** seeded through SplitMix64.
///
/// Its whole state is four words, so it serialises exactly (`state`, `init(state:)`) and a
/// checkpoint can resume a run bit for bit. `init(seed:stream:)` derives independent streams
/// (one per sample, per worker, per purpose) so results never depend on how work is batched.
public struct RNG: Sendable, Equatable, Codable {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    /// The four state words of xoshiro256**.
    public var state: [UInt64] { [s0, s1, s2, s3] }

    /// A generator for `seed`; different `stream` values give statistically independent sequences.
    public init(seed: UInt64, stream: UInt64 = 0) {
        var sm = SplitMix64(seed: seed ^ SplitMix64.mix(stream &+ 0x5851_F42D_4C95_7F2D))
        (s0, s1, s2, s3) = (sm.next(), sm.next(), sm.next(), sm.next())
        if s0 | s1 | s2 | s3 == 0 { s0 = 1 }  // the one forbidden state
    }

    /// Restores a generator from `state` words previously read from `state`.
    public init(state: [UInt64]) throws {
        guard state.count == 4, !state.allSatisfy({ $0 == 0 }) else {
            throw TensorError.invalid("RNG state must be 4 words, not all zero; got \(state)")
        }
        (s0, s1, s2, s3) = (state[0], state[1], state[2], state[3])
    }

    public init(from decoder: Decoder) throws {
        try self.init(state: try decoder.singleValueContainer().decode([UInt64].self))
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(state)
    }

    @inline(__always)
    private static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 &- k)) }

    /// The next 64 random bits.
    @inline(__always)
    public mutating func next() -> UInt64 {
        let result = RNG.rotl(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = RNG.rotl(s3, 45)
        return result
    }

    /// A child generator for `stream`, derived from this one's current state without advancing it.
    public func split(_ stream: UInt64) -> RNG {
        var h = stream
        for w in [s0, s1, s2, s3] { h = SplitMix64.mix(h ^ w) }
        return RNG(seed: h, stream: stream)
    }

    /// Uniform in [0, 1) with 24 random bits (exactly representable in Float).
    @inline(__always)
    public mutating func uniform() -> Float { Float(next() >> 40) * (1.0 / 16_777_216.0) }

    /// Uniform in [0, 1) with 53 random bits.
    @inline(__always)
    public mutating func uniformDouble() -> Double { Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0) }

    /// Uniform in [lo, hi).
    @inline(__always)
    public mutating func uniform(_ lo: Float, _ hi: Float) -> Float { lo + (hi - lo) * uniform() }

    /// Standard normal by Box-Muller; one draw per call, so the state holds no cached spare.
    public mutating func normal() -> Float {
        let u1 = 1.0 - uniformDouble()  // (0, 1]: log is finite
        let u2 = uniformDouble()
        return Float((-2.0 * log(u1)).squareRoot() * cos(2.0 * Double.pi * u2))
    }

    /// Uniform integer in 0..<n without modulo bias (Lemire's method).
    public mutating func int(below n: Int) -> Int {
        precondition(n > 0, "int(below:) needs n > 0")
        let bound = UInt64(n)
        var m = next().multipliedFullWidth(by: bound)
        if m.low < bound {
            let threshold = (0 &- bound) % bound
            while m.low < threshold { m = next().multipliedFullWidth(by: bound) }
        }
        return Int(m.high)
    }

    /// Uniform integer in `range`.
    public mutating func int(in range: ClosedRange<Int>) -> Int {
        range.lowerBound + int(below: range.upperBound - range.lowerBound + 1)
    }

    /// Fisher-Yates shuffle in place.
    public mutating func shuffle<T>(_ a: inout [T]) {
        guard a.count > 1 else { return }
        for i in stride(from: a.count - 1, to: 0, by: -1) {
            a.swapAt(i, int(below: i + 1))
        }
    }

    /// A random permutation of 0..<n.
    public mutating func permutation(_ n: Int) -> [Int] {
        var p = Array(0..<n)
        shuffle(&p)
        return p
    }

    /// Draws an index with probability proportional to `weights` (non-negative, not all zero).
    public mutating func categorical(_ weights: UnsafeBufferPointer<Float>) -> Int {
        var total: Double = 0
        for w in weights { total += Double(w) }
        let r = uniformDouble() * total
        var acc: Double = 0
        for i in 0..<weights.count {
            acc += Double(weights[i])
            if r < acc { return i }
        }
        // Rounding can leave r just past the last bin: take the last non-zero weight.
        return weights.lastIndex(where: { $0 > 0 }) ?? (weights.count - 1)
    }
}

/// SplitMix64: used to expand a seed into xoshiro state and to hash stream ids.
public struct SplitMix64: Sendable {
    var x: UInt64
    public init(seed: UInt64) { x = seed }

    public mutating func next() -> UInt64 {
        x &+= 0x9E37_79B9_7F4A_7C15
        return SplitMix64.mix(x)
    }

    /// The SplitMix64 finaliser: a bijective 64-bit hash.
    @inline(__always)
    public static func mix(_ v: UInt64) -> UInt64 {
        var z = v
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The inverse of `mix`: `unmix(mix(v)) == v` for every v. A client that must make a server's
    /// `mix(seed ^ mix(stream))` derivation land on a given value solves for its seed with it
    /// (the remote backend, docs/remote.md).
    public static func unmix(_ v: UInt64) -> UInt64 {
        var z = unshift(v, 31)
        z = unshift(z &* inverse(0x94D0_49BB_1331_11EB), 27)
        return unshift(z &* inverse(0xBF58_476D_1CE4_E5B9), 30)
    }

    /// x from `x ^ (x >> s)`: each pass recovers `s` more high bits.
    private static func unshift(_ y: UInt64, _ s: UInt64) -> UInt64 {
        var x = y
        for _ in 0..<(64 / s + 1) { x = y ^ (x >> s) }
        return x
    }

    /// The multiplicative inverse of an odd `a` modulo 2^64 (Newton's iteration doubles the correct bits).
    private static func inverse(_ a: UInt64) -> UInt64 {
        var x = a  // right to 3 bits for odd a
        for _ in 0..<5 { x = x &* (2 &- a &* x) }
        return x
    }
}
