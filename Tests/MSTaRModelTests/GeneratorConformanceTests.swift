import MSTaRModel
import MSTaRTasks
import MSTaRTensor
import Testing

/// The `ResponseGenerator` contract, checked on the engine's sampler; generators that break one
/// rule each show that the check can fail.
@Suite struct GeneratorConformanceTests {
    /// Room every test prompt leaves in the tiny model's sequence.
    static let maxTokens = 6

    static func prompts() throws -> [SamplePrompt] {
        var rng = RNG(seed: 91)
        return try (0..<3).map { i in
            SamplePrompt(image: try randomCanvas(&rng), prompt: (0..<(2 + i)).map { _ in rng.int(below: 10) + 1 }, stream: UInt64(i))
        }
    }

    @Test func theEnginesSamplerConforms() throws {
        let sampler = Sampler(model: try tinyModel(), eos: 0)
        let v = try GeneratorConformance.violations(of: sampler, prompts: try Self.prompts(), maxTokens: Self.maxTokens, eos: 0)
        #expect(v.isEmpty, "\(v)")
    }

    /// Draws a fresh seed on every call: not reproducible.
    final class Unseeded: ResponseGenerator {
        let base: Sampler; var calls: UInt64 = 0
        init(_ base: Sampler) { self.base = base }
        func generate(_ prompts: [SamplePrompt], k: Int, options: SamplingOptions, seed: UInt64, shouldStop: (() -> Bool)?) throws -> [[Rollout]] {
            calls += 1
            return try base.generate(prompts, k: k, options: options, seed: seed &+ calls, shouldStop: shouldStop)
        }
    }

    /// Seeds each prompt by its place in the batch, not by its own stream.
    struct PlaceSeeded: ResponseGenerator {
        let base: Sampler
        func generate(_ prompts: [SamplePrompt], k: Int, options: SamplingOptions, seed: UInt64, shouldStop: (() -> Bool)?) throws -> [[Rollout]] {
            let renumbered = prompts.enumerated().map { SamplePrompt(image: $1.image, prompt: $1.prompt, stream: UInt64($0 + 7)) }
            return try base.generate(renumbered, k: k, options: options, seed: seed, shouldStop: shouldStop)
        }
    }

    /// Drops each prompt's last rollout and the log-probability of every first token.
    struct Short: ResponseGenerator {
        let base: Sampler
        func generate(_ prompts: [SamplePrompt], k: Int, options: SamplingOptions, seed: UInt64, shouldStop: (() -> Bool)?) throws -> [[Rollout]] {
            try base.generate(prompts, k: k, options: options, seed: seed, shouldStop: shouldStop).map { rs in
                rs.dropLast().map { Rollout(tokens: $0.tokens, logProbs: Array($0.logProbs.dropFirst()), meanEntropy: $0.meanEntropy, finished: $0.finished) }
            }
        }
    }

    @Test func generatorsThatBreakTheContractAreNamed() throws {
        let sampler = Sampler(model: try tinyModel(), eos: 0), prompts = try Self.prompts()
        let unseeded = try GeneratorConformance.violations(of: Unseeded(sampler), prompts: prompts, maxTokens: Self.maxTokens, eos: 0)
        #expect(unseeded.contains { $0.contains("the same prompts, options and seed gave other rollouts") }, "\(unseeded)")
        let placed = try GeneratorConformance.violations(of: PlaceSeeded(base: sampler), prompts: prompts, maxTokens: Self.maxTokens, eos: 0)
        #expect(placed.contains { $0.contains("alone differ from those in the batch") }, "\(placed)")
        let short = try GeneratorConformance.violations(of: Short(base: sampler), prompts: prompts, maxTokens: Self.maxTokens, eos: 0)
        #expect(short.contains { $0.contains("rollouts, not k = 3") } && short.contains { $0.contains("log-probabilities for") }, "\(short)")
    }
}
