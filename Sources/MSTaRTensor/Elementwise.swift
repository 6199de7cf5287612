/// Element-wise arithmetic with NumPy-style broadcasting, and its reduction back to input shapes.

/// The broadcast shape of two shapes (aligned at the trailing dimension), or nil if incompatible.
public func broadcastShape(_ a: [Int], _ b: [Int]) -> [Int]? {
    let r = Swift.max(a.count, b.count)
    var out = [Int](repeating: 1, count: r)
    for i in 0..<r {
        let da = i < r - a.count ? 1 : a[i - (r - a.count)]
        let db = i < r - b.count ? 1 : b[i - (r - b.count)]
        guard da == db || da == 1 || db == 1 else { return nil }
        out[i] = Swift.max(da, db)
    }
    return out
}

/// Element strides of `shape` read as `outShape`: 0 along broadcast dimensions.
func broadcastStrides(_ shape: [Int], to outShape: [Int]) -> [Int] {
    let r = outShape.count, pad = r - shape.count
    var strides = [Int](repeating: 0, count: r)
    var s = 1
    for i in stride(from: r - 1, through: pad, by: -1) {
        let d = shape[i - pad]
        strides[i] = d == 1 ? 0 : s
        s *= d
    }
    return strides
}

/// Calls `body(outIndex, aIndex, bIndex)` for every element of `outShape` (general broadcast walk).
func forEachBroadcast(_ outShape: [Int], _ sa: [Int], _ sb: [Int], _ body: (Int, Int, Int) -> Void) {
    let r = outShape.count
    let n = outShape.reduce(1, *)
    if n == 0 { return }
    var idx = [Int](repeating: 0, count: r)
    var ia = 0, ib = 0
    for o in 0..<n {
        body(o, ia, ib)
        var d = r - 1
        while d >= 0 {
            idx[d] += 1
            ia += sa[d]; ib += sb[d]
            if idx[d] < outShape[d] { break }
            ia -= sa[d] * idx[d]; ib -= sb[d] * idx[d]
            idx[d] = 0
            d -= 1
        }
    }
}

/// How an operand maps onto the output: same layout, repeated as a trailing block, or general.
private enum Layout {
    case same
    case suffix(Int)  // operand is a trailing block of this many elements, repeated
    case general([Int])

    init(_ shape: [Int], _ out: [Int]) {
        let n = shape.reduce(1, *)
        if shape == out || (n == out.reduce(1, *) && broadcastStrides(shape, to: out) == broadcastStrides(out, to: out)) {
            self = .same
        } else if n > 0, case let trimmed = Array(shape.drop(while: { $0 == 1 })),
                  Array(out.suffix(trimmed.count)) == trimmed {
            self = .suffix(n)
        } else {
            self = .general(broadcastStrides(shape, to: out))
        }
    }
}

/// Applies `f(a, b)` over the broadcast of `a` and `b` into `out`.
@inline(__always)
private func broadcastApply(
    _ a: Tensor, _ b: Tensor, _ out: Tensor, _ f: (Float, Float) -> Float
) {
    let pa = a.ptr, pb = b.ptr, po = out.ptr, n = out.count
    switch (Layout(a.shape, out.shape), Layout(b.shape, out.shape)) {
    case (.same, .same):
        parallelFor(n) { r in for i in r { po[i] = f(pa[i], pb[i]) } }
    case (.same, .suffix(let m)):
        for base in stride(from: 0, to: n, by: m) { for j in 0..<m { po[base + j] = f(pa[base + j], pb[j]) } }
    case (.suffix(let m), .same):
        for base in stride(from: 0, to: n, by: m) { for j in 0..<m { po[base + j] = f(pa[j], pb[base + j]) } }
    default:
        forEachBroadcast(out.shape, broadcastStrides(a.shape, to: out.shape), broadcastStrides(b.shape, to: out.shape)) {
            o, ia, ib in po[o] = f(pa[ia], pb[ib])
        }
    }
}

/// Adds `grad` (of shape `outShape`) into `t`'s gradient, summing over broadcast dimensions.
/// `scale(o, i)` multiplies each term: the local derivative at output `o` and operand element `i`.
@inline(__always)
func accumulateBroadcastGrad(
    _ t: Tensor, _ grad: UnsafePointer<Float>, _ outShape: [Int], _ scale: (Int, Int) -> Float
) {
    t.accumulateGrad { dst, fresh in
        let n = outShape.reduce(1, *)
        switch Layout(t.shape, outShape) {
        case .same:
            if fresh {
                parallelFor(n) { r in for i in r { dst[i] = grad[i] * scale(i, i) } }
            } else {
                parallelFor(n) { r in for i in r { dst[i] += grad[i] * scale(i, i) } }
            }
        case .suffix(let m):
            if fresh { dst.update(repeating: 0, count: t.count) }
            for base in stride(from: 0, to: n, by: m) { for j in 0..<m { dst[j] += grad[base + j] * scale(base + j, j) } }
        case .general(let st):
            if fresh { dst.update(repeating: 0, count: t.count) }
            forEachBroadcast(outShape, st, st) { o, i, _ in dst[i] += grad[o] * scale(o, i) }
        }
    }
}

