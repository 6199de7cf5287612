import Foundation
import MSTaRModel
import MSTaRTasks
import MSTaRTensor
import Testing

/// A tiny random policy with larger-than-init weights, so its outputs vary with the input.
func tinyModel(seed: UInt64 = 80, vocab: Int = 11) throws -> VisionLanguageModel {
    var rng = RNG(seed: seed)
    let model = try VisionLanguageModel(.tiny(vocab: vocab), rng: &rng)
    for p in model.parameters where p.rank == 2 { for i in 0..<p.count { p.ptr[i] = rng.normal() * 0.3 } }
    return model
}

func randomCanvas(_ rng: inout RNG, height: Int = 16, width: Int = 24) throws -> Canvas {
    try Canvas(height: height, width: width, pixels: (0..<(height * width)).map { _ in rng.uniform() })
}

extension VisionLanguageModel {
    var parameters: [Tensor] { namedParameters.map(\.1) }
}

@Suite struct SamplerTests {
    /// Greedy decoding with the KV cache equals decoding by re-running the full forward pass on
    /// the whole sequence for every new token, and so do the per-token log-probabilities.
    @Test func kvCacheGenerationEqualsFullRecomputation() throws {
        let model = try tinyModel()
        var rng = RNG(seed: 81)
        let prompts = try (0..<3).map { i in
            SamplePrompt(image: try randomCanvas(&rng), prompt: (0..<(2 + i)).map { _ in rng.int(below: 10) + 1 }, stream: UInt64(i))
        }
        let sampler = Sampler(model: model, eos: 0)
        let cached = try sampler.generate(prompts, k: 1, options: .greedy(maxTokens: 6), seed: 1)
        for (p, out) in zip(prompts, cached) {
            var seq = p.prompt
            var logProbs: [Float] = []
            var generated: [Int] = []
            let image = Tensor.zeros([1, 16, 24])
            p.image!.pixels.withUnsafeBufferPointer { image.ptr.update(from: $0.baseAddress!, count: 384) }
            for _ in 0..<out[0].tokens.count {
                let logits = try Tensor.withoutGrad {
                    try logSoftmax(try model.logits(images: image, tokens: seq.map(Int32.init), batch: 1, length: seq.count))
                }
                let last = logits.ptr + (seq.count - 1) * 11
                var best = 0
                for j in 0..<11 where last[j] > last[best] { best = j }
                generated.append(best)
                logProbs.append(last[best])
                seq.append(best)
                if best == 0 { break }
            }
            #expect(out[0].tokens == generated)
            #expect(maxDiff(out[0].logProbs, logProbs) < 1e-4, "\(out[0].logProbs) vs \(logProbs)")
        }
    }

    /// A prompt's samples are the same whether it is sampled alone or with others, and with one
    /// or two threads: the same tokens, and the same log-probabilities, bit for bit where the BLAS
    /// computes every row of a GEMM the same way (`gemmRowPlacementSensitivity() == 0`, e.g.
    /// OpenBLAS's SkylakeX kernels). OpenBLAS 0.3.21's Haswell/Zen SGEMM kernel does not (a row's
    /// bits depend on its place mod 12), so there the log-probabilities may move in the last bits
    /// (up to 5e-7 seen on a Zen 3) with the sample's place in the batch.
    @Test func samplesDoNotDependOnBatchCompositionOrThreads() throws {
        let model = try tinyModel(seed: 82)
        var rng = RNG(seed: 83)
        let prompts = try (0..<9).map { i in
            SamplePrompt(image: try randomCanvas(&rng), prompt: (0..<(1 + i % 4)).map { _ in rng.int(below: 10) + 1 }, stream: UInt64(100 + i))
        }
        let sampler = Sampler(model: model, eos: 0)
        let options = SamplingOptions(temperature: 1.2, maxTokens: 7, chunk: 64)
        let together = try Runtime.withThreads(2) { try sampler.generate(prompts, k: 5, options: options, seed: 9) }
        let rowsComputedAlike = gemmRowPlacementSensitivity() == 0
        for i in [0, 4, 8] {
            let alone = try Runtime.withThreads(1) { try sampler.generate([prompts[i]], k: 5, options: options, seed: 9) }
            #expect(alone[0].map(\.tokens) == together[i].map(\.tokens))
            #expect(alone[0].map(\.finished) == together[i].map(\.finished))
            for (a, t) in zip(alone[0], together[i]) {
                if rowsComputedAlike {
                    #expect(a.logProbs == t.logProbs && a.meanEntropy == t.meanEntropy)
                } else {
                    #expect(maxDiff(a.logProbs, t.logProbs) < 1e-5 && abs(a.meanEntropy - t.meanEntropy) < 1e-5)
                }
            }
        }
        // Samples of one prompt differ from each other (their streams differ).
        #expect(Set(together[3].map(\.tokens)).count > 1)
    }

