import MSTaRTensor

/// A decoder-only language model: token + learned position embeddings, pre-norm blocks,
/// a final LayerNorm and an untied head. The benchmark's reference transformer, and the
/// language half that the vision-language policy builds on.
public final class GPT {
    /// Sizes of the model.
    public struct Config: Codable, Equatable, Sendable {
        /// Token vocabulary size.
        public var vocab: Int
        /// Model width: the size of embeddings and hidden states.
        public var dModel: Int
        /// Depth: the number of transformer blocks.
        public var layers: Int
        /// Attention heads per block.
        public var heads: Int
        /// Hidden width of each block's MLP.
        public var mlpHidden: Int
        /// Longest sequence in tokens (rows of the position embedding).
        public var maxSeq: Int
        /// Creates a configuration from its sizes.
        public init(vocab: Int = 256, dModel: Int = 128, layers: Int = 4, heads: Int = 4, mlpHidden: Int = 512, maxSeq: Int = 80) {
            self.vocab = vocab; self.dModel = dModel; self.layers = layers; self.heads = heads
            self.mlpHidden = mlpHidden; self.maxSeq = maxSeq
        }
    }

    /// The model's sizes.
    public let config: Config
    /// Token embedding [vocab, dModel] (`wte`).
    public let tokenEmbedding: Tensor
    /// Learned position embedding [maxSeq, dModel] (`wpe`).
    public let positionEmbedding: Tensor
    /// The causal transformer blocks, in order.
    public let blocks: [TransformerBlock]
    /// Final LayerNorm weight and bias [dModel], and the untied output head [vocab, dModel].
    public let lnfWeight, lnfBias, head: Tensor

    /// A freshly initialised model (embeddings and linears ~ N(0, 0.02²)); every parameter requires grad.
    public init(_ config: Config, rng: inout RNG) {
        self.config = config
        tokenEmbedding = Init.normal([config.vocab, config.dModel], std: 0.02, rng: &rng)
        positionEmbedding = Init.normal([config.maxSeq, config.dModel], std: 0.02, rng: &rng)
        var blocks: [TransformerBlock] = []
        for _ in 0..<config.layers {
            blocks.append(TransformerBlock(dModel: config.dModel, heads: config.heads, mlpHidden: config.mlpHidden, rng: &rng))
        }
        self.blocks = blocks
        lnfWeight = .full([config.dModel], 1)
        lnfBias = .zeros([config.dModel])
        head = Init.normal([config.vocab, config.dModel], std: 0.02, rng: &rng)
        for (name, p) in namedParameters { p.name = name; p.requiresGrad = true }
    }

    /// All parameters with stable names.
    public var namedParameters: [(String, Tensor)] {
        var out: [(String, Tensor)] = [("wte", tokenEmbedding), ("wpe", positionEmbedding)]
        for (i, b) in blocks.enumerated() { out += b.namedParameters.map { ("blocks.\(i).\($0.0)", $0.1) } }
        out += [("ln_f.weight", lnfWeight), ("ln_f.bias", lnfBias), ("head.weight", head)]
        return out
    }

    /// All parameters, in `namedParameters` order.
    public var parameters: [Tensor] { namedParameters.map(\.1) }

    /// Logits [batch, seq, vocab] for token ids laid out [batch, seq].
    public func callAsFunction(_ ids: [Int32], batch: Int, seq: Int) throws -> Tensor {
        guard seq <= config.maxSeq else {
            throw TensorError.invalid("sequence of \(seq) tokens exceeds the model's maxSeq \(config.maxSeq)")
        }
        let tok = try embedding(ids, tokenEmbedding, shape: [batch, seq])
        let pos = try positionEmbedding.rows(0, seq)
        var x = try add(tok, pos)
        for b in blocks { x = try b(x) }
        x = try layerNorm(x, weight: lnfWeight, bias: lnfBias)
        return try linear(x, head)
    }
}
