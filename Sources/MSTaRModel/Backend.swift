import MSTaRTasks
import MSTaRTensor

/// What turns prompts into sampled responses: the seam between the method and a model. The
/// engine's own `Sampler` is one; a server speaking to a large multimodal model can be another.
/// The evolution step, the dynamics, the temperature search and the PRM's Monte-Carlo labelling
/// sample only through it.
///
/// The contract (`GeneratorConformance` checks it):
/// - `generate` returns `k` rollouts per prompt, in prompt order, each with one log-probability
///   per token and `finished` true exactly when the response ends with the end-of-sequence id;
///   at most `options.maxTokens` tokens;
/// - the same prompts, options and seed give the same rollouts, whatever else was generated
///   before, and a prompt's rollouts do not depend on which other prompts share the call, as long
///   as every prompt leaves room for `maxTokens` (the engine's sampler caps a chunk by the room its
///   longest prompt leaves);
/// - temperature 0 is greedy: every one of the `k` rollouts is the most likely response;
/// - when `shouldStop` returns true the call returns early with rollouts for a prefix of the
///   prompts (callers treat a short result as an interrupt).
public protocol ResponseGenerator {
    /// `k` responses to each prompt at the given sampling options, seeded.
    func generate(_ prompts: [SamplePrompt], k: Int, options: SamplingOptions, seed: UInt64,
                  shouldStop: (() -> Bool)?) throws -> [[Rollout]]
    /// `k` responses to each prompt at each of `temperatures` (the other options as given):
    /// `[temperature][prompt][sample]`, each list what `generate` at that temperature returns. The
    /// temperature search asks for all its candidates at once; a generator may share each prompt's
    /// prefix among them (the default asks `generate` once per temperature). An interrupt returns
    /// short: fewer temperatures, or fewer prompts at some.
    func generate(_ prompts: [SamplePrompt], k: Int, temperatures: [Float], options: SamplingOptions, seed: UInt64,
                  shouldStop: (() -> Bool)?) throws -> [[[Rollout]]]
}

extension ResponseGenerator {
    /// `generate` without an interrupt.
    public func generate(_ prompts: [SamplePrompt], k: Int, options: SamplingOptions, seed: UInt64) throws -> [[Rollout]] {
        try generate(prompts, k: k, options: options, seed: seed, shouldStop: nil)
    }

    /// One `generate` per temperature.
    public func generate(_ prompts: [SamplePrompt], k: Int, temperatures: [Float], options: SamplingOptions, seed: UInt64,
                         shouldStop: (() -> Bool)?) throws -> [[[Rollout]]] {
        var out: [[[Rollout]]] = []
        for t in temperatures {
            if shouldStop?() == true { break }
            var o = options
            o.temperature = t
            let drawn = try generate(prompts, k: k, options: o, seed: seed, shouldStop: shouldStop)
            out.append(drawn)
            if drawn.count < prompts.count { break }
        }
        return out
    }
}

extension Sampler: ResponseGenerator {}

/// What scores the steps of responses: the process reward model's side of the seam. The engine's
/// own `ProcessRewardModel` is one; a served PRM can be another.
///
/// The contract: one score in [0, 1] per step of each response (a step ends at `;` or at the
/// end), in input order; the same inputs give the same scores.
public protocol StepScorer {
    /// Step scores of each (scene, response token ids) pair.
    func stepScores(_ items: [(example: Example, tokens: [Int])]) throws -> [[Float]]
}
