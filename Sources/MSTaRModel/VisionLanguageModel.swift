import MSTaRTensor

/// The policy: a vision encoder whose merged patch tokens form the prefix of a decoder-only
/// language model (pre-norm blocks, learned text positions, tied or untied head), plus a scalar
/// score head on the same backbone for the process reward model.
public final class VisionLanguageModel {
    /// Sizes and choices of the model (config.json).
    public let config: ModelConfig
    /// The vision encoder that makes the image prefix.
    public let vision: VisionEncoder
    /// Token embedding [vocab, dModel] and text position embedding [maxText, dModel].
    public let tokenEmbedding, positionEmbedding: Tensor
    /// The language model's causal blocks.
    public let blocks: [TransformerBlock]
    /// Final norm's weight and bias [dModel].
    public let normWeight, normBias: Tensor
    /// The output head when untied (tied models use `tokenEmbedding`).
    public let untiedHead: Tensor?
    /// The score head: one linear unit on the final hidden state (a logit; the PRM applies a sigmoid).
    public let scoreWeight, scoreBias: Tensor

    /// A freshly initialised model; every parameter requires grad.
    public init(_ config: ModelConfig, rng: inout RNG) throws {
        do { try config.validate() } catch { throw TensorError.invalid("model config: \(error)") }
        self.config = config
        vision = VisionEncoder(config, rng: &rng)
        tokenEmbedding = Init.normal([config.vocab, config.dModel], std: 0.02, rng: &rng)
        // Text positions only: image tokens carry their 2-D positions from the vision encoder, and a
        // second, 1-D position on them would tie what a digit looks like to where it is.
        positionEmbedding = Init.normal([config.maxText, config.dModel], std: 0.02, rng: &rng)
        var blocks: [TransformerBlock] = []
        for _ in 0..<config.layers {
            blocks.append(TransformerBlock(dModel: config.dModel, heads: config.heads, mlpHidden: config.mlpHidden,
                                           norm: config.norm, mlp: config.mlp, depth: config.layers, rng: &rng))
        }
        self.blocks = blocks
        normWeight = .full([config.dModel], 1); normBias = .zeros([config.dModel])
        untiedHead = config.tiedHead ? nil : Init.normal([config.vocab, config.dModel], std: 0.02, rng: &rng)
        scoreWeight = Init.normal([1, config.dModel], std: 0.02, rng: &rng)
        scoreBias = .zeros([1])
        for (name, p) in namedParameters { p.name = name; p.requiresGrad = true }
    }

    /// The output head matrix [vocab, dModel].
    public var head: Tensor { untiedHead ?? tokenEmbedding }

    /// Every parameter with its checkpoint name, in a fixed order.
    public var namedParameters: [(String, Tensor)] {
        var out = vision.namedParameters.map { ("vision.\($0.0)", $0.1) }
        out += [("lm.wte", tokenEmbedding), ("lm.wpe", positionEmbedding)]
        for (i, b) in blocks.enumerated() { out += b.namedParameters.map { ("lm.blocks.\(i).\($0.0)", $0.1) } }
        out.append(("lm.norm.weight", normWeight))
        if config.norm == .layerNorm { out.append(("lm.norm.bias", normBias)) }
        if let untiedHead { out.append(("lm.head.weight", untiedHead)) }
        out += [("score.weight", scoreWeight), ("score.bias", scoreBias)]
        return out
    }

    /// Parameters of the policy (everything but the score head).
    public var policyParameters: [Tensor] { namedParameters.filter { !$0.0.hasPrefix("score.") }.map(\.1) }

    /// Number of parameters.
    public var parameterCount: Int { namedParameters.reduce(0) { $0 + $1.1.count } }

    /// Final hidden states of the text positions, [B, T, dModel], for a batch of images [B, H, W]
    /// and token ids laid out [B, T] (right-padded; causal attention keeps padding from mattering).
    public func hidden(images: Tensor, tokens: [Int32], batch: Int, length: Int) throws -> Tensor {
        guard images.shape.first == batch else {
            throw TensorError.shapeMismatch("batch of \(batch): images \(images.shape) and \(tokens.count) tokens for length \(length)")
        }
        return try hidden(prefix: try vision(images), tokens: tokens, batch: batch, length: length)
    }

    /// `hidden` with the image tokens already computed ([B, imageTokens, dModel] from `vision`):
    /// scoring K responses to one scene encodes the scene once. `observeQKV`, when given, sees each
    /// layer's fused queries, keys and values [B, imageTokens + T, 3·dModel] (the sampler's prefill).
    public func hidden(prefix: Tensor, tokens: [Int32], batch: Int, length: Int,
                       observeQKV: ((_ layer: Int, _ qkv: Tensor) throws -> Void)? = nil) throws -> Tensor {
        guard length <= config.maxText else {
            throw TensorError.invalid("text of \(length) tokens exceeds the model's maxText \(config.maxText)")
        }
        guard tokens.count == batch * length, prefix.shape == [batch, config.imageTokens, config.dModel] else {
            throw TensorError.shapeMismatch("batch of \(batch): image tokens \(prefix.shape) and \(tokens.count) tokens for length \(length)")
        }
        let text = try add(try embedding(tokens, tokenEmbedding, shape: [batch, length]), try positionEmbedding.rows(0, length))
        let p = config.imageTokens
        var x = try concat([prefix, text], axis: 1)
        for (l, b) in blocks.enumerated() {
            x = try b(x, observeQKV: observeQKV.map { observe in { try observe(l, $0) } })
        }
        let textStates = try narrow(x, axis: 1, start: p, length: length)
        return config.norm == .layerNorm
            ? try layerNorm(textStates, weight: normWeight, bias: normBias) : try rmsNorm(textStates, weight: normWeight)
    }

