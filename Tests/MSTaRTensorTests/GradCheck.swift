import Foundation
import MSTaRTensor
import Testing

/// Central-difference gradient check. The scalar objective is L = Σ f(inputs)ᵢ · Rᵢ for a fixed
/// random R, evaluated in Double from the Float32 outputs; the analytic gradient is `backward(R)`.
/// Each input element is perturbed by ±eps and the two-sided slope compared with the analytic one.
func checkGradients(
    _ inputs: [Tensor], eps: Float = 1e-2, atol: Float = 3e-3, rtol: Float = 3e-2, seed: UInt64 = 99,
    sourceLocation: SourceLocation = #_sourceLocation, _ f: ([Tensor]) throws -> Tensor
) throws {
    for x in inputs { x.requiresGrad = true; x.zeroGrad() }
    let out = try f(inputs)
    var rng = RNG(seed: seed)
    let r = Init.normal(out.shape, std: 1, rng: &rng)
    try out.backward(r)
    func objective() throws -> Double {
        let y = try Tensor.withoutGrad { try f(inputs) }
        var s = 0.0
        for i in 0..<y.count { s += Double(y.ptr[i]) * Double(r.ptr[i]) }
        return s
    }
    for (k, x) in inputs.enumerated() {
        let analytic = try #require(x.grad, "input \(k) received no gradient", sourceLocation: sourceLocation)
        var worst: (Float, Int, Float, Float) = (0, -1, 0, 0)
        for i in 0..<x.count {
            let saved = x.ptr[i]
            x.ptr[i] = saved + eps
            let up = try objective()
            x.ptr[i] = saved - eps
            let down = try objective()
            x.ptr[i] = saved
            let numeric = Float((up - down) / Double(2 * eps))
            let a = analytic.ptr[i]
            let excess = abs(a - numeric) - (atol + rtol * abs(numeric))
            if excess > worst.0 { worst = (excess, i, a, numeric) }
        }
        #expect(worst.1 < 0, "input \(k) \(x.shape): element \(worst.1) analytic \(worst.2) vs numeric \(worst.3)",
                sourceLocation: sourceLocation)
    }
}

/// A random tensor of `shape`, N(0, std²), from `rng`.
func randn(_ shape: [Int], std: Float = 1, _ rng: inout RNG) -> Tensor {
    Init.normal(shape, std: std, rng: &rng)
}

/// Largest absolute element-wise difference.
func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count)
    return zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
}
