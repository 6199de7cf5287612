import Foundation
import MSTaRTasks
import MSTaRTensor

/// How the pre-evolved policy is made: the base model's skills first (pretraining on scene
/// captions, which teach reading, and on text-only arithmetic and counting), then a warm-up on the
/// scarce seed chains of thought, which teaches the format and joins reading to reasoning.
public struct PreEvolutionRecipe: Codable, Equatable, Sendable {
    /// Seed every generator of pre-evolution derives from (initialisation, data order, scenes).
    public var seed: UInt64
    /// Epochs of pretraining on captions and text skills.
    public var pretrainEpochs: Int
    /// Peak learning rate of pretraining (cosine, 50 warm-up steps, down to a tenth).
    public var pretrainLR: Float
    /// Epochs of the warm-up on the seed chains of thought.
    public var warmupEpochs: Int
    /// Learning rate of the warm-up (constant).
    public var warmupLR: Float
    /// Sequences per batch in pretraining and the warm-up.
    public var batchSize: Int
    /// Configuration of the fresh policy (unused when training continues from a given model).
    public var model: ModelConfig
    /// Distortions of the handwriting in pretraining caption scenes (nil: drawn as written).
    public var captionAugmentation: HandwritingAugmentation?
    /// Whether every pretraining epoch draws new caption scenes and text examples (epoch e uses
    /// indices e·n ..< (e+1)·n of the unbounded splits) instead of repeating the first n.
    public var freshEachEpoch: Bool
    /// Pretraining of the vision encoder on the dense reading objective before everything else
    /// (nil: none; the encoder starts from its initialisation).
    public var vision: VisionPretrainOptions?
    /// Pretraining examples (caption scenes and text skills, half each, never seen before) mixed into
    /// every warm-up epoch with the seed chains, so that the warm-up does not overwrite reading;
    /// 0: the seed chains alone.
    public var warmupReplay: Int = 0

    /// Creates a recipe from its fields (`warmupReplay` stays 0).
    public init(seed: UInt64 = 0, pretrainEpochs: Int = 20, pretrainLR: Float = 7e-4, warmupEpochs: Int = 20,
                warmupLR: Float = 3e-4, batchSize: Int = 32, model: ModelConfig = ModelConfig(vocab: Tokenizer.standard.vocabSize),
                captionAugmentation: HandwritingAugmentation? = .standard, freshEachEpoch: Bool = true,
                vision: VisionPretrainOptions? = VisionPretrainOptions()) {
        self.seed = seed; self.pretrainEpochs = pretrainEpochs; self.pretrainLR = pretrainLR
        self.warmupEpochs = warmupEpochs; self.warmupLR = warmupLR; self.batchSize = batchSize; self.model = model
        self.captionAugmentation = captionAugmentation; self.freshEachEpoch = freshEachEpoch
        self.vision = vision
    }
}

/// The pretraining corpus of one epoch: `suite.sizes.captions` caption scenes (drawn with
/// `augmentation`, when given) and `suite.sizes.text` text-only examples; with `fresh`, epoch e
/// takes the next block of indices of each split, so no two epochs share an example.
public func pretrainingCorpus(suite: TaskSuite, epoch: Int, fresh: Bool, augmentation: HandwritingAugmentation?,
                              tokenizer: Tokenizer = .standard) throws -> [TrainingSequence] {
    let (nc, nt) = (suite.sizes.captions, suite.sizes.text)
    let (c0, t0) = fresh ? (epoch * nc, epoch * nt) : (0, 0)
    return try captionAndTextCorpus(suite: suite, captions: c0..<(c0 + nc), text: t0..<(t0 + nt), augmentation: augmentation, tokenizer: tokenizer)
}