    /// What a forward over prefixes (image tokens and prompt) leaves for continuing them: per
    /// layer the fused queries, keys and values [G, imageTokens + longest prompt, 3·dModel], and
    /// each prompt's length.
    public struct Prefix {
        /// Per layer, the prefixes' fused QKV (prompts right-padded).
        public let qkv: [Tensor]
        /// Text tokens of each prefix (its continuation's text positions start there).
        public let textLengths: [Int]
    }

    /// The forward over G prefixes: image tokens `images` [G, imageTokens, dModel] and one prompt
    /// each (right-padded together; causal attention keeps padding from mattering). Returns what
    /// continuing them needs and the final hidden states of the text positions [G, longest, dModel]
    /// (the sampler's first-token logits come from the last of each prompt).
    public func prefill(images: Tensor, prompts: [[Int32]], pad: Int32 = 0) throws -> (prefix: Prefix, hidden: Tensor) {
        guard !prompts.isEmpty, prompts.allSatisfy({ !$0.isEmpty }) else { throw TensorError.invalid("prefill needs prompts of at least one token") }
        let length = prompts.map(\.count).max()!
        var tokens = [Int32](repeating: pad, count: prompts.count * length)
        for (g, p) in prompts.enumerated() { for (j, t) in p.enumerated() { tokens[g * length + j] = t } }
        var qkv: [Tensor] = []
        let h = try hidden(prefix: images, tokens: tokens, batch: prompts.count, length: length) { _, t in qkv.append(t) }
        return (Prefix(qkv: qkv, textLengths: prompts.map(\.count)), h)
    }

    /// Final hidden states [B, T, dModel] of continuations of cached prefixes: row b of `tokens`
    /// [B, T] (right-padded) continues prefix `rows[b]` at the text positions after its prompt.
    /// Inference only; each state has the bits `hidden` gives it over the whole sequence, at a
    /// fraction of the cost when many continuations share a prefix (the PRM scoring K responses to
    /// each prompt).
    public func hidden(continuing prefix: Prefix, rows: [Int], tokens: [Int32], batch: Int, length: Int) throws -> Tensor {
        guard rows.count == batch, tokens.count == batch * length, prefix.qkv.count == blocks.count,
              rows.allSatisfy({ prefix.textLengths.indices.contains($0) && prefix.textLengths[$0] + length <= config.maxText }) else {
            throw TensorError.invalid("continuations of \(length) tokens must fit the model's maxText \(config.maxText) after their prompts, one prefix per row of [\(batch), \(length)]")
        }
        let d = config.dModel
        let tok = try embedding(tokens, tokenEmbedding, shape: [batch, length])
        let x = Tensor(uninitialized: [batch, length, d])
        // Token plus text position, each row from its own prompt's end (the sum `hidden` forms).
        for (b, r) in rows.enumerated() {
            let start = prefix.textLengths[r]
            for j in 0..<length {
                let o = (b * length + j) * d, pe = positionEmbedding.ptr + (start + j) * d
                for f in 0..<d { x.ptr[o + f] = tok.ptr[o + f] + pe[f] }
            }
        }
        let lengths = prefix.textLengths.map { config.imageTokens + $0 }
        var h = x
        for (l, b) in blocks.enumerated() { h = try b(h, past: TransformerBlock.Past(qkv: prefix.qkv[l], lengths: lengths, rows: rows)) }
        return config.norm == .layerNorm ? try layerNorm(h, weight: normWeight, bias: normBias) : try rmsNorm(h, weight: normWeight)
    }

    /// Next-token logits [B, T, vocab] at every text position.
    public func logits(images: Tensor, tokens: [Int32], batch: Int, length: Int) throws -> Tensor {
        try linear(try hidden(images: images, tokens: tokens, batch: batch, length: length), head)
    }

    /// Score-head logits [B, T] at every text position, from hidden states.
    public func scores(_ hidden: Tensor) throws -> Tensor {
        let s = try linear(hidden, scoreWeight, scoreBias)
        return try s.reshaped(Array(hidden.shape.dropLast()))
    }
}

extension VisionLanguageModel {
    /// An independent model with the same configuration and weights (ReST-EM's π0, GRPO's
    /// reference policy, the PRM's starting point).
    public func copy() throws -> VisionLanguageModel {
        var rng = RNG(seed: 0)
        let other = try VisionLanguageModel(config, rng: &rng)
        try other.loadWeights(from: self)
        return other
    }

    /// Overwrites every parameter with the corresponding one of `other` (same configuration).
    public func loadWeights(from other: VisionLanguageModel) throws {
        guard other.config == config else {
            throw TensorError.invalid("cannot copy weights between models of different configurations")
        }
        for ((name, dst), (_, src)) in zip(namedParameters, other.namedParameters) {
            guard dst.count == src.count else { throw TensorError.shapeMismatch("\(name): \(dst.shape) vs \(src.shape)") }
            dst.ptr.update(from: src.ptr, count: dst.count)
        }
    }
}
