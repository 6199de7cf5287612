import Foundation

/// Element-wise functions of one tensor: activations and basic math.

/// Applies `f` element-wise (for the cheap, parameterised ops below).
@inline(__always)
func unary(_ x: Tensor, _ f: (Float) -> Float) -> Tensor {
    let out = Tensor(uninitialized: x.shape)
    let px = x.ptr, py = out.ptr
    parallelFor(x.count) { r in for i in r { py[i] = f(px[i]) } }
    return out
}

/// Backward of an element-wise op: dx (+)= g · df(x, y).
@inline(__always)
func unaryBackward(_ x: Tensor, _ out: Tensor, _ df: (Float, Float) -> Float) {
    let g = out.grad!.ptr, px = x.ptr, py = out.ptr
    x.accumulateGrad { dx, fresh in
        if fresh {
            parallelFor(x.count) { r in for i in r { dx[i] = g[i] * df(px[i], py[i]) } }
        } else {
            parallelFor(x.count) { r in for i in r { dx[i] += g[i] * df(px[i], py[i]) } }
        }
    }
}

/// An element-wise function and its derivative as static code, so that generic specialisation
/// inlines both into the kernels' loops and the compiler vectorises them (closures would not be).
protocol ElementwiseFunction {
    static func value(_ x: Float) -> Float
    /// Derivative at input x, given the output y = value(x).
    static func derivative(_ x: Float, _ y: Float) -> Float
}

/// Applies `F` element-wise with its backward.
@inline(__always)
func apply<F: ElementwiseFunction>(_ x: Tensor, _: F.Type) -> Tensor {
    let out = Tensor(uninitialized: x.shape)
    let px = x.ptr, py = out.ptr
    parallelFor(x.count) { r in for i in r { py[i] = F.value(px[i]) } }
    return out.recording([x]) { out in
        let g = out.grad!.ptr, px = x.ptr, py = out.ptr
        x.accumulateGrad { dx, fresh in
            if fresh {
                parallelFor(x.count) { r in for i in r { dx[i] = g[i] * F.derivative(px[i], py[i]) } }
            } else {
                parallelFor(x.count) { r in for i in r { dx[i] += g[i] * F.derivative(px[i], py[i]) } }
            }
        }
    }
}

/// √(2/π), the GELU tanh-approximation constant.
let geluC: Float = 0.797_884_56

enum GELUFunction: ElementwiseFunction {
    @inline(__always) static func value(_ x: Float) -> Float {
        0.5 * x * (1 + fastTanh(geluC * (x + 0.044715 * x * x * x)))
    }
    @inline(__always) static func derivative(_ x: Float, _ y: Float) -> Float {
        let th = fastTanh(geluC * (x + 0.044715 * x * x * x))
        return 0.5 * (1 + th) + 0.5 * x * (1 - th * th) * geluC * (1 + 3 * 0.044715 * x * x)
    }
}

enum SiLUFunction: ElementwiseFunction {
    @inline(__always) static func value(_ x: Float) -> Float { x * fastSigmoid(x) }
    @inline(__always) static func derivative(_ x: Float, _ y: Float) -> Float {
        let s = fastSigmoid(x)
        return s * (1 + x * (1 - s))
    }
}

enum ReLUFunction: ElementwiseFunction {
    @inline(__always) static func value(_ x: Float) -> Float { Swift.max(x, 0) }
    @inline(__always) static func derivative(_ x: Float, _ y: Float) -> Float { x > 0 ? 1 : 0 }
}

enum SigmoidFunction: ElementwiseFunction {
    @inline(__always) static func value(_ x: Float) -> Float { fastSigmoid(x) }
    @inline(__always) static func derivative(_ x: Float, _ y: Float) -> Float { y * (1 - y) }
}

enum TanhFunction: ElementwiseFunction {
    @inline(__always) static func value(_ x: Float) -> Float { fastTanh(x) }
    @inline(__always) static func derivative(_ x: Float, _ y: Float) -> Float { 1 - y * y }
}

enum ExpFunction: ElementwiseFunction {
    @inline(__always) static func value(_ x: Float) -> Float { fastExp(x) }
    @inline(__always) static func derivative(_ x: Float, _ y: Float) -> Float { y }
}

/// GELU with the tanh approximation (as in GPT-2 and PyTorch's approximate="tanh").
public func gelu(_ x: Tensor) -> Tensor { apply(x, GELUFunction.self) }

/// SiLU (swish): x · sigmoid(x).
public func silu(_ x: Tensor) -> Tensor { apply(x, SiLUFunction.self) }

/// max(x, 0).
public func relu(_ x: Tensor) -> Tensor { apply(x, ReLUFunction.self) }

/// Logistic sigmoid.
public func sigmoid(_ x: Tensor) -> Tensor { apply(x, SigmoidFunction.self) }

/// Hyperbolic tangent.
public func tanh(_ x: Tensor) -> Tensor { apply(x, TanhFunction.self) }

/// eˣ.
public func exp(_ x: Tensor) -> Tensor { apply(x, ExpFunction.self) }

/// Natural logarithm.
public func log(_ x: Tensor) -> Tensor {
    unary(x, { Foundation.log($0) }).recording([x]) { out in unaryBackward(x, out) { x, _ in 1 / x } }
}

/// Square root.
public func sqrt(_ x: Tensor) -> Tensor {
    unary(x, { $0.squareRoot() }).recording([x]) { out in unaryBackward(x, out) { _, y in 0.5 / y } }
}

/// x².
public func square(_ x: Tensor) -> Tensor {
    unary(x, { $0 * $0 }).recording([x]) { out in unaryBackward(x, out) { x, _ in 2 * x } }
}

/// -x.
public func neg(_ x: Tensor) -> Tensor {
    unary(x, { -$0 }).recording([x]) { out in unaryBackward(x, out) { _, _ in -1 } }
}

/// x · s for a constant s.
public func scale(_ x: Tensor, _ s: Float) -> Tensor {
    unary(x, { $0 * s }).recording([x]) { out in unaryBackward(x, out) { _, _ in s } }
}

/// x + s for a constant s.
public func shift(_ x: Tensor, _ s: Float) -> Tensor {
    unary(x, { $0 + s }).recording([x]) { out in unaryBackward(x, out) { _, _ in 1 } }
}

/// x clamped to [lo, hi]; the gradient is zero where clamped (as in PyTorch).
public func clamp(_ x: Tensor, _ lo: Float, _ hi: Float) -> Tensor {
    unary(x) { Swift.min(Swift.max($0, lo), hi) }.recording([x]) { out in
        unaryBackward(x, out) { x, _ in (x >= lo && x <= hi) ? 1 : 0 }
    }
}
