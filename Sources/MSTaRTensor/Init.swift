/// Seeded parameter initialisation.
public enum Init {
    /// Normal(mean, std²) entries.
    public static func normal(_ shape: [Int], mean: Float = 0, std: Float, rng: inout RNG) -> Tensor {
        let t = Tensor(uninitialized: shape)
        for i in 0..<t.count { t.ptr[i] = mean + std * rng.normal() }
        return t
    }

    /// Uniform[lo, hi) entries.
    public static func uniform(_ shape: [Int], _ lo: Float, _ hi: Float, rng: inout RNG) -> Tensor {
        let t = Tensor(uninitialized: shape)
        for i in 0..<t.count { t.ptr[i] = rng.uniform(lo, hi) }
        return t
    }

    /// (fan_in, fan_out) of a weight stored [out, in, ...] as in PyTorch.
    static func fans(_ shape: [Int]) -> (Float, Float) {
        let receptive = shape.dropFirst(2).reduce(1, *)
        let fanIn = (shape.count > 1 ? shape[1] : shape[0]) * receptive
        let fanOut = shape[0] * receptive
        return (Float(fanIn), Float(fanOut))
    }

    /// Xavier/Glorot uniform: U(±√(6 / (fan_in + fan_out))).
    public static func xavierUniform(_ shape: [Int], gain: Float = 1, rng: inout RNG) -> Tensor {
        let (i, o) = fans(shape)
        let a = gain * (6 / (i + o)).squareRoot()
        return uniform(shape, -a, a, rng: &rng)
    }

    /// Kaiming/He normal for ReLU-like layers: N(0, 2 / fan_in).
    public static func kaimingNormal(_ shape: [Int], rng: inout RNG) -> Tensor {
        let (i, _) = fans(shape)
        return normal(shape, std: (2 / i).squareRoot(), rng: &rng)
    }
}
