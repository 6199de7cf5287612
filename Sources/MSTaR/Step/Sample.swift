import MSTaRModel
import MSTaRTasks
import MSTaRTensor

extension Evolution {
    /// Stage 2, sample: `k` responses to each scheduled prompt at temperature `t`, through the run's
    /// generator, seeded by the iteration.
    func sample(_ prompts: [ScheduledPrompt], temperature t: Float, shouldStop: (() -> Bool)?) throws -> (prompts: [SamplePrompt], rollouts: [[Rollout]]) {
        let s = settings
        let samplePrompts = try prompts.map { try SamplePrompt($0.example, stream: $0.stream, tokenizer: tokenizer) }
        let drawn = try generator().generate(
            samplePrompts, k: s.k, options: SamplingOptions(temperature: t, maxTokens: s.maxTokens),
            seed: derivedSeed(.sampling, iteration: iteration), shouldStop: shouldStop)
        guard drawn.count == samplePrompts.count else { throw EvolutionInterrupted() }
        return (samplePrompts, drawn)
    }
}