/// Caption scenes `captions` (drawn with `augmentation`) and text examples `text` of the unbounded
/// pretraining splits, as training sequences.
func captionAndTextCorpus(suite: TaskSuite, captions: Range<Int>, text: Range<Int>, augmentation: HandwritingAugmentation?,
                          tokenizer: Tokenizer) throws -> [TrainingSequence] {
    var style = suite.renderer.style
    style.augmentation = augmentation
    let captionSuite = augmentation == nil ? suite
        : try TaskSuite(seed: suite.seed, sizes: suite.sizes, bank: suite.renderer.bank, style: style)
    let examples = captions.map { captionSuite.example(.captions, index: $0) } + text.map { suite.example(.text, index: $0) }
    return try examples.compactMap { try TrainingSequence($0, tokenizer: tokenizer) }
}

/// Where warm-up replay starts in the unbounded caption and text splits: past any pretraining run's
/// blocks (20 epochs of 4,000 use 80,000), and the same whether pretraining ran in this call or
/// before (`--from`), so a two-command pipeline gives the one-command bytes.
public let warmupReplayStart = 1 << 20

/// Warm-up epoch `epoch`'s replay: `recipe.warmupReplay` pretraining examples (half caption
/// scenes, half text), a new block of indices each epoch from `warmupReplayStart`.
public func warmupReplayCorpus(suite: TaskSuite, recipe: PreEvolutionRecipe, epoch: Int,
                               tokenizer: Tokenizer = .standard) throws -> [TrainingSequence] {
    let nc = recipe.warmupReplay / 2, nt = recipe.warmupReplay - recipe.warmupReplay / 2
    let c0 = warmupReplayStart + epoch * nc, t0 = warmupReplayStart + epoch * nt
    return try captionAndTextCorpus(suite: suite, captions: c0..<(c0 + nc), text: t0..<(t0 + nt),
                                    augmentation: recipe.captionAugmentation, tokenizer: tokenizer)
}

/// Trains one phase as `parts` calls, one pass over `corpus(i)` each (a corpus too large to build
/// at once, or new examples every epoch): progress counts the whole phase's steps, time and
/// tokens, and the reports add up to one.
func trainInParts(_ trainer: SFTTrainer, parts: Int, totalSteps: Int, phase: String, progress: ((String, TrainProgress) -> Void)?,
                  corpus: (Int) throws -> [TrainingSequence]) throws -> TrainReport {
    var total = TrainReport(steps: 0, sequences: 0, tokens: 0, meanLoss: 0, lastLoss: .nan, seconds: 0)
    for part in 0..<parts {
        let before = total
        let r = try trainer.train(try corpus(part), epochs: 1) { p in
            var p = p
            p.step += before.steps
            p.totalSteps = totalSteps
            p.elapsed += before.seconds
            p.tokensPerSecond = Double(before.tokens) / Swift.max(p.elapsed, 1e-9) + p.tokensPerSecond * (p.elapsed - before.seconds) / Swift.max(p.elapsed, 1e-9)
            progress?(phase, p)
        }
        total.meanLoss = (total.meanLoss * Float(total.steps) + r.meanLoss * Float(r.steps)) / Float(Swift.max(total.steps + r.steps, 1))
        total.steps += r.steps; total.sequences += r.sequences; total.tokens += r.tokens
        total.lastLoss = r.lastLoss; total.seconds += r.seconds
    }
    return total
}

/// One phase of pre-evolution, as reported.
public struct PhaseReport: Codable, Equatable, Sendable {
    /// The phase: "vision", "pretrain" or "warm-up".
    public var phase: String
    /// Examples trained on: per epoch for pretraining and the warm-up, scenes in all for vision.
    public var examples: Int
    /// What the phase's training did.
    public var report: TrainReport
    /// For the vision phase: how its probe reads the validation scenes' tokens afterwards.
    public var tokenReading: TokenReadingAccuracy?

    /// Creates a report from its fields.
    public init(phase: String, examples: Int, report: TrainReport, tokenReading: TokenReadingAccuracy? = nil) {
        self.phase = phase; self.examples = examples; self.report = report; self.tokenReading = tokenReading
    }
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

