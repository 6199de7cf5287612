import Foundation
import MSTaRTensor

/// An image a dataset record names, found and checked (`DatasetImage.check`).
public struct ImageInfo: Sendable, Equatable {
    /// The two encodings accepted, told apart by their first bytes.
    public enum Format: String, Sendable, CaseIterable {
        case png, jpeg
    }
    /// The path as the record writes it, relative to the dataset file's folder.
    public var path: String
    /// The absolute path with every link resolved (inside the dataset's folder).
    public var resolved: String
    public var format: Format
    /// Pixels, from the file's header.
    public var width: Int
    public var height: Int
    /// The file's size.
    public var bytes: Int
}

/// Finds and checks dataset images before anything uses them.
///
/// Dataset files come from other people, and an image path is an instruction to read a file: a
/// path is accepted only when it is relative and, with every link resolved, stays inside the
/// dataset file's folder (as `mstar serve` treats `--allowed-local-media-path`). The file is then
/// read without following links (one swapped in since the check is not read), at most `maxBytes`
/// of it, and must be a PNG or a JPEG whose header gives a size of at most `maxSide` a side, and
/// whose structure is whole: every PNG chunk inside the file with its CRC and an IEND, every JPEG
/// segment inside the file and an end-of-image marker. Pixels are not decoded here.
public enum DatasetImage {
    /// Most pixels a side.
    public static let maxSide = 4096
    /// Most bytes of one image file.
    public static let maxBytes = InputFile.imageLimit
    /// Most bytes of a path as written.
    public static let maxPathBytes = 1024

    /// The image `path` (as a record writes it) names under `folder` (absolute, links resolved), checked.
    public static func check(_ path: String, folder: String) throws -> ImageInfo {
        let shown = "image \(quoted(path))"
        guard !path.isEmpty, path.utf8.count <= maxPathBytes, !path.unicodeScalars.contains(where: { $0.value < 0x20 }) else {
            throw TasksError.invalid("\(shown): a path must be 1 to \(maxPathBytes) bytes without control characters")
        }
        if path.contains("://") || path.hasPrefix("data:") {
            throw TasksError.invalid("\(shown) is a URL; images are not fetched: save it beside the dataset and give its relative path")
        }
        guard !path.hasPrefix("/"), !path.hasPrefix("~") else {
            throw TasksError.invalid("\(shown) is an absolute path; image paths must be relative to the dataset file's folder")
        }
        guard !path.split(separator: "/").contains("..") else {
            throw TasksError.invalid("\(shown) leaves the dataset's folder (\"..\"); image paths must stay inside the dataset file's folder")
        }
        // Every link resolved first, so no link or mount leads outside the folder.
        guard let real = realpath(folder + "/" + path, nil) else {
            throw TasksError.invalid("\(shown) cannot be read: \(String(cString: strerror(errno))) (paths are relative to the dataset file's folder)")
        }
        let resolved = String(cString: real)
        free(real)
        guard resolved.hasPrefix(folder.hasSuffix("/") ? folder : folder + "/") else {
            throw TasksError.invalid("\(shown) leads outside the dataset's folder through a link; image files must lie inside the dataset file's folder")
        }
        let data: Data
        do { data = try InputFile.read(resolved, limit: maxBytes, followLinks: false) } catch {
            throw TasksError.invalid("\(shown) cannot be read: \(error)")
        }
        let bytes = [UInt8](data)
        let header: (format: ImageInfo.Format, width: Int, height: Int)
        do { header = try self.header(bytes) } catch { throw TasksError.invalid("\(shown): \(error)") }
        guard header.width <= maxSide, header.height <= maxSide else {
            throw TasksError.invalid("\(shown) is \(header.width)x\(header.height) pixels; at most \(maxSide)x\(maxSide) are read: resize it")
        }
        return ImageInfo(path: path, resolved: resolved, format: header.format, width: header.width, height: header.height,
                         bytes: bytes.count)
    }

    /// The format and size of a PNG or JPEG file, after checking its structure (not its pixels).
    public static func header(_ b: [UInt8]) throws -> (format: ImageInfo.Format, width: Int, height: Int) {
        if b.count >= 8, Array(b[0..<8]) == PNG.signature { return try pngHeader(b) }
        if b.count >= 3, b[0] == 0xFF, b[1] == 0xD8, b[2] == 0xFF { return try jpegHeader(b) }
        throw TasksError.invalid("not a PNG or JPEG file (its first bytes are neither's signature)")
    }

