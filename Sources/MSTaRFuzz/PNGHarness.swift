import Foundation
import MSTaRTasks

/// `PNG.decode`: any bytes as a PNG file.
public enum PNGHarness {
    /// Decodes `data` as it is, then again with every chunk CRC made right: a mutated chunk almost
    /// never keeps its CRC, and without the second pass nothing past the CRC check would be reached.
    public static func run(_ data: Data) {
        let bytes = [UInt8](data)
        check(bytes)
        let fixed = withValidCRCs(bytes)
        if fixed != bytes { check(fixed) }
    }

    private static func check(_ bytes: [UInt8]) {
        guard let image = try? PNG.decode(bytes) else { return }
        if image.width <= 0 || image.height <= 0 || image.grey.count != image.width * image.height {
            fatalError("PNG.decode returned a \(image.width)x\(image.height) image with \(image.grey.count) grey values")
        }
    }

    /// `bytes` with the CRC of every whole chunk after the signature recomputed.
    static func withValidCRCs(_ bytes: [UInt8]) -> [UInt8] {
        var out = bytes
        var pos = 8
        while pos + 12 <= out.count {
            let length = Int(out[pos]) << 24 | Int(out[pos + 1]) << 16 | Int(out[pos + 2]) << 8 | Int(out[pos + 3])
            guard pos + 12 + length <= out.count else { break }
            let crc = Zlib.crc32(Array(out[(pos + 4)..<(pos + 8 + length)]))
            for i in 0..<4 { out[pos + 8 + length + i] = UInt8(truncatingIfNeeded: crc >> (24 - 8 * UInt32(i))) }
            pos += 12 + length
        }
        return out
    }
}
