import MSTaRTasks
import MSTaRTensor

/// One training sequence: a scene (nil for text-only prompts, which see a blank canvas), the prompt
/// ids the policy conditions on, and the response ids it learns to write (loss falls on these only).
public struct TrainingSequence: Sendable, Equatable {
    /// The scene (nil for text-only prompts, which see a blank canvas).
    public var image: Canvas?
    /// Prompt ids the policy conditions on (they carry no loss).
    public var prompt: [Int]
    /// Response ids the policy learns to write (the loss falls on these).
    public var response: [Int]
    /// Scales this sequence's loss (1 for plain SFT).
    public var weight: Float

    /// Creates a sequence from its fields.
    public init(image: Canvas?, prompt: [Int], response: [Int], weight: Float = 1) {
        self.image = image; self.prompt = prompt; self.response = response; self.weight = weight
    }

    /// The example's prompt and its visible target (nil when the example shows no target).
    public init?(_ example: Example, tokenizer: Tokenizer = .standard, oracle: Bool = false) throws {
        let (prompt, response) = try tokenizer.encode(example, oracle: oracle)
        guard let response else { return nil }
        self.init(image: example.image, prompt: prompt, response: response)
    }

    /// Prompt plus response length in tokens.
    public var length: Int { prompt.count + response.count }
}

/// A padded batch laid out for `VisionLanguageModel`: images [B, H, W], tokens [B, T] and the
/// next-token targets, which are -1 (ignored) on prompt and padding positions.
public struct SequenceBatch {
    /// Scenes [B, H, W] (zeros for text-only prompts).
    public var images: Tensor
    /// Input ids [B·T], row-major, right-padded with the pad id.
    public var tokens: [Int32]
    /// Next-token ids [B·T]; -1 (ignored) on prompt and padding positions.
    public var targets: [Int32]
    /// Per-position loss weights (each sequence's weight on its target positions), or nil when all are 1.
    public var weights: [Float]?
    /// B: sequences in the batch.
    public var batch: Int
    /// T: input positions per sequence (the longest sequence cut to `maxText`, less one).
    public var length: Int
    /// Number of positions that carry loss.
    public var targetCount: Int

    /// Packs `sequences` (cut to the model's `maxText`) into one right-padded batch.
    public init(_ sequences: [TrainingSequence], config: ModelConfig, pad: Int = Tokenizer.standard.pad) throws {
        guard !sequences.isEmpty else { throw TensorError.invalid("cannot build an empty batch") }
        let b = sequences.count
        let t = Swift.min(config.maxText, sequences.map(\.length).max()!) - 1
        guard t > 0 else { throw TensorError.invalid("sequences are too short to train on") }
        let pixels = config.imageHeight * config.imageWidth
        let images = Tensor.zeros([b, config.imageHeight, config.imageWidth])
        self.images = images
        tokens = [Int32](repeating: Int32(pad), count: b * t)
        targets = [Int32](repeating: -1, count: b * t)
        let weighted = sequences.contains { $0.weight != 1 }
        weights = weighted ? [Float](repeating: 0, count: b * t) : nil
        var counted = 0
        for (i, s) in sequences.enumerated() {
            if let image = s.image {
                guard image.height == config.imageHeight, image.width == config.imageWidth else {
                    throw TensorError.shapeMismatch("scene \(image.height)x\(image.width) does not fit the model's \(config.imageHeight)x\(config.imageWidth) input")
                }
                image.pixels.withUnsafeBufferPointer { (images.ptr + i * pixels).update(from: $0.baseAddress!, count: pixels) }
            }
            let full = Array((s.prompt + s.response).prefix(t + 1))
            for j in 0..<(full.count - 1) {
                tokens[i * t + j] = Int32(full[j])
                // Position j predicts token j+1, which is a response token when j+1 >= prompt length.
                if j + 1 >= s.prompt.count {
                    targets[i * t + j] = Int32(full[j + 1])
                    weights?[i * t + j] = s.weight
                    counted += 1
                }
            }
        }
        batch = b
        length = t
        targetCount = counted
    }
}

/// Groups sequences of similar length into batches (less padding), in an order drawn from `rng`:
/// shuffle, sort within windows of 16 batches by length, cut, then shuffle the batches.
public func lengthBucketedBatches(_ sequences: [TrainingSequence], batchSize: Int, rng: inout RNG) -> [[TrainingSequence]] {
    var order = rng.permutation(sequences.count)
    let window = batchSize * 16
    var batches: [[TrainingSequence]] = []
    var start = 0
    while start < order.count {
        let end = Swift.min(order.count, start + window)
        order[start..<end].sort { (sequences[$0].length, $0) < (sequences[$1].length, $1) }
        var b = start
        while b < end {
            batches.append(order[b..<Swift.min(end, b + batchSize)].map { sequences[$0] })
            b += batchSize
        }
        start = end
    }
    rng.shuffle(&batches)
    return batches
}
