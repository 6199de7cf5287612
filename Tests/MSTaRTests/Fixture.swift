import Foundation
import MSTaR
import MSTaRModel
import MSTaRTasks
import MSTaRTensor

/// A small suite and a small policy briefly fine-tuned on its seed chains, so that it writes
/// well-formed chains and gets some answers right: enough for every part of a step to act.
enum Fixture {
    static let suite: TaskSuite = {
        let sizes = SplitSizes(captions: 0, text: 0, seed: 96, labelled: 64, unlabelled: 32, validation: 16, test: 8, ood: 4)
        return try! TaskSuite(seed: 11, sizes: sizes, bank: try! DigitBank.load())
    }()

    // Read-only after creation (runs copy it).
    nonisolated(unsafe) static let policy: VisionLanguageModel = {
        var c = ModelConfig(vocab: Tokenizer.standard.vocabSize)
        c.visionDim = 16; c.visionLayers = 1; c.visionHeads = 2; c.visionMLP = 32
        c.dModel = 32; c.layers = 1; c.heads = 2; c.mlpHidden = 64; c.stemChannels = [4, 8]
        var rng = RNG(seed: 4)
        let model = try! VisionLanguageModel(c, rng: &rng)
        let seedSet = try! suite.examples(.seed).compactMap { try TrainingSequence($0) }
        let trainer = SFTTrainer(model: model, options: .init(batchSize: 16, schedule: .constant(lr: 3e-3),
                                                              optimizer: .init(lr: 3e-3, beta1: 0.9, beta2: 0.98, eps: 1e-8, weightDecay: 0)),
                                 seed: 1)
        _ = try! Runtime.withThreads(1) { try trainer.train(seedSet, epochs: 40) }
        return model
    }()

    /// Settings small enough for a step to take well under a second.
    static func settings(_ recipe: Recipe) -> EvolutionSettings {
        var s = recipe.settings
        s.prompts = 32; s.k = 8; s.maxTokens = 32; s.batchSize = 8; s.epochs = 1
        s.dynamicsPrompts = 8; s.dynamicsK = 4
        s.temperaturePrompts = 4; s.temperatureMin = 0.5; s.temperatureMax = 1.5; s.temperatureStep = 0.5
        s.prmPrompts = 8; s.prmSamples = 2; s.prmRollouts = 2; s.prmEpochs = 1
        s.unlabelledPrompts = 8
        s.lr = 1e-3
        return s
    }

    static func weights(_ m: VisionLanguageModel) -> [[Float]] { m.namedParameters.map { $0.1.array } }

    static func tempDir(_ name: String) -> URL {
        let u = FileManager.default.temporaryDirectory.appendingPathComponent("mstar-\(name)-\(getpid())-\(UInt64.random(in: 0...UInt64.max))")
        try? FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
        return u
    }
}
