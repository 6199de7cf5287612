import Foundation
import MSTaRTensor

/// Random distortions of one handwritten digit image before it is pasted into a scene, so that a
/// model trained on a few hundred images per digit sees each of them written many ways: a small
/// rotation, shear and scale about the image centre, a sub-pixel shift, thicker or thinner strokes
/// and an ink curve. Every draw comes from the scene's random stream, so a scene stays a function
/// of (seed, split, index). The result stays inside the digit's 8 × 8 box, in [0, 1].
public struct HandwritingAugmentation: Sendable, Equatable, Codable {
    /// Largest rotation either way, in degrees.
    public var rotation: Float
    /// Largest horizontal shear either way (x moves by shear · (y − centre)).
    public var shear: Float
    /// Largest relative change of size either way (0.1: 90% to 110%).
    public var scale: Float
    /// Largest sub-pixel shift either way, per axis, in pixels.
    public var shift: Float
    /// Largest weight of a 3 × 3 dilation blended into the strokes (thicker strokes).
    public var thicken: Float
    /// Largest ink exponent either way: values are raised to a power in [1/gamma, gamma].
    public var gamma: Float

    public init(rotation: Float = 12, shear: Float = 0.25, scale: Float = 0.12, shift: Float = 0.6,
                thicken: Float = 0.5, gamma: Float = 1.6) {
        self.rotation = rotation; self.shear = shear; self.scale = scale; self.shift = shift
        self.thicken = thicken; self.gamma = gamma
    }

    /// The distortions pretraining uses.
    public static let standard = HandwritingAugmentation()

    /// `pixels` (side × side, values 0...16 as in the bank) distorted with draws from `rng`, as
    /// intensities in [0, 1]. Draws a fixed number of values from `rng` whatever they turn out to be.
    public func apply(_ pixels: [UInt8], side: Int = DigitBank.side, rng: inout RNG) -> [Float] {
        let angle = rng.uniform(-rotation, rotation) * Float.pi / 180
        let sh = rng.uniform(-shear, shear)
        let s = 1 + rng.uniform(-scale, scale)
        let dx = rng.uniform(-shift, shift), dy = rng.uniform(-shift, shift)
        let dilation = rng.uniform(0, thicken)
        let g = Foundation.pow(gamma, rng.uniform(-1, 1))
        let source = pixels.map { Float($0) / 16 }
        // Inverse map: output pixel (x, y) reads the source at A⁻¹ · ((x, y) − centre − shift) + centre,
        // where A = scale · rotation · shear.
        let c = Float(side - 1) / 2
        let (cosA, sinA) = (Foundation.cos(angle), Foundation.sin(angle))
        // A = s · R · S with R = [[cos, −sin], [sin, cos]], S = [[1, sh], [0, 1]];
        // A⁻¹ = S⁻¹ R⁻¹ / s with S⁻¹ = [[1, −sh], [0, 1]], R⁻¹ = [[cos, sin], [−sin, cos]].
        let r00 = cosA / s, r01 = sinA / s, r10 = -sinA / s, r11 = cosA / s
        let m00 = r00 - sh * r10, m01 = r01 - sh * r11, m10 = r10, m11 = r11
        func at(_ y: Int, _ x: Int) -> Float { y >= 0 && y < side && x >= 0 && x < side ? source[y * side + x] : 0 }
        var out = [Float](repeating: 0, count: side * side)
        for y in 0..<side {
            for x in 0..<side {
                let u = Float(x) - c - dx, v = Float(y) - c - dy
                let sx = m00 * u + m01 * v + c, sy = m10 * u + m11 * v + c
                let x0 = Int(sx.rounded(.down)), y0 = Int(sy.rounded(.down))
                let fx = sx - Float(x0), fy = sy - Float(y0)
                let top = at(y0, x0) * (1 - fx) + at(y0, x0 + 1) * fx
                let bottom = at(y0 + 1, x0) * (1 - fx) + at(y0 + 1, x0 + 1) * fx
                out[y * side + x] = top * (1 - fy) + bottom * fy
            }
        }
        if dilation > 0 {
            var dilated = out
            for y in 0..<side {
                for x in 0..<side {
                    var m: Float = 0
                    for yy in max(0, y - 1)...min(side - 1, y + 1) {
                        for xx in max(0, x - 1)...min(side - 1, x + 1) { m = max(m, out[yy * side + xx]) }
                    }
                    dilated[y * side + x] = m
                }
            }
            for i in out.indices { out[i] = (1 - dilation) * out[i] + dilation * dilated[i] }
        }
        let peak = out.max() ?? 0
        // Resampling blurs; stretch back so the brightest ink is as bright as the source's.
        let sourcePeak = source.max() ?? 0
        let gain = peak > 0 ? sourcePeak / peak : 0
        return out.map { v in min(max(Foundation.pow(min(max(v * gain, 0), 1), g), 0), 1) }
    }
}
