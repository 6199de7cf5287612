import Foundation
import MSTaRModel
import MSTaRTasks
import MSTaRTensor
import Testing

@Suite struct PreEvolutionTests {
    /// The whole pipeline (pretraining on captions and text skills, warm-up on seed chains) runs on
    /// real scenes with a small model, lowers the loss, and repeats to the byte from the same seed.
    @Test func pipelineRunsAndIsDeterministic() throws {
        let sizes = SplitSizes(captions: 48, text: 48, seed: 16, labelled: 8, unlabelled: 8, validation: 8, test: 8, ood: 4)
        let suite = try TaskSuite(seed: 3, sizes: sizes, bank: try DigitBank.load())
        var model = ModelConfig(vocab: Tokenizer.standard.vocabSize)
        model.visionDim = 16; model.visionLayers = 1; model.visionHeads = 2; model.visionMLP = 32
        model.dModel = 32; model.layers = 1; model.heads = 2; model.mlpHidden = 64; model.stemChannels = [4, 8]
        let recipe = PreEvolutionRecipe(seed: 5, pretrainEpochs: 3, pretrainLR: 3e-3, warmupEpochs: 2, warmupLR: 1e-3, batchSize: 16, model: model)
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