private func binary(
    _ name: String, _ a: Tensor, _ b: Tensor, _ f: (Float, Float) -> Float,
    da: @escaping (_ a: Float, _ b: Float) -> Float, db: @escaping (_ a: Float, _ b: Float) -> Float
) throws -> Tensor {
    guard let shape = broadcastShape(a.shape, b.shape) else {
        throw TensorError.shapeMismatch("\(name): shapes \(a.shape) and \(b.shape) do not broadcast")
    }
    let out = Tensor(uninitialized: shape)
    broadcastApply(a, b, out, f)
    return out.recording([a, b]) { out in
        let g = out.grad!.ptr
        let sa = broadcastStrides(a.shape, to: shape), sb = broadcastStrides(b.shape, to: shape)
        // Local derivatives need the partner operand at the same output position.
        let pa = a.ptr, pb = b.ptr
        let aIndex = sa == broadcastStrides(shape, to: shape) ? nil : indexMap(shape, sa)
        let bIndex = sb == broadcastStrides(shape, to: shape) ? nil : indexMap(shape, sb)
        @inline(__always) func av(_ o: Int) -> Float { pa[aIndex?[o] ?? o] }
        @inline(__always) func bv(_ o: Int) -> Float { pb[bIndex?[o] ?? o] }
        accumulateBroadcastGrad(a, g, shape) { o, _ in da(av(o), bv(o)) }
        accumulateBroadcastGrad(b, g, shape) { o, _ in db(av(o), bv(o)) }
    }
}

/// For each output element, the operand element it reads.
private func indexMap(_ outShape: [Int], _ strides: [Int]) -> [Int] {
    var m = [Int](repeating: 0, count: outShape.reduce(1, *))
    forEachBroadcast(outShape, strides, strides) { o, i, _ in m[o] = i }
    return m
}

/// a + b, broadcasting.
public func add(_ a: Tensor, _ b: Tensor) throws -> Tensor {
    // Addition needs no partner values in backward: a faster closure than `binary`.
    guard let shape = broadcastShape(a.shape, b.shape) else {
        throw TensorError.shapeMismatch("add: shapes \(a.shape) and \(b.shape) do not broadcast")
    }
    let out = Tensor(uninitialized: shape)
    broadcastApply(a, b, out, +)
    return out.recording([a, b]) { out in
        let g = out.grad!.ptr
        for operand in [a, b] {
            if operand.count == out.count {
                // The common case (residual connections): the gradient passes through unchanged.
                operand.accumulateGrad { dst, fresh in
                    if fresh { dst.update(from: g, count: out.count) } else { parallelFor(out.count) { r in for i in r { dst[i] += g[i] } } }
                }
            } else {
                accumulateBroadcastGrad(operand, g, shape) { _, _ in 1 }
            }
        }
    }
}

/// a - b, broadcasting.
public func sub(_ a: Tensor, _ b: Tensor) throws -> Tensor {
    try binary("sub", a, b, -, da: { _, _ in 1 }, db: { _, _ in -1 })
}

/// a * b (element-wise), broadcasting.
public func mul(_ a: Tensor, _ b: Tensor) throws -> Tensor {
    try binary("mul", a, b, *, da: { _, b in b }, db: { a, _ in a })
}

/// a / b (element-wise), broadcasting.
public func div(_ a: Tensor, _ b: Tensor) throws -> Tensor {
    try binary("div", a, b, /, da: { _, b in 1 / b }, db: { a, b in -a / (b * b) })
}

/// min(a, b) element-wise, broadcasting; the gradient goes to the smaller operand (to `a` on ties).
public func minimum(_ a: Tensor, _ b: Tensor) throws -> Tensor {
    try binary("minimum", a, b, { Swift.min($0, $1) }, da: { a, b in a <= b ? 1 : 0 }, db: { a, b in a <= b ? 0 : 1 })
}

/// max(a, b) element-wise, broadcasting; the gradient goes to the larger operand (to `a` on ties).
public func maximum(_ a: Tensor, _ b: Tensor) throws -> Tensor {
    try binary("maximum", a, b, { Swift.max($0, $1) }, da: { a, b in a >= b ? 1 : 0 }, db: { a, b in a >= b ? 0 : 1 })
}

/// Sums `t` over the dimensions that broadcasting to it expanded from `shape` (the backward of a broadcast).
public func sumToShape(_ t: Tensor, _ shape: [Int]) throws -> Tensor {
    guard broadcastShape(shape, t.shape) == t.shape else {
        throw TensorError.shapeMismatch("sumToShape: \(shape) does not broadcast to \(t.shape)")
    }
    let out = Tensor.zeros(shape)
    let st = broadcastStrides(shape, to: t.shape)
    let po = out.ptr, pt = t.ptr
    forEachBroadcast(t.shape, st, st) { o, i, _ in po[i] += pt[o] }
    return out.recording([t]) { out in
        let g = out.grad!.ptr
        t.accumulateGrad { dst, fresh in
            forEachBroadcast(t.shape, st, st) { o, i, _ in dst[o] = (fresh ? 0 : dst[o]) + g[i] }
        }
    }
}
