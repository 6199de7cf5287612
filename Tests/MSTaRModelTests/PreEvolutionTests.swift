import Foundation
import MSTaRModel
import MSTaRTasks
import MSTaRTensor
import Testing

/// A policy small enough to pre-evolve in a test.
func tinyPolicyConfig() -> ModelConfig {
    var model = ModelConfig(vocab: Tokenizer.standard.vocabSize)
    model.visionDim = 16; model.visionLayers = 1; model.visionHeads = 2; model.visionMLP = 32
    model.dModel = 32; model.layers = 1; model.heads = 2; model.mlpHidden = 64; model.stemChannels = [4, 8]
    return model
}

@Suite struct PreEvolutionTests {
    /// The whole pipeline (pretraining on captions and text skills, warm-up on seed chains) runs on
    /// real scenes with a small model, lowers the loss, and repeats to the byte from the same seed.
    @Test func pipelineRunsAndIsDeterministic() throws {
        let sizes = SplitSizes(captions: 48, text: 48, seed: 16, labelled: 8, unlabelled: 8, validation: 8, test: 8, ood: 4)
        let suite = try TaskSuite(seed: 3, sizes: sizes, bank: try DigitBank.load())
        let model = tinyPolicyConfig()
        let recipe = PreEvolutionRecipe(seed: 5, pretrainEpochs: 3, pretrainLR: 3e-3, warmupEpochs: 2, warmupLR: 1e-3, batchSize: 16, model: model,
                                        captionAugmentation: nil, freshEachEpoch: false, vision: nil)
        func run() throws -> (weights: [[Float]], phases: [PhaseReport]) {
            var first: Float?, last: Float = 0
            let (m, _, phases) = try preEvolve(suite: suite, recipe: recipe) { phase, p in
                if phase == "pretrain" { if first == nil { first = p.loss }; last = p.loss }
            }
            #expect(last < first!, "pretraining loss went from \(first!) to \(last)")
            return (m.namedParameters.map { $0.1.array }, phases)
        }
        let a = try run(), b = try run()
        #expect(a.weights == b.weights)
        #expect(a.phases.map(\.phase) == ["pretrain", "warm-up"])
        #expect(a.phases[0].examples == 96 && a.phases[1].examples == 16)
        #expect(a.phases[0].report.steps == 3 * 6 && a.phases[1].report.steps == 2)
    }
}

@Suite struct PretrainingCorpusTests {
    @Test func freshEpochsDrawNewExamplesDeterministically() throws {
        let sizes = SplitSizes(captions: 8, text: 8, seed: 4, labelled: 4, unlabelled: 4, validation: 4, test: 4, ood: 4)
        let suite = try TaskSuite(seed: 3, sizes: sizes, bank: try DigitBank.load())
        let e0 = try pretrainingCorpus(suite: suite, epoch: 0, fresh: true, augmentation: .standard)
        let e1 = try pretrainingCorpus(suite: suite, epoch: 1, fresh: true, augmentation: .standard)
        #expect(e0.count == 16 && e1.count == 16)
        #expect(e0 == (try pretrainingCorpus(suite: suite, epoch: 0, fresh: true, augmentation: .standard)))
        #expect(zip(e0, e1).filter { $0 == $1 }.count == 0)
        // Epoch 1 is the next block of the unbounded splits, with the same facts as unaugmented.
        let plain1 = try pretrainingCorpus(suite: suite, epoch: 1, fresh: true, augmentation: nil)
        #expect(zip(e1, plain1).allSatisfy { $0.prompt == $1.prompt && $0.response == $1.response })
        #expect(plain1[0].response == (try TrainingSequence(suite.example(.captions, index: 8)))!.response)
        // Without fresh epochs every epoch is the suite's own corpus.
        let repeated = try pretrainingCorpus(suite: suite, epoch: 5, fresh: false, augmentation: nil)
        #expect(repeated == (try (suite.examples(.captions) + suite.examples(.text)).compactMap { try TrainingSequence($0) }))
    }

