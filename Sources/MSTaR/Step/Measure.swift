import MSTaRModel
import MSTaRTasks
import MSTaRTensor

extension Evolution {
    /// Stage 8, measure: the dynamics on the validation prompts at the step's temperature (the same
    /// samples' seed every iteration, so steps compare).
    func measure(temperature t: Float, shouldStop: (() -> Bool)?) throws -> DynamicsMetrics {
        let s = settings
        return try measureDynamics(generator: generator(), scorer: prm, aggregation: prm?.aggregation ?? .min, examples: validationSet,
                                   k: s.dynamicsK, temperature: t, seed: derivedSeed(.dynamics, iteration: 0), maxTokens: s.maxTokens,
                                   tokenizer: tokenizer, shouldStop: shouldStop)
    }
}
