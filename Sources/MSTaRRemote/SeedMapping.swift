import MSTaRTensor

/// The `seed` each request carries, so that a server that seeds like `mstar serve` draws exactly
/// the samples the engine's sampler draws.
///
/// The sampler draws sample j of a prompt from `Sampler.sampleRNG(seed: s, stream: p, sample: j)`
/// = `RNG(seed: mix(s ^ mix(p)), stream: j)` (s the call's seed, p the prompt's stream). `mstar
/// serve` draws sample j of a request with seed r from `sampleRNG(seed: 0, stream: r, sample: j)`
/// = `RNG(seed: mix(mix(r)), stream: j)`. Both are the same generator when
/// mix(r) = s ^ mix(p), that is r = unmix(s ^ mix(p)); `mix` is a bijection, so r always exists
/// and distinct (s, p) give distinct r.
public enum SeedMapping {
    /// The request seed that makes `mstar serve` draw the samples of stream `stream` in a call seeded `seed`.
    public static func requestSeed(seed: UInt64, stream: UInt64) -> UInt64 {
        SplitMix64.unmix(seed ^ SplitMix64.mix(stream))
    }

    /// The seed of sample `j` asked for alone (the n-fallback, for servers that ignore `n`): a
    /// server draws sample 0 of each such request, so each sample needs its own seed. These
    /// samples are not the sampler's (its sample j is not sample 0 of any seed), only as random.
    public static func fallbackSeed(requestSeed: UInt64, sample j: Int) -> UInt64 {
        SplitMix64.mix(requestSeed ^ SplitMix64.mix(0xFA11_BAC0_0000_0000 | UInt64(j)))
    }

    /// The seed as JSON carries it: the same 64 bits as a signed integer (vLLM and `mstar serve`
    /// read `seed` as a signed 64-bit integer; `mstar serve` takes its bit pattern back).
    public static func wire(_ seed: UInt64) -> Int64 { Int64(bitPattern: seed) }
}
