import Foundation
import MSTaRModel
import MSTaRTasks
import MSTaRTensor

/// A fixed, seeded workload over every numerical path of the engine, whose result bytes show
/// whether a machine computes the same bits as another: `mstar probe` hashes each part.
///
/// The parts, all from one policy and suite: the logits of a batch (forward), the gradients of its
/// SFT loss (backward), the weights after three AdamW updates, 64 sampled responses with their
/// log-probabilities, PRM step scores of those responses, and one evolution step of the `mstar`
/// recipe at a tiny scale (its dynamics line and the weights it trains).
public enum Probe {
    /// One part of the workload: its name and every byte it produced.
    public struct Part: Sendable {
        /// The part's name: forward, backward, adamw, sample, prm or evolve.
        public var name: String
        /// The raw bytes of its results (values as stored in memory, the dynamics line as UTF-8), for hashing.
        public var bytes: [UInt8]
    }

    /// Runs the workload on a copy of `policy` (which it leaves unchanged).
    public static func run(policy: VisionLanguageModel, suite: TaskSuite, tokenizer: Tokenizer = .standard) throws -> [Part] {
        var parts: [Part] = []
        func floats(_ xs: [Float]) -> [UInt8] { xs.withUnsafeBytes { Array($0) } }
        func weights(_ m: VisionLanguageModel) -> [UInt8] { m.namedParameters.flatMap { floats($0.1.array) } }

        let model = try policy.copy()
        let examples = Array(suite.examples(.labelled).prefix(16))
        let batch = try SequenceBatch(try suite.examples(.seed).prefix(16).compactMap { try TrainingSequence($0, tokenizer: tokenizer) },
                                      config: model.config)
        let trainer = SFTTrainer(model: model, options: .init(batchSize: 16, schedule: .constant(lr: 1e-4)), seed: 7)

        let logits = try model.logits(images: batch.images, tokens: batch.tokens, batch: batch.batch, length: batch.length)
        parts.append(Part(name: "forward", bytes: floats(logits.array)))

        let loss = try trainer.loss(batch)
        try loss.backward()
        parts.append(Part(name: "backward", bytes: floats([loss.item]) + model.policyParameters.flatMap { floats($0.grad?.array ?? []) }))
        trainer.optimizer.zeroGrad()

        for _ in 0..<3 { try trainer.update([batch]) }
        parts.append(Part(name: "adamw", bytes: weights(model)))

        let prompts = try examples.enumerated().map { try SamplePrompt($1, stream: UInt64($0), tokenizer: tokenizer) }
        let rollouts = try Sampler(model: policy).generate(prompts, k: 4, options: SamplingOptions(temperature: 1, maxTokens: 32), seed: 11)
        var sampled: [UInt8] = []
        for group in rollouts {
            for r in group { sampled += r.tokens.flatMap { withUnsafeBytes(of: Int32($0).littleEndian) { Array($0) } } + floats(r.logProbs) }
        }
        parts.append(Part(name: "sample", bytes: sampled))

        let prm = ProcessRewardModel(model: try policy.copy(), tokenizer: tokenizer)
        let items = zip(examples, rollouts).flatMap { e, group in group.map { (example: e, tokens: $0.tokens) } }
        parts.append(Part(name: "prm", bytes: try prm.stepScores(items).flatMap(floats)))

        var settings = Recipe.mstar.settings
        settings.prompts = 16; settings.interval = 0.5; settings.k = 4; settings.maxTokens = 32; settings.batchSize = 8
        settings.dynamicsPrompts = 8; settings.dynamicsK = 4
        settings.temperaturePrompts = 4; settings.temperatureMin = 0.6; settings.temperatureMax = 1.2; settings.temperatureStep = 0.3
        let run = try Evolution(suite: suite, policy: policy, settings: settings, seed: 3, tokenizer: tokenizer)
        run.usePRM(prm, report: nil)
        let step = try run.step()
        // The dynamics line holds results only (its timings go to timings.jsonl).
        parts.append(Part(name: "evolve", bytes: Array(try step.record.jsonLine().utf8) + weights(run.policy)))
        return parts
    }
}
