import Foundation

/// Element-wise functions of one tensor: activations and basic math.

/// Applies `f` element-wise; `df(x, y)` is the derivative at input x with output y.
@inline(__always)
func unary(_ x: Tensor, _ f: @escaping (Float) -> Float, _ df: @escaping (Float, Float) -> Float) -> Tensor {
    let out = Tensor(uninitialized: x.shape)
    let px = x.ptr, py = out.ptr
    parallelFor(x.count) { r in for i in r { py[i] = f(px[i]) } }
    return out.recording([x]) { out in
        let g = out.grad!.ptr, px = x.ptr, py = out.ptr
        x.accumulateGrad { dx, fresh in
            if fresh {
                parallelFor(x.count) { r in for i in r { dx[i] = g[i] * df(px[i], py[i]) } }
            } else {
                parallelFor(x.count) { r in for i in r { dx[i] += g[i] * df(px[i], py[i]) } }
            }
        }
    }
}

/// √(2/π), the GELU tanh-approximation constant.
let geluC: Float = 0.797_884_56

/// GELU with the tanh approximation (as in GPT-2 and PyTorch's approximate="tanh").
public func gelu(_ x: Tensor) -> Tensor {
    unary(x, { x in 0.5 * x * (1 + fastTanh(geluC * (x + 0.044715 * x * x * x))) }) { x, _ in
        let th = fastTanh(geluC * (x + 0.044715 * x * x * x))
        return 0.5 * (1 + th) + 0.5 * x * (1 - th * th) * geluC * (1 + 3 * 0.044715 * x * x)
    }
}

/// SiLU (swish): x · sigmoid(x).
public func silu(_ x: Tensor) -> Tensor {
    unary(x, { x in x * fastSigmoid(x) }) { x, _ in
        let s = fastSigmoid(x)
        return s * (1 + x * (1 - s))
    }
}

/// max(x, 0).
public func relu(_ x: Tensor) -> Tensor { unary(x, { Swift.max($0, 0) }) { x, _ in x > 0 ? 1 : 0 } }

/// Logistic sigmoid.
public func sigmoid(_ x: Tensor) -> Tensor { unary(x, fastSigmoid) { _, y in y * (1 - y) } }

/// Hyperbolic tangent.
public func tanh(_ x: Tensor) -> Tensor { unary(x, fastTanh) { _, y in 1 - y * y } }

/// eˣ.
public func exp(_ x: Tensor) -> Tensor { unary(x, fastExp) { _, y in y } }

/// Natural logarithm.
public func log(_ x: Tensor) -> Tensor { unary(x, { Foundation.log($0) }) { x, _ in 1 / x } }

/// Square root.
public func sqrt(_ x: Tensor) -> Tensor { unary(x, { $0.squareRoot() }) { _, y in 0.5 / y } }

/// x².
public func square(_ x: Tensor) -> Tensor { unary(x, { $0 * $0 }) { x, _ in 2 * x } }

/// -x.
public func neg(_ x: Tensor) -> Tensor { unary(x, { -$0 }) { _, _ in -1 } }

/// x · s for a constant s.
public func scale(_ x: Tensor, _ s: Float) -> Tensor { unary(x, { $0 * s }) { _, _ in s } }

/// x + s for a constant s.
public func shift(_ x: Tensor, _ s: Float) -> Tensor { unary(x, { $0 + s }) { _, _ in 1 } }

/// x clamped to [lo, hi]; the gradient is zero where clamped (as in PyTorch).
public func clamp(_ x: Tensor, _ lo: Float, _ hi: Float) -> Tensor {
    unary(x, { Swift.min(Swift.max($0, lo), hi) }) { x, _ in (x >= lo && x <= hi) ? 1 : 0 }
}
