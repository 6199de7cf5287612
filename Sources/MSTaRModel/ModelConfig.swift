import MSTaRTensor

/// How the vision encoder turns pixels into patch features.
public enum Stem: String, Codable, Sendable, CaseIterable { case patch, conv }

/// Sizes and choices of the vision-language policy, saved as a checkpoint's config.json.
public struct ModelConfig: Codable, Equatable, Sendable {
    /// Token vocabulary size (from the tokenizer).
    public var vocab: Int
    /// Scene canvas height and width in pixels.
    public var imageHeight: Int
    /// Scene canvas width in pixels.
    public var imageWidth: Int
    /// ViT patch side in pixels: the stride of the patch grid.
    public var patch: Int
    /// Side of the window each patch embedding reads, centred on its patch (zero-padded at the
    /// border). Windows wider than the patch overlap, so some patch sees every digit whole.
    public var window: Int
    /// How pixels become patch features: a linear patch embedding, or a convolutional stem
    /// (two 3 × 3 convolutions, each followed by GELU and 2 × 2 max pooling; needs `patch` 4),
    /// whose pooling makes digit features robust to where the digit sits.
    public var stem: Stem
    /// Channels of the two convolutions of the convolutional stem.
    public var stemChannels: [Int]
    /// Whether the image prefix starts with one extra token, the mean of the others: a summary at a
    /// fixed place in the sequence, which the language model can read before it learns where to look.
    public var globalToken: Bool
    /// Side of the square of neighbouring patches merged into one image token for the language model.
    public var merge: Int
    /// Vision encoder width, depth, heads and MLP width.
    public var visionDim: Int
    /// Vision encoder depth: non-causal transformer blocks.
    public var visionLayers: Int
    /// Attention heads per vision encoder block.
    public var visionHeads: Int
    /// Hidden width of each vision encoder block's MLP.
    public var visionMLP: Int
    /// Language model width, depth, heads and MLP width.
    public var dModel: Int
    /// Language model depth: causal transformer blocks.
    public var layers: Int
    /// Attention heads per language model block.
    public var heads: Int
    /// Hidden width of each language model block's MLP.
    public var mlpHidden: Int
    /// Longest text (prompt + response) in tokens.
    public var maxText: Int
    /// Normalisation in every block and final norm: LayerNorm or RMSNorm.
    public var norm: NormKind
    /// MLP of every block: GELU or SwiGLU.
    public var mlp: MLPKind
    /// Whether the output head shares the token embedding matrix.
    public var tiedHead: Bool

    /// Creates a configuration from its sizes; `window` defaults to twice the patch.
    public init(vocab: Int, imageHeight: Int = 32, imageWidth: Int = 48, patch: Int = 4, window: Int? = nil,
                stem: Stem = .conv, stemChannels: [Int] = [16, 32], globalToken: Bool = true, merge: Int = 2,
                visionDim: Int = 64, visionLayers: Int = 2, visionHeads: Int = 2, visionMLP: Int = 128,
                dModel: Int = 128, layers: Int = 4, heads: Int = 4, mlpHidden: Int = 512, maxText: Int = 72,
                norm: NormKind = .layerNorm, mlp: MLPKind = .gelu, tiedHead: Bool = true) {
        self.vocab = vocab; self.imageHeight = imageHeight; self.imageWidth = imageWidth
        self.patch = patch; self.window = window ?? 2 * patch; self.merge = merge
        self.stem = stem; self.stemChannels = stemChannels; self.globalToken = globalToken
        self.visionDim = visionDim; self.visionLayers = visionLayers; self.visionHeads = visionHeads; self.visionMLP = visionMLP
        self.dModel = dModel; self.layers = layers; self.heads = heads; self.mlpHidden = mlpHidden
        self.maxText = maxText; self.norm = norm; self.mlp = mlp; self.tiedHead = tiedHead
    }

    /// Patch grid rows and columns.
    public var gridHeight: Int { imageHeight / patch }
    /// Patch grid columns: imageWidth / patch.
    public var gridWidth: Int { imageWidth / patch }
    /// Image tokens the language model sees: the merged patches, plus the global token.
    public var imageTokens: Int { mergedTokens + (globalToken ? 1 : 0) }
    /// Merged patch tokens.
    public var mergedTokens: Int { (gridHeight / merge) * (gridWidth / merge) }
    /// Longest full sequence: image prefix plus text.
    public var maxSeq: Int { imageTokens + maxText }

