import Foundation
import MSTaRTensor

/// A minimal PNG codec over the system zlib: writes 8-bit greyscale, reads 8-bit non-interlaced
/// grey, grey+alpha, RGB and RGBA (converted to grey).
public enum PNG {
    /// The eight bytes every PNG file starts with.
    public static let signature: [UInt8] = [137, 80, 78, 71, 13, 10, 26, 10]

    /// Encodes `canvas` as an 8-bit greyscale PNG, each pixel enlarged to `scale` x `scale`.
    ///
    /// With `exactPixels`, an ancillary private chunk `pxFl` also carries the canvas's pixels as
    /// float32 (little-endian bit patterns): decoders that do not know it skip it (ancillary chunks
    /// are safe to ignore) and read the 8-bit image, while `decode` hands them back exactly, so a
    /// scene crosses HTTP to `mstar serve` without the 8-bit rounding (docs/remote.md).
    public static func encode(_ canvas: Canvas, scale: Int = 1, exactPixels: Bool = false) -> [UInt8] {
        precondition(scale >= 1, "PNG scale must be >= 1")
        let w = canvas.width * scale, h = canvas.height * scale
        let grey = canvas.bytes
        var raw = [UInt8]()
        raw.reserveCapacity(h * (w + 1))
        for y in 0..<h {
            raw.append(0)  // filter type None
            let row = (y / scale) * canvas.width
            for x in 0..<w { raw.append(grey[row + x / scale]) }
        }
        var out = signature
        var ihdr = [UInt8]()
        ihdr += bigEndian(UInt32(w)) + bigEndian(UInt32(h))
        ihdr += [8, 0, 0, 0, 0]  // bit depth 8, greyscale, deflate, adaptive filters, no interlace
        chunk("IHDR", ihdr, into: &out)
        if exactPixels && scale == 1 {
            var bits = [UInt8]()
            bits.reserveCapacity(canvas.pixels.count * 4)
            for p in canvas.pixels { let b = p.bitPattern; bits += [UInt8(b & 0xFF), UInt8(b >> 8 & 0xFF), UInt8(b >> 16 & 0xFF), UInt8(b >> 24)] }
            chunk(exactChunk, bits, into: &out)
        }
        chunk("IDAT", Zlib.deflate(raw), into: &out)
        chunk("IEND", [], into: &out)
        return out
    }

    /// Writes `canvas` as a PNG file at `path`.
    public static func write(_ canvas: Canvas, to path: String, scale: Int = 1) throws {
        let data = Data(encode(canvas, scale: scale))
        guard FileManager.default.createFile(atPath: path, contents: data) else {
            throw TasksError.invalid("cannot write \(path)")
        }
    }

    /// A decoded image: size and grey values 0...255, row-major.
    public struct Image: Sendable, Equatable {
        /// Columns.
        public var width: Int
        /// Rows.
        public var height: Int
        /// width * height grey values, row-major.
        public var grey: [UInt8]
        /// The exact pixels of a `pxFl` chunk (width * height finite values in 0...1), when the
        /// file carries a well-formed one; nil otherwise.
        public var exact: [Float]? = nil
    }

    /// The ancillary, private, safe-to-copy chunk that carries exact float32 pixels.
    public static let exactChunk = "pxFl"


