import Foundation
import MSTaRModel
import MSTaRTasks
import MSTaRTensor
import Testing

@Suite struct VisionPretrainingTests {
    static func smallModel() -> ModelConfig {
        var model = ModelConfig(vocab: Tokenizer.standard.vocabSize)
        model.visionDim = 16; model.visionLayers = 1; model.visionHeads = 2; model.visionMLP = 32
        model.dModel = 32; model.layers = 1; model.heads = 2; model.mlpHidden = 64; model.stemChannels = [4, 8]
        return model
    }

    @Test func labelsNameTheDigitWhoseCentreIsInTheCell() {
        let config = ModelConfig(vocab: Tokenizer.standard.vocabSize)  // 4 x 6 cells of 8 pixels
        let labels = tokenDigitLabels([DigitPlacement(digit: 7, x: 0, y: 0), DigitPlacement(digit: 3, x: 19, y: 13),
                                       DigitPlacement(digit: 5, x: 40, y: 24)], config: config)
        #expect(labels.count == 24)
        #expect(labels[0] == 7)           // centre (4, 4): cell (0, 0)
        #expect(labels[2 * 6 + 2] == 3)   // centre (23, 17): cell (2, 2)
        #expect(labels[3 * 6 + 5] == 5)   // centre (44, 28): cell (3, 5)
        #expect(labels.filter { $0 == TokenDigitHead.none }.count == 21)
        // Two centres in one cell: ignored.
        let clash = tokenDigitLabels([DigitPlacement(digit: 1, x: 4, y: 4), DigitPlacement(digit: 2, x: 7, y: 4)], config: config)
        #expect(clash[1 * 6 + 1] == -1)
    }

    @Test func laidOutExamplesAreTheExamples() throws {
        let suite = try TaskSuite(seed: 2, sizes: SplitSizes(captions: 8, text: 8, seed: 8, labelled: 8, unlabelled: 8, validation: 8, test: 8, ood: 8),
                                  bank: try DigitBank.load())
        for split in [SplitName.captions, .test, .ood] {
            for i in 0..<8 {
                let (e, placements) = suite.laidOutExample(split, index: i)
                #expect(e == suite.example(split, index: i))
                #expect(placements.map(\.digit) == e.facts.reads.flatMap { $0 })
                #expect(placements.allSatisfy { $0.x >= 0 && $0.x + 8 <= 48 && $0.y >= 0 && $0.y + 8 <= 32 })
            }
        }
        #expect(suite.laidOutExample(.text, index: 0).placements.isEmpty)
    }

    /// A non-finite update (a NaN learning rate) is undone and stops the phase with `NonFiniteLoss`.
    @Test func aNonFiniteUpdateStopsPretrainingAndKeepsTheEncoder() throws {
        let suite = try TaskSuite(seed: 3, sizes: SplitSizes(captions: 8, text: 8, seed: 8, labelled: 8, unlabelled: 8, validation: 16, test: 8, ood: 8),
                                  bank: try DigitBank.load())
        var rng = RNG(seed: 1)
        let model = try VisionLanguageModel(Self.smallModel(), rng: &rng)
        let before = model.namedParameters.map { $0.1.array }
        #expect(throws: NonFiniteLoss.self) {
            _ = try pretrainVision(model, suite: suite, options: VisionPretrainOptions(steps: 3, lr: .nan, batchSize: 4), seed: 4)
        }
        #expect(model.namedParameters.map { $0.1.array } == before)
    }

    @Test func pretrainingLowersTheLossAndRepeatsToTheByte() throws {
        let suite = try TaskSuite(seed: 3, sizes: SplitSizes(captions: 8, text: 8, seed: 8, labelled: 8, unlabelled: 8, validation: 16, test: 8, ood: 8),
                                  bank: try DigitBank.load())
        let options = VisionPretrainOptions(steps: 30, lr: 3e-3, batchSize: 8)
        func run() throws -> ([[Float]], [Float], [[Float]], TokenReadingAccuracy) {
            var rng = RNG(seed: 1)
            let model = try VisionLanguageModel(Self.smallModel(), rng: &rng)
            let lmBefore = model.namedParameters.filter { !$0.0.hasPrefix("vision.") }.map { $0.1.array }
            var losses: [Float] = []
            let (_, head) = try pretrainVision(model, suite: suite, options: options, seed: 4) { losses.append($0.loss) }
            // Only the encoder moves.
            #expect(lmBefore == model.namedParameters.filter { !$0.0.hasPrefix("vision.") }.map { $0.1.array })
            let probe = try tokenReadingAccuracy(model, head: head, suite: suite, split: .validation, count: 16)
            return (model.namedParameters.map { $0.1.array }, losses, [head.weight.array, head.bias.array], probe)
        }
        let a = try run(), b = try run()
        #expect(a.0 == b.0 && a.2 == b.2 && a.3 == b.3)
        #expect(a.1.count == 30)
        #expect(a.1.suffix(5).reduce(0, +) < a.1.prefix(5).reduce(0, +), "loss \(a.1.prefix(5)) -> \(a.1.suffix(5))")
        #expect(a.3.digitTokens + a.3.emptyTokens <= 16 * 24 && a.3.digitTokens > 0)
    }
}
