import Foundation
import MSTaRTasks
import MSTaRTensor

/// The class of each merged image token for the dense reading objective: the digit whose 8 × 8 box
/// has its centre inside the token's cell of the canvas (`patch · merge` pixels square), `none`
/// (10) for a cell with no digit centre, and -1 (ignored) where two digit centres share a cell.
/// Row-major over the merged token grid, without the global token.
public func tokenDigitLabels(_ placements: [DigitPlacement], config: ModelConfig) -> [Int32] {
    let cell = config.patch * config.merge
    let rows = config.gridHeight / config.merge, columns = config.gridWidth / config.merge
    var labels = [Int32](repeating: TokenDigitHead.none, count: rows * columns)
    var taken = [Bool](repeating: false, count: rows * columns)
    let half = DigitBank.side / 2
    for p in placements {
        let r = (p.y + half) / cell, c = (p.x + half) / cell
        guard r >= 0, r < rows, c >= 0, c < columns else { continue }
        let i = r * columns + c
        labels[i] = taken[i] ? -1 : Int32(p.digit)
        taken[i] = true
    }
    return labels
}

/// A linear classifier on the vision encoder's merged image tokens (the vectors the language model
/// reads) into the ten digits plus `none`: the head of the dense reading objective, used only
/// while pretraining the encoder and then dropped.
public struct TokenDigitHead {
    /// Class of a token cell with no digit centre.
    public static let none: Int32 = 10
    /// Number of classes: the ten digits plus `none`.
    public static let classes = 11
    /// The classifier's weight [classes, dModel] and bias [classes].
    public let weight, bias: Tensor

    /// A fresh head for tokens of width `dModel` (weights ~ N(0, 0.02²), biases 0).
    public init(dModel: Int, rng: inout RNG) {
        weight = Init.normal([Self.classes, dModel], std: 0.02, rng: &rng)
        bias = .zeros([Self.classes])
        weight.requiresGrad = true
        bias.requiresGrad = true
    }

    /// Logits [B, mergedTokens, classes] for images [B, H, W].
    public func logits(_ model: VisionLanguageModel, images: Tensor) throws -> Tensor {
        let tokens = try model.vision(images)
        let c = model.config
        let merged = c.globalToken ? try narrow(tokens, axis: 1, start: 1, length: c.mergedTokens) : tokens
        return try linear(merged, weight, bias)
    }
}

/// Settings of the vision encoder's pretraining on the dense reading objective.
public struct VisionPretrainOptions: Codable, Equatable, Sendable {
    /// Optimizer updates, each on a batch of fresh scenes.
    public var steps: Int
    /// Peak learning rate (cosine, 50 warm-up steps, down to a tenth).
    public var lr: Float
    /// Scenes per update.
    public var batchSize: Int
    /// Distortions of the handwriting in its scenes (nil: drawn as written).
    public var augmentation: HandwritingAugmentation?

    /// Creates options from their fields.
    public init(steps: Int = 3000, lr: Float = 3e-3, batchSize: Int = 32, augmentation: HandwritingAugmentation? = .standard) {
        self.steps = steps; self.lr = lr; self.batchSize = batchSize; self.augmentation = augmentation
    }
}

/// Where a reading probe stands: how often the head names the digit of a token cell holding one
/// (digit recall) and how often it says `none` where there is none.
public struct TokenReadingAccuracy: Codable, Equatable, Sendable {
    /// Token cells holding one digit centre.
    public var digitTokens: Int
    /// Share of those where the head names the digit, 0…1 (digit recall).
    public var digitAcc: Double
    /// Token cells holding no digit centre.
    public var emptyTokens: Int
    /// Share of those where the head says `none`, 0…1.
    public var emptyAcc: Double
}

/// Scene `index` of the vision pretraining stream: caption scenes far past any caption corpus
/// (index 2³² + i of the captions split), so they never repeat one the language model captions.
func visionScene(_ suite: TaskSuite, _ i: Int) -> (image: Canvas, placements: [DigitPlacement]) {
    let (e, placements) = suite.laidOutExample(.captions, index: (1 << 32) + i)
    return (e.image!, placements)
}

