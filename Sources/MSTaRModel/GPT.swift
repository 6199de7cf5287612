import MSTaRTensor

/// A decoder-only language model: token + learned position embeddings, pre-norm blocks,
/// a final LayerNorm and an untied head. The benchmark's reference transformer, and the
/// language half that the vision-language policy builds on.
public final class GPT {
    /// Sizes of the model.
    public struct Config: Codable, Equatable, Sendable {
        public var vocab: Int
        public var dModel: Int
        public var layers: Int
        public var heads: Int
        public var mlpHidden: Int
        public var maxSeq: Int
        public init(vocab: Int = 256, dModel: Int = 128, layers: Int = 4, heads: Int = 4, mlpHidden: Int = 512, maxSeq: Int = 80) {
            self.vocab = vocab; self.dModel = dModel; self.layers = layers; self.heads = heads
            self.mlpHidden = mlpHidden; self.maxSeq = maxSeq
        }
    }

    public let config: Config
    public let tokenEmbedding: Tensor
    public let positionEmbedding: Tensor
    public let blocks: [TransformerBlock]
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
