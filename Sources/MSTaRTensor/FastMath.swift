/// Branch-free exp and tanh that the compiler can vectorise in element-wise loops.
/// exp follows Cephes' expf (range reduction by ln 2, degree-6 polynomial): within 2 ulp of
/// the libm result over the clamped range, and exactly 0 below it.

@inlinable @inline(__always)
public func fastExp(_ x: Float) -> Float {
    let xc = Swift.min(Swift.max(x, -87.33654), 88.72283)
    // n = round(x / ln 2) by the 1.5 * 2^23 trick: no float-to-int conversion that could trap.
    let shifted = xc * 1.442_695_04 + 12_582_912.0
    let n = shifted - 12_582_912.0
    let r = xc - n * 0.693_359_375 + n * 2.121_944_4e-4
    var p: Float = 1.987_569_15e-4
    p = p * r + 1.398_199_95e-3
    p = p * r + 8.333_451_9e-3
    p = p * r + 4.166_579_59e-2
    p = p * r + 1.666_666_55e-1
    p = p * r + 5.000_000_12e-1
    let y = p * r * r + r + 1
    // 2^n: n's integer value sits in the low mantissa bits of `shifted`.
    let ni = Int32(bitPattern: shifted.bitPattern) &- 0x4B40_0000
    let scale = Float(bitPattern: UInt32(bitPattern: (ni &+ 127) << 23))
    return x < -87.33654 ? 0 : y * scale
}

/// `fastExp` on 8 lanes: the same operations in the same order, so every lane has the scalar
/// version's bits (tested). Written on the concrete vector type because generic SIMD integer
/// operations run lane by lane; inlinable for the kernels of other modules.
@inlinable @inline(__always)
public func fastExp(_ x: SIMD8<Float>) -> SIMD8<Float> {
    let lo = SIMD8<Float>(repeating: -87.33654), hi = SIMD8<Float>(repeating: 88.72283)
    let xc = x.replacing(with: lo, where: x .< lo).replacing(with: hi, where: x .> hi)
    let shifted = xc * 1.442_695_04 + 12_582_912.0
    let n = shifted - 12_582_912.0
    let r = xc - n * 0.693_359_375 + n * 2.121_944_4e-4
    var p = SIMD8<Float>(repeating: 1.987_569_15e-4)
    p = p * r + 1.398_199_95e-3
    p = p * r + 8.333_451_9e-3
    p = p * r + 4.166_579_59e-2
    p = p * r + 1.666_666_55e-1
    p = p * r + 5.000_000_12e-1
    let y = p * r * r + r + 1
    let ni = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- SIMD8<Int32>(repeating: 0x4B40_0000)
    let scale = unsafeBitCast((ni &+ SIMD8<Int32>(repeating: 127)) &* SIMD8<Int32>(repeating: 1 << 23), to: SIMD8<Float>.self)
    return (y * scale).replacing(with: 0, where: x .< lo)
}

@inline(__always)
public func fastTanh(_ x: Float) -> Float {
    // tanh x = 1 - 2 / (e^{2x} + 1); saturates cleanly at ±1 for large |x|.
    1 - 2 / (fastExp(2 * x) + 1)
}

@inline(__always)
public func fastSigmoid(_ x: Float) -> Float { 1 / (1 + fastExp(-x)) }