func imageBatch(_ canvases: [Canvas], config: ModelConfig) -> Tensor {
    let pixels = config.imageHeight * config.imageWidth
    let images = Tensor.zeros([canvases.count, config.imageHeight, config.imageWidth])
    for (i, c) in canvases.enumerated() {
        c.pixels.withUnsafeBufferPointer { (images.ptr + i * pixels).update(from: $0.baseAddress!, count: pixels) }
    }
    return images
}

/// Pretrains the vision encoder (and a throw-away `TokenDigitHead`) to name the digit under each
/// merged image token, on a stream of fresh caption scenes from the train handwriting, before the
/// language model learns to caption: the way a VLM starts from a pretrained vision encoder. Only
/// the encoder's parameters change in `model`. Deterministic for a fixed seed and thread count.
public func pretrainVision(_ model: VisionLanguageModel, suite: TaskSuite, options: VisionPretrainOptions, seed: UInt64,
                           progress: ((TrainProgress) -> Void)? = nil) throws -> (report: TrainReport, head: TokenDigitHead) {
    var style = suite.renderer.style
    style.augmentation = options.augmentation
    let scenes = try TaskSuite(seed: suite.seed, sizes: suite.sizes, bank: suite.renderer.bank, style: style)
    var rng = RNG(seed: seed, stream: 0x715)
    let head = TokenDigitHead(dModel: model.config.dModel, rng: &rng)
    let params = model.vision.namedParameters.map(\.1) + [head.weight, head.bias]
    let optimizer = AdamW(params: params, config: .init(lr: options.lr, beta1: 0.9, beta2: 0.98, eps: 1e-8, weightDecay: 0.01))
    let schedule = LRSchedule.cosine(lr: options.lr, warmup: 50, total: options.steps, minLR: options.lr / 10)
    let start = Date()
    var sumLoss: Float = 0, last: Float = 0, tokens = 0
    for step in 0..<options.steps {
        let drawn = (0..<options.batchSize).map { visionScene(scenes, step * options.batchSize + $0) }
        let labels = drawn.flatMap { tokenDigitLabels($0.placements, config: model.config) }
        last = try optimizer.safeUpdate(lr: schedule.lr(at: step), clip: 1) { _ in
            try crossEntropy(try head.logits(model, images: imageBatch(drawn.map(\.image), config: model.config)), labels)
        }.loss
        sumLoss += last
        tokens += labels.count
        let elapsed = Date().timeIntervalSince(start)
        progress?(TrainProgress(step: step + 1, totalSteps: options.steps, loss: last,
                                tokensPerSecond: Double(tokens) / max(elapsed, 1e-9), elapsed: elapsed))
    }
    optimizer.zeroGrad()
    let report = TrainReport(steps: options.steps, sequences: options.steps * options.batchSize, tokens: tokens,
                             meanLoss: options.steps > 0 ? sumLoss / Float(options.steps) : .nan, lastLoss: last,
                             seconds: Date().timeIntervalSince(start))
    return (report, head)
}

/// Accuracy of `head` on the merged image tokens of `examples`' scenes, laid out again from `suite`.
public func tokenReadingAccuracy(_ model: VisionLanguageModel, head: TokenDigitHead, suite: TaskSuite, split: SplitName,
                                 count: Int) throws -> TokenReadingAccuracy {
    var digitTokens = 0, digitRight = 0, emptyTokens = 0, emptyRight = 0
    var i = 0
    while i < count {
        let n = min(64, count - i)
        let drawn = (i..<(i + n)).map { suite.laidOutExample(split, index: $0) }
        let labels = drawn.flatMap { tokenDigitLabels($0.placements, config: model.config) }
        let logits = try Tensor.withoutGrad { try head.logits(model, images: imageBatch(drawn.map { $0.example.image! }, config: model.config)) }
        let classes = TokenDigitHead.classes
        for (t, label) in labels.enumerated() where label >= 0 {
            let row = logits.ptr + t * classes
            var best = 0
            for k in 1..<classes where row[k] > row[best] { best = k }
            if label == TokenDigitHead.none {
                emptyTokens += 1; if best == Int(label) { emptyRight += 1 }
            } else {
                digitTokens += 1; if best == Int(label) { digitRight += 1 }
            }
        }
        i += n
    }
    return TokenReadingAccuracy(digitTokens: digitTokens, digitAcc: Double(digitRight) / Double(max(digitTokens, 1)),
                                emptyTokens: emptyTokens, emptyAcc: Double(emptyRight) / Double(max(emptyTokens, 1)))
}
