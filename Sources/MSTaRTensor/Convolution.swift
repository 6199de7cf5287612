/// Image ops for convolutional stems, channels-last ([B, H, W, C]): `unfold` turns every k × k
/// neighbourhood into a row, so a convolution is `linear(unfold(x), weight)`, one GEMM; and
/// `maxPool2` halves height and width.

/// Every `kernel × kernel` window of `x` ([B, H, W, C], zero-padded by `padding`, moved by
/// `stride`) as one row: output [B, OH, OW, kernel · kernel · C], window-row-major, channels last.
public func unfold(_ x: Tensor, kernel: Int, stride: Int = 1, padding: Int = 0) throws -> Tensor {
    guard x.rank == 4, kernel > 0, stride > 0, padding >= 0 else {
        throw TensorError.shapeMismatch("unfold needs x of shape [B, H, W, C] and a positive kernel and stride, got \(x.shape)")
    }
    let (b, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let oh = (h + 2 * padding - kernel) / stride + 1, ow = (w + 2 * padding - kernel) / stride + 1
    guard oh > 0 && ow > 0 else {
        throw TensorError.shapeMismatch("unfold: a \(kernel)x\(kernel) window does not fit in \(x.shape) with padding \(padding)")
    }
    let row = kernel * kernel * c
    let out = Tensor(uninitialized: [b, oh, ow, row])
    let src = x.ptr, dst = out.ptr
    // Walks every (output position, window offset) pair; `body(srcIndex, dstIndex)` for in-image pixels.
    @inline(__always) func walk(_ body: (Int, Int) -> Void, outside: (Int) -> Void) {
        for bi in 0..<b {
            for oy in 0..<oh {
                for ox in 0..<ow {
                    let base = ((bi * oh + oy) * ow + ox) * row
                    for ky in 0..<kernel {
                        let iy = oy * stride - padding + ky
                        for kx in 0..<kernel {
                            let ix = ox * stride - padding + kx
                            let d = base + (ky * kernel + kx) * c
                            if iy >= 0 && iy < h && ix >= 0 && ix < w {
                                body(((bi * h + iy) * w + ix) * c, d)
                            } else {
                                outside(d)
                            }
                        }
                    }
                }
            }
        }
    }
    walk({ s, d in (dst + d).update(from: src + s, count: c) }, outside: { d in (dst + d).update(repeating: 0, count: c) })
    return out.recording([x]) { out in
        let g = out.grad!.ptr
        x.accumulateGrad { dx, fresh in
            if fresh { dx.update(repeating: 0, count: x.count) }
            walk({ s, d in for j in 0..<c { dx[s + j] += g[d + j] } }, outside: { _ in })
        }
    }
}

/// 2 × 2 max pooling with stride 2 over [B, H, W, C] (H and W even); the gradient goes to each
/// window's first maximal element.
public func maxPool2(_ x: Tensor) throws -> Tensor {
    guard x.rank == 4, x.shape[1] % 2 == 0, x.shape[2] % 2 == 0 else {
        throw TensorError.shapeMismatch("maxPool2 needs [B, H, W, C] with even H and W, got \(x.shape)")
    }
    let (b, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (oh, ow) = (h / 2, w / 2)
    let out = Tensor(uninitialized: [b, oh, ow, c])
    var idx = [Int](repeating: 0, count: out.count)
    let src = x.ptr, dst = out.ptr
    for bi in 0..<b {
        for oy in 0..<oh {
            for ox in 0..<ow {
                let o = ((bi * oh + oy) * ow + ox) * c
                let corners = [((bi * h + 2 * oy) * w + 2 * ox) * c, ((bi * h + 2 * oy) * w + 2 * ox + 1) * c,
                               ((bi * h + 2 * oy + 1) * w + 2 * ox) * c, ((bi * h + 2 * oy + 1) * w + 2 * ox + 1) * c]
                for j in 0..<c {
                    var best = corners[0] + j
                    for k in 1..<4 where src[corners[k] + j] > src[best] { best = corners[k] + j }
                    dst[o + j] = src[best]
                    idx[o + j] = best
                }
            }
        }
    }
    return out.recording([x]) { out in
        let g = out.grad!.ptr
        x.accumulateGrad { dx, fresh in
            if fresh { dx.update(repeating: 0, count: x.count) }
            for i in 0..<out.count { dx[idx[i]] += g[i] }
        }
    }
}