    @Test func augmentedFreshPipelineIsDeterministic() throws {
        let sizes = SplitSizes(captions: 32, text: 32, seed: 16, labelled: 8, unlabelled: 8, validation: 8, test: 8, ood: 4)
        let suite = try TaskSuite(seed: 3, sizes: sizes, bank: try DigitBank.load())
        let model = tinyPolicyConfig()
        let recipe = PreEvolutionRecipe(seed: 5, pretrainEpochs: 3, pretrainLR: 3e-3, warmupEpochs: 1, warmupLR: 1e-3, batchSize: 16,
                                        model: model, captionAugmentation: .standard, freshEachEpoch: true,
                                        vision: VisionPretrainOptions(steps: 4, lr: 1e-3, batchSize: 8))
        func run() throws -> ([[Float]], [PhaseReport], [Int]) {
            var steps: [Int] = []
            let (m, _, phases) = try preEvolve(suite: suite, recipe: recipe) { phase, p in
                if phase == "pretrain" { steps.append(p.step); #expect(p.totalSteps == 12) }
            }
            return (m.namedParameters.map { $0.1.array }, phases, steps)
        }
        let a = try run(), b = try run()
        #expect(a.0 == b.0)
        #expect(a.2 == Array(1...12))
        #expect(a.1.map(\.phase) == ["vision", "pretrain", "warm-up"])
        #expect(a.1[0].report.steps == 4 && a.1[0].tokenReading != nil)
        #expect(a.1[1].report.steps == 12 && a.1[1].examples == 64 && a.1[1].report.sequences == 192)
    }

    /// Warm-up replay draws a new block of pretraining examples each warm-up epoch, past any
    /// pretraining epoch's, and the warm-up trains on seed chains and replay together.
    @Test func warmupReplayDrawsUnseenPretrainingExamples() throws {
        let sizes = SplitSizes(captions: 8, text: 8, seed: 8, labelled: 4, unlabelled: 4, validation: 4, test: 4, ood: 4)
        let suite = try TaskSuite(seed: 3, sizes: sizes, bank: try DigitBank.load())
        let model = tinyPolicyConfig()
        var recipe = PreEvolutionRecipe(seed: 5, pretrainEpochs: 2, pretrainLR: 3e-3, warmupEpochs: 2, warmupLR: 1e-3, batchSize: 8,
                                        model: model, captionAugmentation: nil, freshEachEpoch: true, vision: nil)
        recipe.warmupReplay = 6
        let r0 = try warmupReplayCorpus(suite: suite, recipe: recipe, epoch: 0)
        let r1 = try warmupReplayCorpus(suite: suite, recipe: recipe, epoch: 1)
        #expect(r0.count == 6 && r1.count == 6)
        // Captions and text from warmupReplayStart, three of each; epoch 1 takes the next three.
        let z = warmupReplayStart
        let expected0 = try ((z..<(z + 3)).map { suite.example(.captions, index: $0) } + (z..<(z + 3)).map { suite.example(.text, index: $0) })
            .compactMap { try TrainingSequence($0) }
        #expect(r0 == expected0)
        #expect(r1[0] == (try TrainingSequence(suite.example(.captions, index: z + 3)))!)
        #expect(r1[3] == (try TrainingSequence(suite.example(.text, index: z + 3)))!)

        var steps: [Int] = []
        let (_, _, phases) = try preEvolve(suite: suite, recipe: recipe) { phase, p in
            if phase == "warm-up" { steps.append(p.step); #expect(p.totalSteps == 4) }
        }
        // 8 seed chains + 6 replayed examples = 14 per epoch: 2 batches of 8, two epochs.
        #expect(phases[1].phase == "warm-up" && phases[1].examples == 14)
        #expect(phases[1].report.steps == 4 && phases[1].report.sequences == 28)
        #expect(steps == [1, 2, 3, 4])
    }
}
