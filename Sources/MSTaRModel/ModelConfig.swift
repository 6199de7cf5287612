import MSTaRTensor

/// Sizes and choices of the vision-language policy, saved as a checkpoint's config.json.
public struct ModelConfig: Codable, Equatable, Sendable {
    /// Token vocabulary size (from the tokenizer).
    public var vocab: Int
    /// Scene canvas height and width in pixels.
    public var imageHeight: Int
    public var imageWidth: Int
    /// ViT patch side in pixels.
    public var patch: Int
    /// Side of the square of neighbouring patches merged into one image token for the language model.
    public var merge: Int
    /// Vision encoder width, depth, heads and MLP width.
    public var visionDim: Int
    public var visionLayers: Int
    public var visionHeads: Int
    public var visionMLP: Int
    /// Language model width, depth, heads and MLP width.
    public var dModel: Int
    public var layers: Int
    public var heads: Int
    public var mlpHidden: Int
    /// Longest text (prompt + response) in tokens.
    public var maxText: Int
    public var norm: NormKind
    public var mlp: MLPKind
    /// Whether the output head shares the token embedding matrix.
    public var tiedHead: Bool

    public init(vocab: Int, imageHeight: Int = 32, imageWidth: Int = 48, patch: Int = 4, merge: Int = 2,
                visionDim: Int = 64, visionLayers: Int = 2, visionHeads: Int = 2, visionMLP: Int = 128,
                dModel: Int = 128, layers: Int = 4, heads: Int = 4, mlpHidden: Int = 512, maxText: Int = 72,
                norm: NormKind = .layerNorm, mlp: MLPKind = .gelu, tiedHead: Bool = true) {
        self.vocab = vocab; self.imageHeight = imageHeight; self.imageWidth = imageWidth
        self.patch = patch; self.merge = merge
        self.visionDim = visionDim; self.visionLayers = visionLayers; self.visionHeads = visionHeads; self.visionMLP = visionMLP
        self.dModel = dModel; self.layers = layers; self.heads = heads; self.mlpHidden = mlpHidden
        self.maxText = maxText; self.norm = norm; self.mlp = mlp; self.tiedHead = tiedHead
    }

    /// Patch grid rows and columns.
    public var gridHeight: Int { imageHeight / patch }
    public var gridWidth: Int { imageWidth / patch }
    /// Image tokens the language model sees (after merging).
    public var imageTokens: Int { (gridHeight / merge) * (gridWidth / merge) }
    /// Longest full sequence: image prefix plus text.
    public var maxSeq: Int { imageTokens + maxText }

    /// Checks that the sizes fit together; the error says which do not.
    public func validate() throws {
        func need(_ ok: Bool, _ why: String) throws { if !ok { throw TensorError.invalid("model config: \(why)") } }
        try need(vocab > 0 && maxText > 0, "vocab and maxText must be positive")
        try need(imageHeight % patch == 0 && imageWidth % patch == 0,
                 "image \(imageHeight)x\(imageWidth) is not a whole number of \(patch)-pixel patches")
        try need(gridHeight % merge == 0 && gridWidth % merge == 0,
                 "patch grid \(gridHeight)x\(gridWidth) is not divisible by merge \(merge)")
        try need(visionDim % visionHeads == 0, "visionDim \(visionDim) is not divisible by \(visionHeads) heads")
        try need(dModel % heads == 0, "dModel \(dModel) is not divisible by \(heads) heads")
    }

    /// A very small configuration for tests.
    public static func tiny(vocab: Int) -> ModelConfig {
        ModelConfig(vocab: vocab, imageHeight: 8, imageWidth: 8, patch: 2, merge: 2, visionDim: 8, visionLayers: 1,
                    visionHeads: 2, visionMLP: 16, dModel: 16, layers: 2, heads: 2, mlpHidden: 32, maxText: 12)
    }
}