    if let vision = recipe.vision, vision.steps > 0 {
        let (r0, head) = try pretrainVision(model, suite: suite, options: vision, seed: recipe.seed ^ 0x76) { progress?("vision", $0) }
        let probe = try tokenReadingAccuracy(model, head: head, suite: suite, split: .validation, count: suite.sizes.validation)
        phases.append(PhaseReport(phase: "vision", examples: vision.steps * vision.batchSize, report: r0, tokenReading: probe))
    }

    let perEpoch = suite.sizes.captions + suite.sizes.text
    let stepsPerEpoch = (perEpoch + recipe.batchSize - 1) / recipe.batchSize
    let steps = recipe.pretrainEpochs * stepsPerEpoch
    let pretrainer = SFTTrainer(
        model: model,
        options: .init(batchSize: recipe.batchSize, schedule: .cosine(lr: recipe.pretrainLR, warmup: 50, total: steps, minLR: recipe.pretrainLR / 10),
                       optimizer: .init(lr: recipe.pretrainLR, beta1: 0.9, beta2: 0.98, eps: 1e-8, weightDecay: 0.01)),
        seed: recipe.seed ^ 0x70)
    if recipe.pretrainEpochs > 0 && (recipe.freshEachEpoch || recipe.captionAugmentation != nil) {
        // One corpus per epoch; the schedule runs over all of them (it follows the optimizer's step).
        let total = try trainInParts(pretrainer, parts: recipe.pretrainEpochs, totalSteps: steps, phase: "pretrain", progress: progress) {
            try pretrainingCorpus(suite: suite, epoch: $0, fresh: recipe.freshEachEpoch, augmentation: recipe.captionAugmentation, tokenizer: tokenizer)
        }
        phases.append(PhaseReport(phase: "pretrain", examples: perEpoch, report: total))
    } else if recipe.pretrainEpochs > 0 {
        let pretrain = try pretrainingCorpus(suite: suite, epoch: 0, fresh: false, augmentation: nil, tokenizer: tokenizer)
        let r1 = try pretrainer.train(pretrain, epochs: recipe.pretrainEpochs) { progress?("pretrain", $0) }
        phases.append(PhaseReport(phase: "pretrain", examples: pretrain.count, report: r1))
    }

    let seedSet = try suite.examples(.seed).compactMap { try TrainingSequence($0, tokenizer: tokenizer) }
    let warmer = SFTTrainer(
        model: model,
        options: .init(batchSize: recipe.batchSize, schedule: .constant(lr: recipe.warmupLR),
                       optimizer: .init(lr: recipe.warmupLR, beta1: 0.9, beta2: 0.98, eps: 1e-8, weightDecay: 0.01)),
        seed: recipe.seed ^ 0x77)
    if recipe.warmupReplay > 0 {
        // A new replay block every epoch, trained in one shuffle with the seed chains (the LR is constant).
        let perEpoch = (seedSet.count + recipe.warmupReplay + recipe.batchSize - 1) / recipe.batchSize
        let total = try trainInParts(warmer, parts: recipe.warmupEpochs, totalSteps: recipe.warmupEpochs * perEpoch,
                                     phase: "warm-up", progress: progress) {
            try seedSet + warmupReplayCorpus(suite: suite, recipe: recipe, epoch: $0, tokenizer: tokenizer)
        }
        phases.append(PhaseReport(phase: "warm-up", examples: seedSet.count + recipe.warmupReplay, report: total))
    } else {
        let r2 = try warmer.train(seedSet, epochs: recipe.warmupEpochs) { progress?("warm-up", $0) }
        phases.append(PhaseReport(phase: "warm-up", examples: seedSet.count, report: r2))
    }

    let state = TrainingState(step: 0, rngs: ["init": rng])
    return (model, state, phases)
}