    /// Several temperatures in one call (each chunk prefilled once) give each temperature's
    /// rollouts of a call of its own, over several chunks; a stop returns a prefix of the prompts
    /// at every temperature.
    @Test func severalTemperaturesAtOnceEqualOneAtATime() throws {
        let model = try tinyModel(seed: 84)
        var rng = RNG(seed: 85)
        let prompts = try (0..<7).map { i in
            SamplePrompt(image: try randomCanvas(&rng), prompt: (0..<(1 + i % 3)).map { _ in rng.int(below: 10) + 1 }, stream: UInt64(i))
        }
        let sampler = Sampler(model: model, eos: 0)
        let options = SamplingOptions(maxTokens: 6, chunk: 12)  // 3 prompts of k = 4 per chunk
        let temperatures: [Float] = [0, 0.5, 1.4]
        let together = try sampler.generate(prompts, k: 4, temperatures: temperatures, options: options, seed: 3)
        #expect(together.count == 3)
        for (t, drawn) in zip(temperatures, together) {
            var o = options
            o.temperature = t
            #expect(try sampler.generate(prompts, k: 4, options: o, seed: 3) == drawn, "T = \(t)")
        }
        // A stop keeps whole chunks, the same at every temperature (on one thread: the first chunk,
        // whose three temperatures ran before the stop).
        for threads in [1, 2, 3] {
            var calls = 0
            let stopped = try Runtime.withThreads(threads) {
                try sampler.generate(prompts, k: 4, temperatures: temperatures, options: options, seed: 3,
                                     shouldStop: { calls += 1; return calls > 4 })
            }
            let n = stopped.first?.count ?? -1
            #expect(stopped.count == 3 && n % 3 == 0 && n < prompts.count && stopped.allSatisfy { $0.count == n }, "\(threads) threads")
            #expect(zip(stopped, together).allSatisfy { $0 == Array($1.prefix(n)) }, "\(threads) threads")
            if threads == 1 { #expect(n == 3) }
        }
    }

    /// Samples that drew the same tokens so far decode as one row; that changes no bit of any
    /// rollout, at temperatures where most samples share prefixes and where few do, with one or
    /// two threads.
    @Test(arguments: [1, 2])
    func sharingIdenticalPrefixesChangesNoBit(threads: Int) throws {
        let model = try tinyModel(seed: 87)
        var rng = RNG(seed: 88)
        let prompts = try (0..<5).map { i in
            SamplePrompt(image: try randomCanvas(&rng), prompt: (0..<(1 + i % 3)).map { _ in rng.int(below: 10) + 1 }, stream: UInt64(i))
        }
        let shared = Sampler(model: model, eos: 0), separate = Sampler(model: model, eos: 0)
        separate.sharesIdenticalPrefixes = false
        try Runtime.withThreads(threads) {
            for t: Float in [0, 0.3, 1, 1.6] {
                let o = SamplingOptions(temperature: t, maxTokens: 9, chunk: 40)
                let a = try shared.generate(prompts, k: 12, options: o, seed: 4), b = try separate.generate(prompts, k: 12, options: o, seed: 4)
                #expect(a.map { $0.map(\.tokens) } == b.map { $0.map(\.tokens) }, "T = \(t)")
                func bits(_ rs: [[Rollout]]) -> [UInt32] {
                    rs.flatMap { (p: [Rollout]) -> [UInt32] in p.flatMap { (r: Rollout) -> [UInt32] in r.logProbs.map(\.bitPattern) + [r.meanEntropy.bitPattern] } }
                }
                #expect(bits(a) == bits(b), "T = \(t)")
                if t == 0.3 { #expect(a.contains { Set($0.map(\.tokens)).count < 12 }, "some samples share a prefix") }
            }
        }
    }

    @Test func lengthLimitAndEndOfResponse() throws {
        let model = try tinyModel(seed: 86)
        var rng = RNG(seed: 87)
        let prompts = try (0..<4).map { SamplePrompt(image: try randomCanvas(&rng), prompt: [2, 3], stream: UInt64($0)) }
        let sampler = Sampler(model: model, eos: 0)
        let free = try sampler.generate(prompts, k: 8, options: SamplingOptions(temperature: 1.5, maxTokens: 6), seed: 3)
        for r in free.joined() {
            #expect(r.tokens.count <= 6 && r.tokens.count == r.logProbs.count)
            // A response ends at its first <eos> and only there, or at the limit unfinished.
            #expect(r.finished == (r.tokens.last == 0) && r.tokens.dropLast().allSatisfy { $0 != 0 })
            #expect(r.finished || r.tokens.count == 6)
            #expect(r.logProbs.allSatisfy { $0 <= 0 } && r.meanEntropy > 0)
        }
        let fixed = try sampler.generate(prompts, k: 8, options: SamplingOptions(temperature: 1.5, maxTokens: 6, stopAtEOS: false), seed: 3)
        #expect(fixed.joined().allSatisfy { $0.tokens.count == 6 })
    }

    @Test func temperatureAndNucleusShapeTheDistribution() throws {
        let model = try tinyModel(seed: 84)
        var rng = RNG(seed: 85)
        let prompt = [SamplePrompt(image: try randomCanvas(&rng), prompt: [3, 4], stream: 1)]
        let sampler = Sampler(model: model, eos: 0)
        func firstTokens(_ o: SamplingOptions) throws -> [Int] {
            try sampler.generate(prompt, k: 400, options: o, seed: 2)[0].map { $0.tokens[0] }
        }
        let greedy = try sampler.generate(prompt, k: 1, options: .greedy(maxTokens: 1), seed: 2)[0][0].tokens[0]
        let cold = try firstTokens(SamplingOptions(temperature: 0.05, maxTokens: 1))
        let hot = try firstTokens(SamplingOptions(temperature: 2, maxTokens: 1))
        let nucleus = try firstTokens(SamplingOptions(temperature: 2, topP: 0.3, maxTokens: 1))
        #expect(cold.filter { $0 == greedy }.count > 390)
        #expect(Set(hot).count > Set(nucleus).count)
        #expect(Set(nucleus).count >= 1)
    }
}

func maxDiff(_ a: [Float], _ b: [Float]) -> Float {
    guard a.count == b.count else { return .infinity }
    return zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
}

/// Decoding runs one job per (chunk, part of a chunk, temperature) on each thread; the rollouts are
/// the same bits at every thread count, including where a chunk's longest prompt shortens the
/// length limit of the whole chunk (each part keeps its chunk's limit).
@Suite struct SamplerJobTests {
    @Test func rolloutsAreTheSameBitsAtEveryThreadCount() throws {
        let model = try tinyModel(seed: 91)
        var rng = RNG(seed: 92)
        // Prompts of 1 to 9 tokens: with 6 image tokens and 18 positions, a chunk holding a 9-token
        // prompt leaves 3 new tokens to all of its prompts.
        let prompts = try (0..<11).map { i in
            SamplePrompt(image: try randomCanvas(&rng), prompt: (0..<(1 + (i * 4) % 9)).map { _ in rng.int(below: 10) + 1 }, stream: UInt64(i))
        }
        let sampler = Sampler(model: model, eos: 0)
        let options = SamplingOptions(maxTokens: 8, chunk: 20)  // 4 prompts of k = 5 per chunk: 3 chunks
        let temperatures: [Float] = [0, 0.7, 1.3]
        func bits(_ drawn: [[[Rollout]]]) -> [[UInt32]] {
            drawn.flatMap { $0.flatMap { $0.map { r in r.tokens.map(UInt32.init) + r.logProbs.map(\.bitPattern) + [r.meanEntropy.bitPattern, r.finished ? 1 : 0] } } }
        }
        let one = try Runtime.withThreads(1) { try sampler.generate(prompts, k: 5, temperatures: temperatures, options: options, seed: 7) }
        #expect(one.count == 3 && one.allSatisfy { $0.count == prompts.count })
        for threads in [2, 3, 4] {
            let many = try Runtime.withThreads(threads) { try sampler.generate(prompts, k: 5, temperatures: temperatures, options: options, seed: 7) }
            #expect(bits(many) == bits(one), "\(threads) threads")
        }
        // The chunk limit was in play: a short prompt's sample stopped at 3 new tokens unfinished.
        #expect(one[2][0].contains { !$0.finished && $0.tokens.count == 3 })
    }

    /// Decoding runs the q/k/v product and attention a few prompts (about 64 rows) at a time: a
    /// chunk of many prompts, in several such slices, gives each prompt the bits it has alone (one
    /// slice), where samples share prefixes (low temperature) and where they do not.
    @Test func slicesOfPromptsGiveEachPromptItsBitsAlone() throws {
        let model = try tinyModel(seed: 93)
        var rng = RNG(seed: 94)
        let prompts = try (0..<24).map { i in
            SamplePrompt(image: try randomCanvas(&rng), prompt: (0..<(1 + i % 3)).map { _ in rng.int(below: 10) + 1 }, stream: UInt64(i))
        }
        let sampler = Sampler(model: model, eos: 0)
        for t: Float in [0.3, 1.2] {
            let options = SamplingOptions(temperature: t, maxTokens: 9, chunk: 512)  // one chunk, 24 x 6 rows
            let together = try Runtime.withThreads(1) { try sampler.generate(prompts, k: 6, options: options, seed: 5) }
            func bits(_ rs: [Rollout]) -> [UInt32] {
                rs.flatMap { (r: Rollout) -> [UInt32] in r.logProbs.map(\.bitPattern) + [r.meanEntropy.bitPattern] }
            }
            for i in [0, 11, 23] {
                let alone = try Runtime.withThreads(1) { try sampler.generate([prompts[i]], k: 6, options: options, seed: 5) }[0]
                #expect(alone.map(\.tokens) == together[i].map(\.tokens), "T = \(t), prompt \(i)")
                #expect(bits(alone) == bits(together[i]), "T = \(t), prompt \(i)")
            }
        }
    }
}
