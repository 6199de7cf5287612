import MSTaRTensor

/// Which normalisation a block uses.
public enum NormKind: String, Codable, Sendable, CaseIterable { case layerNorm, rmsNorm }
/// Which MLP a block uses: GELU (GPT-2) or SwiGLU (LLaMA).
public enum MLPKind: String, Codable, Sendable, CaseIterable { case gelu, swiglu }

/// A pre-norm transformer block:
/// x ← x + proj(attention(norm1(x))); x ← x + mlp(norm2(x)).
public final class TransformerBlock {
    /// Attention heads the width is split into.
    public let heads: Int
    /// Whether attention is causal (the language model) or sees every position (the vision encoder).
    public let causal: Bool
    /// LayerNorm or RMSNorm, for both norms.
    public let norm: NormKind
    /// The MLP: GELU or SwiGLU.
    public let mlp: MLPKind
    /// Hidden width of the MLP (fc1 is twice as wide under SwiGLU: gate and up).
    public let hidden: Int
    /// Attention half: norm 1 weight and bias, fused QKV [3·dModel, dModel] and bias, output projection and bias.
    public let ln1Weight, ln1Bias, qkvWeight, qkvBias, projWeight, projBias: Tensor
    /// MLP half: norm 2 weight and bias, fc1 and its bias, fc2 [dModel, mlpHidden] and its bias.
    public let ln2Weight, ln2Bias, fc1Weight, fc1Bias, fc2Weight, fc2Bias: Tensor

    /// A block of width `dModel` with `heads` heads and an MLP of width `mlpHidden`;
    /// linear weights ~ N(0, 0.02²) (output projections scaled by 1/√(2·depth) when `depth` is given),
    /// biases 0, norms 1.
    public init(dModel: Int, heads: Int, mlpHidden: Int, causal: Bool = true, norm: NormKind = .layerNorm,
                mlp: MLPKind = .gelu, depth: Int? = nil, rng: inout RNG) {
        self.heads = heads
        self.causal = causal
        self.norm = norm
        self.mlp = mlp
        hidden = mlpHidden
        let residualStd: Float = depth.map { 0.02 / Float(2 * $0).squareRoot() } ?? 0.02
        func w(_ shape: [Int], _ std: Float = 0.02) -> Tensor { Init.normal(shape, std: std, rng: &rng) }
        ln1Weight = .full([dModel], 1); ln1Bias = .zeros([dModel])
        qkvWeight = w([3 * dModel, dModel]); qkvBias = .zeros([3 * dModel])
        projWeight = w([dModel, dModel], residualStd); projBias = .zeros([dModel])
        ln2Weight = .full([dModel], 1); ln2Bias = .zeros([dModel])
        let fc1Out = mlp == .swiglu ? 2 * mlpHidden : mlpHidden
        fc1Weight = w([fc1Out, dModel]); fc1Bias = .zeros([fc1Out])
        fc2Weight = w([dModel, mlpHidden], residualStd); fc2Bias = .zeros([dModel])
    }

    /// The block's parameters with their names (stable: checkpoints use them). RMSNorm has no bias.
    public var namedParameters: [(String, Tensor)] {
        var out: [(String, Tensor)] = [("ln1.weight", ln1Weight)]
        if norm == .layerNorm { out.append(("ln1.bias", ln1Bias)) }
        out += [("attn.qkv.weight", qkvWeight), ("attn.qkv.bias", qkvBias),
                ("attn.proj.weight", projWeight), ("attn.proj.bias", projBias), ("ln2.weight", ln2Weight)]
        if norm == .layerNorm { out.append(("ln2.bias", ln2Bias)) }
        out += [("mlp.fc1.weight", fc1Weight), ("mlp.fc1.bias", fc1Bias), ("mlp.fc2.weight", fc2Weight), ("mlp.fc2.bias", fc2Bias)]
        return out
    }

    func normalize(_ x: Tensor, _ w: Tensor, _ b: Tensor) throws -> Tensor {
        norm == .layerNorm ? try layerNorm(x, weight: w, bias: b) : try rmsNorm(x, weight: w)
    }

