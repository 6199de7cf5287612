/// A grey image with values in [0, 1], row-major; every scene uses the same 32x48 size.
public struct Canvas: Sendable, Equatable {
    /// Height of every scene in pixels (4 patches of 8, or 8 of 4).
    public static let sceneHeight = 32
    /// Width of every scene in pixels (6 patches of 8, or 12 of 4).
    public static let sceneWidth = 48

    /// Rows.
    public let height: Int
    /// Columns.
    public let width: Int
    /// height * width values in [0, 1], row-major.
    public var pixels: [Float]

    /// A black canvas of the given size (the scene size by default).
    public init(height: Int = Canvas.sceneHeight, width: Int = Canvas.sceneWidth) {
        precondition(height > 0 && width > 0, "canvas needs a positive size")
        self.height = height
        self.width = width
        pixels = [Float](repeating: 0, count: height * width)
    }

    /// A canvas over existing pixels; `pixels.count` must be height * width.
    public init(height: Int, width: Int, pixels: [Float]) throws {
        guard height > 0, width > 0, pixels.count == height * width else {
            throw TasksError.invalid("canvas \(height)x\(width) needs \(height * width) pixels, got \(pixels.count)")
        }
        self.height = height
        self.width = width
        self.pixels = pixels
    }

    /// The pixel at row `y`, column `x`.
    public subscript(y: Int, x: Int) -> Float {
        get { pixels[y * width + x] }
        set { pixels[y * width + x] = newValue }
    }

    /// Pixels quantised to 0...255 (round to nearest), as PNG stores them.
    public var bytes: [UInt8] {
        pixels.map { UInt8((min(max($0, 0), 1) * 255).rounded()) }
    }

    /// The canvas as text, one line per row, darkest to brightest " .:-=+*#%@"; two characters per
    /// pixel by default so the terminal's tall cells keep the aspect ratio.
    public func ascii(doubleWidth: Bool = true) -> String {
        let ramp = Array(" .:-=+*#%@")
        var out = ""
        out.reserveCapacity(height * (width * (doubleWidth ? 2 : 1) + 1))
        for y in 0..<height {
            for x in 0..<width {
                let v = min(max(self[y, x], 0), 1)
                let c = ramp[min(ramp.count - 1, Int(v * Float(ramp.count)))]
                out.append(c)
                if doubleWidth { out.append(c) }
            }
            out.append("\n")
        }
        return out
    }
}
