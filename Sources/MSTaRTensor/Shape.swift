/// Layout changes that copy: permute, transpose, concatenate, narrow.

/// Copies `src` (shape `shape`) into `dst` with axes reordered by `perm` (dst axis i = src axis perm[i]),
/// or, with `add`, adds into `dst`.
private func permuteCopy(_ src: UnsafePointer<Float>, _ shape: [Int], _ perm: [Int], _ dst: UnsafeMutablePointer<Float>, add: Bool) {
    let r = shape.count
    var srcStrides = [Int](repeating: 1, count: r)
    for i in stride(from: r - 2, through: 0, by: -1) { srcStrides[i] = srcStrides[i + 1] * shape[i + 1] }
    let outShape = perm.map { shape[$0] }
    let strides = perm.map { srcStrides[$0] }
    let n = shape.reduce(1, *)
    if n == 0 { return }
    // Walk the output in order; copy the innermost run in one loop.
    let inner = outShape[r - 1], innerStride = strides[r - 1]
    var idx = [Int](repeating: 0, count: r)
    var s = 0, o = 0
    while o < n {
        if add { for j in 0..<inner { dst[o + j] += src[s + j * innerStride] } }
        else { for j in 0..<inner { dst[o + j] = src[s + j * innerStride] } }
        o += inner
        var d = r - 2
        while d >= 0 {
            idx[d] += 1; s += strides[d]
            if idx[d] < outShape[d] { break }
            s -= strides[d] * idx[d]; idx[d] = 0
            d -= 1
        }
    }
}

/// The tensor with its axes reordered: output axis i is input axis `perm[i]`.
public func permute(_ x: Tensor, _ perm: [Int]) throws -> Tensor {
    guard perm.sorted() == Array(0..<x.rank) else {
        throw TensorError.shapeMismatch("permute: \(perm) is not a permutation of the axes of \(x.shape)")
    }
    if x.rank == 0 { return try x.reshaped([]) }
    let out = Tensor(uninitialized: perm.map { x.shape[$0] })
    permuteCopy(x.ptr, x.shape, perm, out.ptr, add: false)
    var inverse = perm
    for (i, p) in perm.enumerated() { inverse[p] = i }
    return out.recording([x]) { out in
        let g = out.grad!
        x.accumulateGrad { dx, fresh in permuteCopy(g.ptr, g.shape, inverse, dx, add: !fresh) }
    }
}

/// Swaps the last two axes (a copy).
public func transposed(_ x: Tensor) throws -> Tensor {
    guard x.rank >= 2 else { throw TensorError.shapeMismatch("transposed needs at least 2 axes, got \(x.shape)") }
    var perm = Array(0..<x.rank)
    perm.swapAt(x.rank - 1, x.rank - 2)
    return try permute(x, perm)
}

/// Joins tensors along `axis`; all other dimensions must agree.
public func concat(_ xs: [Tensor], axis: Int) throws -> Tensor {
    guard let first = xs.first else { throw TensorError.invalid("concat needs at least one tensor") }
    let a = axis < 0 ? first.rank + axis : axis
    guard a >= 0 && a < first.rank else { throw TensorError.shapeMismatch("concat: axis \(axis) out of range for \(first.shape)") }
    for x in xs where x.rank != first.rank || x.shape.enumerated().contains(where: { $0.offset != a && $0.element != first.shape[$0.offset] }) {
        throw TensorError.shapeMismatch("concat along axis \(axis): shapes \(first.shape) and \(x.shape) differ off that axis")
    }
    let outer = first.shape[..<a].reduce(1, *), inner = first.shape[(a + 1)...].reduce(1, *)
    let sizes = xs.map { $0.shape[a] * inner }  // elements per outer slice
    let total = sizes.reduce(0, +)
    var shape = first.shape
    shape[a] = xs.reduce(0) { $0 + $1.shape[a] }
    let out = Tensor(uninitialized: shape)
    var col = 0
    for (x, s) in zip(xs, sizes) {
        for o in 0..<outer { (out.ptr + o * total + col).update(from: x.ptr + o * s, count: s) }
        col += s
    }
    return out.recording(xs) { out in
        let g = out.grad!.ptr
        var col = 0
        for (x, s) in zip(xs, sizes) {
            x.accumulateGrad { dx, fresh in
                for o in 0..<outer {
                    let src = g + o * total + col, d = dx + o * s
                    if fresh { d.update(from: src, count: s) } else { add(d, src, s) }
                }
            }
            col += s
        }
    }
}

/// Elements `start ..< start + length` along `axis` (a copy).
public func narrow(_ x: Tensor, axis: Int, start: Int, length: Int) throws -> Tensor {
    let (outer, n, inner, a) = try axisSplit(x.shape, axis)
    guard start >= 0, length >= 0, start + length <= n else {
        throw TensorError.shapeMismatch("narrow: \(start)..<\(start + length) out of range on axis \(axis) of \(x.shape)")
    }
    var shape = x.shape
    shape[a] = length
    let out = Tensor(uninitialized: shape)
    let s = length * inner
    for o in 0..<outer { (out.ptr + o * s).update(from: x.ptr + (o * n + start) * inner, count: s) }
    return out.recording([x]) { out in
        let g = out.grad!.ptr
        x.accumulateGrad { dx, fresh in
            if fresh { dx.update(repeating: 0, count: x.count) }
            for o in 0..<outer { add(dx + (o * n + start) * inner, g + o * s, s) }
        }
    }
}