    /// [B, P + T, 3C]: row b holds its prefix's positions, then its own `qkv` rows [T, 3C].
    func prepend(_ past: Past, to qkv: Tensor) throws -> Tensor {
        let (g, p) = (past.qkv.shape.first ?? 0, past.qkv.rank == 3 ? past.qkv.shape[1] : 0)
        guard causal, past.qkv.rank == 3, qkv.rank == 3, past.qkv.shape[2] == qkv.shape[2], past.rows.count == qkv.shape[0],
              past.lengths.count == g, past.lengths.allSatisfy({ (0...p).contains($0) }), past.rows.allSatisfy({ (0..<g).contains($0) }) else {
            throw TensorError.shapeMismatch("cached prefixes [G, P, 3C] continue causal attention over [B, T, 3C], one prefix per row; got \(past.qkv.shape) and \(qkv.shape)")
        }
        let (b, t, w) = (qkv.shape[0], qkv.shape[1], qkv.shape[2])
        let out = Tensor.zeros([b, p + t, w])
        for (i, r) in past.rows.enumerated() {
            let n = past.lengths[r]
            (out.ptr + i * (p + t) * w).update(from: past.qkv.ptr + r * p * w, count: n * w)
            (out.ptr + (i * (p + t) + n) * w).update(from: qkv.ptr + i * t * w, count: t * w)
        }
        return out
    }

    /// The MLP's activation on fc1's output: GELU, or SiLU(gate) ⊙ up for SwiGLU.
    func activate(_ h: Tensor) throws -> Tensor {
        if mlp == .gelu { return gelu(h) }
        let gate = try narrow(h, axis: -1, start: 0, length: hidden)
        let up = try narrow(h, axis: -1, start: hidden, length: hidden)
        return try mul(silu(gate), up)
    }

    /// Cached prefixes that a batch continues: per prefix its fused QKV as `observeQKV` saw it
    /// (rows of `qkv` [G, P, 3·dModel], the first `lengths[g]` positions of row g its own), and
    /// for each batch row the prefix it continues.
    public struct Past {
        /// The prefixes' fused queries, keys and values [G, P, 3·dModel].
        public let qkv: Tensor
        /// Positions of each prefix (image tokens and prompt).
        public let lengths: [Int]
        /// For each batch row, the prefix it continues.
        public let rows: [Int]
        /// Prefixes `qkv` of `lengths` positions, continued by batch rows `rows`.
        public init(qkv: Tensor, lengths: [Int], rows: [Int]) { self.qkv = qkv; self.lengths = lengths; self.rows = rows }
    }

    /// x: [B, T, dModel] → [B, T, dModel]. `observeQKV`, when given, sees the fused queries, keys
    /// and values [B, T, 3·dModel]: the KV-cache prefill keeps its keys and values from this same
    /// forward that training runs, so the two cannot drift apart.
    ///
    /// With `past`, row b of x holds the positions after prefix `past.rows[b]` and attends to that
    /// prefix's keys and values too (causal blocks, inference only); every output has the bits the
    /// whole sequence's forward gives it.
    public func callAsFunction(_ x: Tensor, past: Past? = nil, observeQKV: ((Tensor) throws -> Void)? = nil) throws -> Tensor {
        let h = try normalize(x, ln1Weight, ln1Bias)
        let qkv = try linear(h, qkvWeight, qkvBias)
        try observeQKV?(qkv)
        let attention: Tensor
        if let past {
            attention = try selfAttention(try prepend(past, to: qkv), heads: heads, queriesFrom: past.rows.map { past.lengths[$0] },
                                          count: qkv.shape[1])
        } else {
            attention = try selfAttention(qkv, heads: heads, causal: causal)
        }
        let a = try linear(attention, projWeight, projBias)
        let x1 = try add(x, a)
        let h2 = try normalize(x1, ln2Weight, ln2Bias)
        let m = try linear(try activate(try linear(h2, fc1Weight, fc1Bias)), fc2Weight, fc2Bias)
        return try add(x1, m)
    }
}
