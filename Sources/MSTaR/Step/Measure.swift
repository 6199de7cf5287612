import MSTaRModel
import MSTaRTasks
import MSTaRTensor

extension Evolution {
    /// Stage 8, measure: the dynamics on the validation prompts at the step's temperature (the same
    /// samples' seed every iteration, so steps compare).
    func measure(temperature t: Float, shouldStop: (() -> Bool)?) throws -> DynamicsMetrics {
        try measure(validationSet, temperature: t, greedy: true, seed: derivedSeed(.dynamics, iteration: 0), shouldStop: shouldStop)
    }

    /// The dynamics of the current policy on `examples`, through the run's generator and PRM (the
    /// step's measure stage and every candidate of the temperature search).
    func measure(_ examples: [Example], temperature t: Float, greedy: Bool, seed: UInt64, shouldStop: (() -> Bool)?) throws -> DynamicsMetrics {
        try measure(examples, temperatures: [t], greedy: greedy, seed: seed, shouldStop: shouldStop)[0]
    }

    /// `measure` at several temperatures in one request (the temperature search's candidates).
    func measure(_ examples: [Example], temperatures: [Float], greedy: Bool, seed: UInt64,
                 shouldStop: (() -> Bool)?) throws -> [DynamicsMetrics] {
        try measureDynamics(generator: generator(), scorer: prm.map { p -> any StepScorer in stepScorer ?? p }, aggregation: prm?.aggregation ?? .min, examples: examples,
                            k: settings.dynamicsK, temperatures: temperatures, greedy: greedy, seed: seed,
                            maxTokens: settings.maxTokens, tokenizer: tokenizer, shouldStop: shouldStop)
    }
}