    /// The range each size must lie in, by its config.json key. Wide enough for every model this
    /// engine trains on a CPU; narrow enough that no value read from a file can divide by zero, index
    /// out of bounds or ask for more memory than the machine has.
    public static var ranges: [(key: String, range: ClosedRange<Int>, value: KeyPath<ModelConfig, Int>)] { [
        ("vocab", 1...65_536, \.vocab),
        ("imageHeight", 1...256, \.imageHeight), ("imageWidth", 1...256, \.imageWidth),
        ("patch", 1...32, \.patch), ("window", 1...64, \.window), ("merge", 1...16, \.merge),
        ("visionDim", 1...1024, \.visionDim), ("visionLayers", 0...24, \.visionLayers),
        ("visionHeads", 1...64, \.visionHeads), ("visionMLP", 1...4096, \.visionMLP),
        ("dModel", 1...2048, \.dModel), ("layers", 1...48, \.layers), ("heads", 1...64, \.heads),
        ("mlpHidden", 1...8192, \.mlpHidden), ("maxText", 2...1024, \.maxText),
    ] }
    /// Channels of each convolution of the stem.
    public static let stemChannelRange = 1...256
    /// The most parameters a configuration may describe (256 MB of Float32 weights).
    public static let maxParameters = 64 << 20

    /// Checks every size against its range, then that the sizes fit together; the error names the
    /// config.json key, its value and what is allowed. Ranges come first, so nothing below divides by zero.
    public func validate() throws {
        func need(_ ok: Bool, _ why: String) throws { if !ok { throw TensorError.invalid(why) } }
        for (key, range, value) in Self.ranges {
            let v = self[keyPath: value]
            try need(range.contains(v), "\(key) is \(v); allowed \(range.lowerBound) to \(range.upperBound)")
        }
        if stem == .conv {
            try need(stemChannels.count == 2, "stemChannels has \(stemChannels.count) entries; the convolutional stem needs 2")
            for c in stemChannels {
                try need(Self.stemChannelRange.contains(c),
                         "stemChannels holds \(c); allowed \(Self.stemChannelRange.lowerBound) to \(Self.stemChannelRange.upperBound)")
            }
            try need(patch == 4, "patch is \(patch); the convolutional stem needs 4")
        }
        try need(imageHeight % patch == 0 && imageWidth % patch == 0,
                 "image \(imageHeight)x\(imageWidth) is not a whole number of \(patch)-pixel patches")
        try need(window >= patch && (window - patch) % 2 == 0, "window \(window) must be at least the patch \(patch) and differ from it by an even number")
        try need(gridHeight % merge == 0 && gridWidth % merge == 0,
                 "patch grid \(gridHeight)x\(gridWidth) is not divisible by merge \(merge)")
        try need(visionDim % visionHeads == 0, "visionDim \(visionDim) is not divisible by visionHeads \(visionHeads)")
        try need(dModel % heads == 0, "dModel \(dModel) is not divisible by heads \(heads)")
        let n = parameterBound
        try need(n <= Double(Self.maxParameters),
                 "the sizes describe about \(Int(n / 1e6)) million parameters; at most \(Self.maxParameters >> 20) Mi are allowed")
    }

    /// An upper bound on the parameter count, computed in floating point so that no sizes overflow.
    public var parameterBound: Double {
        let fc1 = mlp == .swiglu ? 2.0 : 1.0  // SwiGLU's first layer has a gate and an up half
        func block(_ d: Int, _ hidden: Int) -> Double {
            let (d, h) = (Double(d), Double(hidden))
            return 4 * d * d + (fc1 + 1) * d * h + fc1 * h + 9 * d  // attention, MLP, norms and biases
        }
        var stemTotal = 0.0, inC = 1.0
        for c in (stem == .conv ? stemChannels : []) { stemTotal += 9 * inC * Double(c) + Double(c); inC = Double(c) }
        let v = Double(visionDim), d = Double(dModel)
        let fanIn = stem == .conv ? inC : Double(window * window)
        let vision = stemTotal + v * fanIn + v + Double(gridHeight + gridWidth) * v
            + Double(visionLayers) * block(visionDim, visionMLP) + 2 * v
            + d * v * Double(merge * merge) + d * d + 2 * d
        let lm = Double(vocab) * d * (tiedHead ? 1 : 2) + Double(maxText) * d + Double(layers) * block(dModel, mlpHidden) + 3 * d + 1
        return vision + lm
    }

    /// A very small configuration for tests.
    public static func tiny(vocab: Int) -> ModelConfig {
        ModelConfig(vocab: vocab, imageHeight: 16, imageWidth: 24, patch: 4, stemChannels: [3, 4], merge: 2, visionDim: 8, visionLayers: 1,
                    visionHeads: 2, visionMLP: 16, dModel: 16, layers: 2, heads: 2, mlpHidden: 32, maxText: 12)
    }
}
