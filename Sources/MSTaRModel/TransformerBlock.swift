import MSTaRTensor

/// A pre-norm transformer block (GPT-2 layout):
/// x ← x + proj(attention(ln1(x))); x ← x + fc2(gelu(fc1(ln2(x)))).
public final class TransformerBlock {
    public let heads: Int
    public let causal: Bool
    public let ln1Weight, ln1Bias, qkvWeight, qkvBias, projWeight, projBias: Tensor
    public let ln2Weight, ln2Bias, fc1Weight, fc1Bias, fc2Weight, fc2Bias: Tensor

    /// A block of width `dModel` with `heads` heads and an MLP of width `mlpHidden`;
    /// linear weights ~ N(0, 0.02²), biases 0, norms 1.
    public init(dModel: Int, heads: Int, mlpHidden: Int, causal: Bool = true, rng: inout RNG) {
        self.heads = heads
        self.causal = causal
        func w(_ shape: [Int]) -> Tensor { Init.normal(shape, std: 0.02, rng: &rng) }
        ln1Weight = .full([dModel], 1); ln1Bias = .zeros([dModel])
        qkvWeight = w([3 * dModel, dModel]); qkvBias = .zeros([3 * dModel])
        projWeight = w([dModel, dModel]); projBias = .zeros([dModel])
        ln2Weight = .full([dModel], 1); ln2Bias = .zeros([dModel])
        fc1Weight = w([mlpHidden, dModel]); fc1Bias = .zeros([mlpHidden])
        fc2Weight = w([dModel, mlpHidden]); fc2Bias = .zeros([dModel])
    }

    /// The block's parameters with their names (stable: checkpoints use them).
    public var namedParameters: [(String, Tensor)] {
        [("ln1.weight", ln1Weight), ("ln1.bias", ln1Bias), ("attn.qkv.weight", qkvWeight), ("attn.qkv.bias", qkvBias),
         ("attn.proj.weight", projWeight), ("attn.proj.bias", projBias), ("ln2.weight", ln2Weight), ("ln2.bias", ln2Bias),
         ("mlp.fc1.weight", fc1Weight), ("mlp.fc1.bias", fc1Bias), ("mlp.fc2.weight", fc2Weight), ("mlp.fc2.bias", fc2Bias)]
    }

    /// x: [B, T, dModel] → [B, T, dModel].
    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        let h = try layerNorm(x, weight: ln1Weight, bias: ln1Bias)
        let qkv = try linear(h, qkvWeight, qkvBias)
        let a = try linear(try selfAttention(qkv, heads: heads, causal: causal), projWeight, projBias)
        let x1 = try add(x, a)
        let h2 = try layerNorm(x1, weight: ln2Weight, bias: ln2Bias)
        let m = try linear(gelu(try linear(h2, fc1Weight, fc1Bias)), fc2Weight, fc2Bias)
        return try add(x1, m)
    }
}
