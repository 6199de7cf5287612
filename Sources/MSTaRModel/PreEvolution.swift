import Foundation
import MSTaRTasks
import MSTaRTensor

/// How the pre-evolved policy is made: the base model's skills first (pretraining on scene
/// captions, which teach reading, and on text-only arithmetic and counting), then a warm-up on the
/// scarce seed chains of thought, which teaches the format and joins reading to reasoning.
public struct PreEvolutionRecipe: Codable, Equatable, Sendable {
    public var seed: UInt64
    public var pretrainEpochs: Int
    public var pretrainLR: Float
    public var warmupEpochs: Int
    public var warmupLR: Float
    public var batchSize: Int
    public var model: ModelConfig

    public init(seed: UInt64 = 0, pretrainEpochs: Int = 24, pretrainLR: Float = 7e-4, warmupEpochs: Int = 10,
                warmupLR: Float = 3e-4, batchSize: Int = 32, model: ModelConfig = ModelConfig(vocab: Tokenizer.standard.vocabSize)) {
        self.seed = seed; self.pretrainEpochs = pretrainEpochs; self.pretrainLR = pretrainLR
        self.warmupEpochs = warmupEpochs; self.warmupLR = warmupLR; self.batchSize = batchSize; self.model = model
    }
}

/// One phase of pre-evolution, as reported.
public struct PhaseReport: Codable, Equatable, Sendable {
    public var phase: String
    public var examples: Int
    public var report: TrainReport
}

/// Builds the pre-evolved policy from the suite's pretraining corpora and seed set.
/// With `from`, training continues from that model instead of a fresh one (its config wins).
public func preEvolve(
    suite: TaskSuite, recipe: PreEvolutionRecipe, from initial: VisionLanguageModel? = nil, tokenizer: Tokenizer = .standard,
    progress: ((String, TrainProgress) -> Void)? = nil
) throws -> (model: VisionLanguageModel, state: TrainingState, phases: [PhaseReport]) {
    var rng = RNG(seed: recipe.seed, stream: 0x1417)
    let model = try initial ?? VisionLanguageModel(recipe.model, rng: &rng)
    var phases: [PhaseReport] = []

    let pretrain = try (suite.examples(.captions) + suite.examples(.text)).compactMap { try TrainingSequence($0, tokenizer: tokenizer) }
    let steps = recipe.pretrainEpochs * ((pretrain.count + recipe.batchSize - 1) / recipe.batchSize)
    let pretrainer = SFTTrainer(
        model: model,
        options: .init(batchSize: recipe.batchSize, schedule: .cosine(lr: recipe.pretrainLR, warmup: 50, total: steps, minLR: recipe.pretrainLR / 10),
                       optimizer: .init(lr: recipe.pretrainLR, beta1: 0.9, beta2: 0.98, eps: 1e-8, weightDecay: 0.01)),
        seed: recipe.seed ^ 0x70)
    if recipe.pretrainEpochs > 0 {
        let r1 = try pretrainer.train(pretrain, epochs: recipe.pretrainEpochs) { progress?("pretrain", $0) }
        phases.append(PhaseReport(phase: "pretrain", examples: pretrain.count, report: r1))
    }

    let seedSet = try suite.examples(.seed).compactMap { try TrainingSequence($0, tokenizer: tokenizer) }
    let warmer = SFTTrainer(
        model: model,
        options: .init(batchSize: recipe.batchSize, schedule: .constant(lr: recipe.warmupLR),
                       optimizer: .init(lr: recipe.warmupLR, beta1: 0.9, beta2: 0.98, eps: 1e-8, weightDecay: 0.01)),
        seed: recipe.seed ^ 0x77)
    let r2 = try warmer.train(seedSet, epochs: recipe.warmupEpochs) { progress?("warm-up", $0) }
    phases.append(PhaseReport(phase: "warm-up", examples: seedSet.count, report: r2))

    let state = TrainingState(step: 0, rngs: ["init": rng])
    return (model, state, phases)
}
