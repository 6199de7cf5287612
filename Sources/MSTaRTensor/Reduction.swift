/// Sums, means and maxima over all elements or along one axis.

/// Splits `shape` around `axis` into (outer, n, inner) so that element (o, j, i) sits at (o*n + j)*inner + i.
func axisSplit(_ shape: [Int], _ axis: Int) throws -> (outer: Int, n: Int, inner: Int, axis: Int) {
    let a = axis < 0 ? shape.count + axis : axis
    guard a >= 0 && a < shape.count else {
        throw TensorError.shapeMismatch("axis \(axis) out of range for shape \(shape)")
    }
    return (shape[..<a].reduce(1, *), shape[a], shape[(a + 1)...].reduce(1, *), a)
}

/// Sum of all elements, as a scalar (accumulated in Double).
public func sum(_ x: Tensor) -> Tensor {
    var s: Double = 0
    let p = x.ptr
    for i in 0..<x.count { s += Double(p[i]) }
    let out = Tensor(scalar: Float(s))
    return out.recording([x]) { out in
        let g = out.grad!.item
        x.accumulateGrad { dx, fresh in
            if fresh { dx.update(repeating: g, count: x.count) } else { for i in 0..<x.count { dx[i] += g } }
        }
    }
}

/// Mean of all elements, as a scalar.
public func mean(_ x: Tensor) -> Tensor { scale(sum(x), 1 / Float(Swift.max(x.count, 1))) }

/// Sum along `axis`; the axis is kept with size 1 when `keepDim`.
public func sum(_ x: Tensor, axis: Int, keepDim: Bool = false) throws -> Tensor {
    let (outer, n, inner, a) = try axisSplit(x.shape, axis)
    var shape = x.shape
    if keepDim { shape[a] = 1 } else { shape.remove(at: a) }
    let out = Tensor.zeros(shape)
    let px = x.ptr, po = out.ptr
    for o in 0..<outer {
        for j in 0..<n {
            let src = px + (o * n + j) * inner, dst = po + o * inner
            for i in 0..<inner { dst[i] += src[i] }
        }
    }
    return out.recording([x]) { out in
        let g = out.grad!.ptr
        x.accumulateGrad { dx, fresh in
            for o in 0..<outer {
                for j in 0..<n {
                    let d = dx + (o * n + j) * inner, gs = g + o * inner
                    for i in 0..<inner { d[i] = (fresh ? 0 : d[i]) + gs[i] }
                }
            }
        }
    }
}

/// Mean along `axis`.
public func mean(_ x: Tensor, axis: Int, keepDim: Bool = false) throws -> Tensor {
    let n = x.shape[axis < 0 ? x.rank + axis : axis]
    return scale(try sum(x, axis: axis, keepDim: keepDim), 1 / Float(Swift.max(n, 1)))
}

/// Maximum along `axis`; the gradient flows to the first maximal element.
public func max(_ x: Tensor, axis: Int, keepDim: Bool = false) throws -> Tensor {
    let (outer, n, inner, a) = try axisSplit(x.shape, axis)
    guard n > 0 else { throw TensorError.shapeMismatch("max over empty axis \(axis) of shape \(x.shape)") }
    var shape = x.shape
    if keepDim { shape[a] = 1 } else { shape.remove(at: a) }
    let out = Tensor(uninitialized: shape)
    var arg = [Int](repeating: 0, count: outer * inner)
    let px = x.ptr, po = out.ptr
    for o in 0..<outer {
        for i in 0..<inner {
            var best = px[o * n * inner + i], bj = 0
            for j in 1..<n where px[(o * n + j) * inner + i] > best {
                best = px[(o * n + j) * inner + i]; bj = j
            }
            po[o * inner + i] = best
            arg[o * inner + i] = bj
        }
    }
    return out.recording([x]) { out in
        let g = out.grad!.ptr
        x.accumulateGrad { dx, fresh in
            if fresh { dx.update(repeating: 0, count: x.count) }
            for o in 0..<outer { for i in 0..<inner { dx[(o * n + arg[o * inner + i]) * inner + i] += g[o * inner + i] } }
        }
    }
}