    /// Decodes a PNG, checking every chunk's CRC; colour is converted to grey (alpha over black).
    public static func decode(_ bytes: [UInt8]) throws -> Image {
        guard bytes.count >= 8, Array(bytes[0..<8]) == signature else { throw TasksError.invalid("not a PNG file (bad signature)") }
        var pos = 8
        var width = 0, height = 0, colorType = -1
        var idat = [UInt8]()
        var sawEnd = false
        var exactBody: [UInt8]?
        while pos + 12 <= bytes.count {
            let length = Int(readBE(bytes, pos))
            guard length >= 0, pos + 12 + length <= bytes.count else { throw TasksError.invalid("PNG chunk runs past the end of the file") }
            let type = String(decoding: bytes[(pos + 4)..<(pos + 8)], as: UTF8.self)
            let body = Array(bytes[(pos + 8)..<(pos + 8 + length)])
            let crc = readBE(bytes, pos + 8 + length)
            guard Zlib.crc32(Array(bytes[(pos + 4)..<(pos + 8 + length)])) == crc else {
                throw TasksError.invalid("PNG chunk \(type) has a bad CRC")
            }
            switch type {
            case "IHDR":
                guard length == 13 else { throw TasksError.invalid("PNG IHDR must be 13 bytes") }
                width = Int(readBE(body, 0))
                height = Int(readBE(body, 4))
                colorType = Int(body[9])
                guard body[8] == 8, body[12] == 0, [0, 2, 4, 6].contains(colorType), body[10] == 0, body[11] == 0 else {
                    throw TasksError.invalid("PNG: only 8-bit, non-interlaced grey, grey+alpha, RGB or RGBA images "
                        + "are supported (bit depth \(body[8]), colour type \(body[9]), interlace \(body[12]))")
                }
                // Each side first: two 32-bit sides multiplied can overflow an Int.
                guard width > 0, height > 0, width <= 1 << 24, height <= 1 << 24, width * height <= 1 << 24 else {
                    throw TasksError.invalid("PNG size \(width)x\(height) out of range")
                }
            case "IDAT": idat += body
            case "IEND": sawEnd = true
            case exactChunk: exactBody = body
            default: break  // ancillary chunks are ignored
            }
            pos += 12 + length
            if sawEnd { break }
        }
        guard colorType >= 0, sawEnd, !idat.isEmpty else { throw TasksError.invalid("PNG: missing IHDR, IDAT or IEND") }
        let channels = [0: 1, 2: 3, 4: 2, 6: 4][colorType]!
        let stride = width * channels
        // The image data can only be this long: inflating stops there (a decompression bomb is
        // refused after a few bytes too many, not after gigabytes).
        let raw = try Zlib.inflate(idat, gzip: false, limit: height * (stride + 1))
        guard raw.count == height * (stride + 1) else {
            throw TasksError.invalid("PNG: image data has \(raw.count) bytes, expected \(height * (stride + 1))")
        }
        var pixels = [UInt8](repeating: 0, count: height * stride)
        for y in 0..<height {
            let filter = raw[y * (stride + 1)]
            for i in 0..<stride {
                let x = Int(raw[y * (stride + 1) + 1 + i])
                let a = i >= channels ? Int(pixels[y * stride + i - channels]) : 0
                let b = y > 0 ? Int(pixels[(y - 1) * stride + i]) : 0
                let c = (i >= channels && y > 0) ? Int(pixels[(y - 1) * stride + i - channels]) : 0
                let predicted: Int
                switch filter {
                case 0: predicted = 0
                case 1: predicted = a
                case 2: predicted = b
                case 3: predicted = (a + b) / 2
                case 4: predicted = paeth(a, b, c)
                default: throw TasksError.invalid("PNG: unknown filter type \(filter) in row \(y)")
                }
                pixels[y * stride + i] = UInt8((x + predicted) & 0xFF)
            }
        }
        var grey = [UInt8](repeating: 0, count: width * height)
        for p in 0..<(width * height) {
            let q = p * channels
            let value: Double
            switch colorType {
            case 0: value = Double(pixels[q])
            case 4: value = Double(pixels[q]) * Double(pixels[q + 1]) / 255
            case 2: value = luma(pixels[q], pixels[q + 1], pixels[q + 2])
            default: value = luma(pixels[q], pixels[q + 1], pixels[q + 2]) * Double(pixels[q + 3]) / 255
            }
            grey[p] = UInt8(min(255, max(0, value.rounded())))
        }
        var image = Image(width: width, height: height, grey: grey)
        // A `pxFl` chunk of the wrong size or with a value outside 0...1 is ignored, as any other
        // ancillary chunk: the 8-bit image stands.
        if let b = exactBody, b.count == width * height * 4 {
            let values = (0..<(width * height)).map { p -> Float in
                Float(bitPattern: UInt32(b[4 * p]) | UInt32(b[4 * p + 1]) << 8 | UInt32(b[4 * p + 2]) << 16 | UInt32(b[4 * p + 3]) << 24)
            }
            if values.allSatisfy({ $0.isFinite && $0 >= 0 && $0 <= 1 }) { image.exact = values }
        }
        return image
    }

    /// Reads a PNG file into a scene canvas; an image k times the scene size is averaged down by k.
    public static func readCanvas(_ path: String) throws -> Canvas {
        let data: Data
        do { data = try InputFile.read(path, limit: InputFile.imageLimit) } catch {
            throw TasksError.missingData("cannot read image \(path): \(error)")
        }
        let img: Image
        do { img = try decode([UInt8](data)) } catch { throw TasksError.invalid("\(path): \(error)") }
        let h = Canvas.sceneHeight, w = Canvas.sceneWidth
        guard img.height % h == 0, img.width % w == 0, img.height / h == img.width / w else {
            throw TasksError.invalid("\(path): image is \(img.width)x\(img.height) pixels; scenes are \(w)x\(h) "
                + "(width x height) or a whole multiple of it")
        }
        return try averagedDown(img, height: h, width: w)
    }

    /// The `height` x `width` canvas of `img`, whose sides are the same whole multiple k of those:
    /// each pixel the mean of its k x k block, scaled to 0...1.
    public static func averagedDown(_ img: Image, height: Int, width: Int) throws -> Canvas {
        let k = img.width / width
        guard k >= 1, img.width == k * width, img.height == k * height else {
            throw TasksError.invalid("image is \(img.width)x\(img.height) pixels; expected \(width)x\(height) or a whole multiple of it")
        }
        var pixels = [Float](repeating: 0, count: height * width)
        for y in 0..<height {
            for x in 0..<width {
                var sum = 0
                for dy in 0..<k { for dx in 0..<k { sum += Int(img.grey[(y * k + dy) * img.width + x * k + dx]) } }
                pixels[y * width + x] = Float(sum) / Float(255 * k * k)
            }
        }
        return try Canvas(height: height, width: width, pixels: pixels)
    }

    private static func luma(_ r: UInt8, _ g: UInt8, _ b: UInt8) -> Double {
        0.299 * Double(r) + 0.587 * Double(g) + 0.114 * Double(b)
    }

    private static func paeth(_ a: Int, _ b: Int, _ c: Int) -> Int {
        let p = a + b - c
        let pa = abs(p - a), pb = abs(p - b), pc = abs(p - c)
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c
    }

    private static func bigEndian(_ v: UInt32) -> [UInt8] {
        [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)]
    }

    private static func readBE(_ b: [UInt8], _ i: Int) -> UInt32 {
        UInt32(b[i]) << 24 | UInt32(b[i + 1]) << 16 | UInt32(b[i + 2]) << 8 | UInt32(b[i + 3])
    }

    private static func chunk(_ type: String, _ body: [UInt8], into out: inout [UInt8]) {
        let typed = Array(type.utf8) + body
        out += bigEndian(UInt32(body.count)) + typed + bigEndian(Zlib.crc32(typed))
    }
}