    /// PNG: IHDR first, every chunk inside the file with a good CRC, IEND at the end.
    static func pngHeader(_ b: [UInt8]) throws -> (format: ImageInfo.Format, width: Int, height: Int) {
        var pos = 8, width = 0, height = 0, sawIDAT = false
        while true {
            guard pos + 12 <= b.count else { throw TasksError.invalid("truncated PNG (it ends inside a chunk, before IEND): re-save the image") }
            let length = be32(b, pos)
            guard length <= b.count - pos - 12 else {
                throw TasksError.invalid("truncated PNG (a chunk runs past the end of the file): re-save the image")
            }
            let type = String(decoding: b[(pos + 4)..<(pos + 8)], as: UTF8.self)
            guard Zlib.crc32(Array(b[(pos + 4)..<(pos + 8 + length)])) == UInt32(be32(b, pos + 8 + length)) else {
                throw TasksError.invalid("PNG chunk \(type) has a bad CRC (the file is damaged): re-save the image")
            }
            if pos == 8 {
                guard type == "IHDR", length == 13 else { throw TasksError.invalid("PNG does not start with a 13-byte IHDR chunk") }
                width = be32(b, pos + 8)
                height = be32(b, pos + 12)
                guard width > 0, height > 0 else { throw TasksError.invalid("PNG size \(width)x\(height) is empty") }
            }
            if type == "IDAT" { sawIDAT = true }
            pos += 12 + length
            if type == "IEND" { break }
        }
        guard sawIDAT else { throw TasksError.invalid("PNG has no image data (IDAT)") }
        return (.png, width, height)
    }

    /// JPEG: SOI, segments inside the file up to the start of scan, a frame header (SOFn) giving
    /// the size, and the end-of-image marker at the end (trailing zero padding allowed).
    static func jpegHeader(_ b: [UInt8]) throws -> (format: ImageInfo.Format, width: Int, height: Int) {
        let truncated = TasksError.invalid("truncated JPEG (it ends inside a segment): re-save the image")
        var pos = 2, size: (Int, Int)?
        scan: while true {
            guard pos < b.count else { throw truncated }
            guard b[pos] == 0xFF else { throw TasksError.invalid("JPEG: byte \(pos) should start a segment (0xFF) and does not: the file is damaged") }
            while pos < b.count, b[pos] == 0xFF { pos += 1 }  // fill bytes
            guard pos < b.count else { throw truncated }
            let marker = b[pos]
            pos += 1
            if marker == 0x01 || (0xD0...0xD7).contains(marker) { continue }  // no length
            guard marker != 0xD9 else { throw TasksError.invalid("JPEG ends before its image data") }
            guard pos + 2 <= b.count else { throw truncated }
            let length = Int(b[pos]) << 8 | Int(b[pos + 1])
            guard length >= 2, pos + length <= b.count else { throw truncated }
            switch marker {
            case 0xC0...0xC3, 0xC5...0xC7, 0xC9...0xCB, 0xCD...0xCF:
                guard length >= 8 else { throw TasksError.invalid("JPEG frame header is too short") }
                size = (Int(b[pos + 5]) << 8 | Int(b[pos + 6]), Int(b[pos + 3]) << 8 | Int(b[pos + 4]))
            case 0xDA:
                break scan
            default:
                break
            }
            pos += length
        }
        guard let (width, height) = size else { throw TasksError.invalid("JPEG has no frame header (SOF) before its image data") }
        guard width > 0, height > 0 else { throw TasksError.invalid("JPEG size \(width)x\(height) is empty") }
        var end = b.count
        while end > pos, b[end - 1] == 0 { end -= 1 }
        guard end - pos >= 2, b[end - 2] == 0xFF, b[end - 1] == 0xD9 else {
            throw TasksError.invalid("truncated JPEG (no end-of-image marker): re-save the image")
        }
        return (.jpeg, width, height)
    }

    private static func be32(_ b: [UInt8], _ i: Int) -> Int {
        Int(b[i]) << 24 | Int(b[i + 1]) << 16 | Int(b[i + 2]) << 8 | Int(b[i + 3])
    }

    /// `text` in double quotes, cut to 80 characters, control characters escaped: for messages.
    static func quoted(_ text: String) -> String {
        let cut = text.count > 80 ? String(text.prefix(77)) + "..." : text
        return "\"" + cut.unicodeScalars.map {
            $0.value < 0x20 || $0.value == 0x7F ? "\\u{\(String($0.value, radix: 16))}" : String($0)
        }.joined() + "\""
    }
}
