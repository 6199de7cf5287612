import MSTaRTensor

/// The `ResponseGenerator` contract as a check any implementation can run: the engine's sampler in
/// the test suite, a served model's client against its server. Each violation is one line naming
/// the rule and the prompt.
public enum GeneratorConformance {
    /// The violations of the contract by `generator` on `prompts` (at least two), sampling `k`
    /// responses of at most `maxTokens` tokens; empty when it conforms. `eos` is the id that ends
    /// a finished response. Every prompt must leave the model room for `maxTokens` new tokens.
    public static func violations(of generator: any ResponseGenerator, prompts: [SamplePrompt], k: Int = 3,
                                  maxTokens: Int = 12, eos: Int) throws -> [String] {
        precondition(prompts.count >= 2 && k >= 2, "the check needs two prompts and two samples each")
        var out: [String] = []
        let sampling = SamplingOptions(temperature: 1, maxTokens: maxTokens)
        let seed: UInt64 = 0xC0F

        // Shape and per-rollout rules.
        let first = try generator.generate(prompts, k: k, options: sampling, seed: seed)
        if first.count != prompts.count { out.append("returned \(first.count) prompts' rollouts for \(prompts.count) prompts") }
        for (i, rs) in first.enumerated() {
            if rs.count != k { out.append("prompt \(i): \(rs.count) rollouts, not k = \(k)") }
            for (j, r) in rs.enumerated() {
                let at = "prompt \(i) rollout \(j)"
                if r.tokens.count > maxTokens { out.append("\(at): \(r.tokens.count) tokens, above maxTokens \(maxTokens)") }
                if r.logProbs.count != r.tokens.count { out.append("\(at): \(r.logProbs.count) log-probabilities for \(r.tokens.count) tokens") }
                if !r.logProbs.allSatisfy({ $0.isFinite && $0 <= 0 }) { out.append("\(at): a log-probability is not finite and at most 0") }
                if r.finished != (r.tokens.last == eos) { out.append("\(at): finished is \(r.finished) but the last token is \(r.tokens.last.map(String.init) ?? "none")") }
                if r.tokens.dropLast().contains(eos) { out.append("\(at): the end-of-sequence id before the end") }
                if !r.meanEntropy.isFinite || r.meanEntropy < 0 { out.append("\(at): mean entropy \(r.meanEntropy)") }
            }
        }

        // Seeded: the same call gives the same rollouts, another seed other ones.
        if try generator.generate(prompts, k: k, options: sampling, seed: seed) != first {
            out.append("the same prompts, options and seed gave other rollouts")
        }
        if try generator.generate(prompts, k: k, options: sampling, seed: seed + 1) == first {
            out.append("another seed gave the same rollouts (is the seed used?)")
        }

        // Several temperatures at once: each what a call at that temperature alone gives.
        let temperatures: [Float] = [0.5, 1]
        let together = try generator.generate(prompts, k: k, temperatures: temperatures, options: sampling, seed: seed, shouldStop: nil)
        if together.count != temperatures.count { out.append("\(together.count) lists of rollouts for \(temperatures.count) temperatures") }
        for (t, drawn) in zip(temperatures, together) {
            var o = sampling
            o.temperature = t
            if try generator.generate(prompts, k: k, options: o, seed: seed) != drawn {
                out.append("temperature \(formatNumber(Double(t))): the rollouts of several temperatures at once differ from one at a time")
            }
        }

        // A prompt's rollouts do not depend on the prompts beside it.
        for (i, p) in prompts.enumerated() where i < first.count {
            if try generator.generate([p], k: k, options: sampling, seed: seed).first != first[i] {
                out.append("prompt \(i): its rollouts alone differ from those in the batch")
            }
        }

        // Temperature 0 is greedy: every sample is the same response.
        let greedy = try generator.generate(prompts, k: k, options: .greedy(maxTokens: maxTokens), seed: seed)
        for (i, rs) in greedy.enumerated() where Set(rs.map(\.tokens)).count > 1 {
            out.append("prompt \(i): greedy samples differ")
        }

        // An interrupt returns a prefix of the prompts.
        let stopped = try generator.generate(prompts, k: k, options: sampling, seed: seed, shouldStop: { true })
        if stopped.count >= prompts.count || stopped != Array(first.prefix(stopped.count)) {
            out.append("an interrupt did not return a prefix of the prompts (\(stopped.count) of \(prompts.count))")
        }
        return out
    }
}
