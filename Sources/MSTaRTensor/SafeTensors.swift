import Foundation

/// The safetensors format (as read by Hugging Face's `safetensors`): an 8-byte little-endian header
/// length N, N bytes of JSON mapping each tensor name to {dtype, shape, data_offsets} plus an
/// optional "__metadata__" string map, then the raw little-endian data. We write F32, pad the header
/// with spaces to 8-byte alignment, and read F32, F64, F16 and BF16 (converted to Float32).
public enum SafeTensors {
    /// Encodes named tensors (in the given order) and string metadata into file bytes.
    public static func encode(_ tensors: [(String, Tensor)], metadata: [String: String] = [:]) throws -> Data {
        var seen = Set<String>()
        var entries: [String] = []
        var offset = 0
        for (name, t) in tensors {
            guard !name.isEmpty, name != "__metadata__", seen.insert(name).inserted else {
                throw TensorError.invalid("safetensors: tensor name '\(name)' is empty, reserved or repeated")
            }
            let bytes = t.count * 4
            entries.append("\(jsonString(name)):{\"dtype\":\"F32\",\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + bytes)]}")
            offset += bytes
        }
        if !metadata.isEmpty {
            let m = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }.joined(separator: ",")
            entries.insert("\"__metadata__\":{\(m)}", at: 0)
        }
        var header = Array("{\(entries.joined(separator: ","))}".utf8)
        while header.count % 8 != 0 { header.append(0x20) }
        var data = Data(capacity: 8 + header.count + offset)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(contentsOf: header)
        for (_, t) in tensors {
            // Float32 is little-endian on every platform we build for.
            data.append(UnsafeBufferPointer(start: t.ptr, count: t.count))
        }
        return data
    }

    /// Writes named tensors to `url` atomically (temporary file, fsync, rename).
    public static func write(_ tensors: [(String, Tensor)], metadata: [String: String] = [:], to url: URL) throws {
        try AtomicFile.write(try encode(tensors, metadata: metadata), to: url)
    }

    /// A decoded file: tensors by name, in file order, and the metadata map.
    public struct File {
        public var tensors: [String: Tensor]
        public var order: [String]
        public var metadata: [String: String]
    }

    /// Reads a safetensors file, refusing anything truncated, overlapping or malformed with a message naming the problem.
    public static func read(_ url: URL) throws -> File {
        try decode(try InputFile.read(url.path, limit: InputFile.tensorLimit), source: url.path)
    }

    /// The largest JSON header read (the limit Hugging Face's reader sets).
    public static let maxHeader = 100_000_000

    /// Decodes safetensors bytes; `source` names the file in errors.
    public static func decode(_ data: Data, source: String = "safetensors data") throws -> File {
        func bad(_ why: String) -> TensorError { .invalid("\(source) is not a valid safetensors file: \(why)") }
        guard data.count >= 8 else { throw bad("only \(data.count) bytes, shorter than the 8-byte header length") }
        // Indices from 0, whatever slice of a larger Data the caller passes.
        let data = data.startIndex == 0 ? data : Data(data)
        let n = data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }.littleEndian
        guard n <= UInt64(data.count - 8) else { throw bad("header length \(n) exceeds the file (\(data.count) bytes): truncated?") }
        guard n <= UInt64(maxHeader) else { throw bad("header length \(n) is above the \(maxHeader)-byte limit") }
        let headerBytes = data.subdata(in: 8..<(8 + Int(n)))
        guard let json = try? JSONSerialization.jsonObject(with: headerBytes), let header = json as? [String: Any] else {
            throw bad("header is not a JSON object")
        }
        let dataStart = 8 + Int(n)
        let payload = data.count - dataStart
        var metadata: [String: String] = [:]
        var spans: [(name: String, begin: Int, end: Int)] = []
        var tensors: [String: Tensor] = [:]
        /// A whole number from JSON, or nil (a fraction, a string, or beyond Int).
        func integer(_ v: Any) -> Int? {
            guard let num = v as? NSNumber else { return nil }
            let d = num.doubleValue
            guard d.isFinite, d == d.rounded(), abs(d) < 9.0e15 else { return nil }
            return num.intValue
        }
        // Entries are checked in file order (then by name), so an error names the same tensor every
        // run: a dictionary's order changes from process to process.
        var entries: [(name: String, info: [String: Any], begin: Int)] = []
        for (name, value) in header {
            if name == "__metadata__" {
                guard let m = value as? [String: Any] else { throw bad("__metadata__ is not an object") }
                for k in m.keys.sorted() {
                    guard let s = m[k] as? String else { throw bad("__metadata__ value for '\(k)' is not a string") }
                    metadata[k] = s
                }
                continue
            }
            guard let info = value as? [String: Any] else { throw bad("entry '\(name)' is not an object") }
            let begin = (info["data_offsets"] as? [Any])?.first.flatMap(integer) ?? -1
            entries.append((name, info, begin))
        }
        entries.sort { ($0.begin, $0.name) < ($1.begin, $1.name) }
        for (name, info, _) in entries {
            guard let dtype = info["dtype"] as? String,
                  let shapeAny = info["shape"] as? [Any], let offs = info["data_offsets"] as? [Any], offs.count == 2 else {
                throw bad("entry '\(name)' lacks dtype, shape or data_offsets")
            }
            guard shapeAny.count <= 8 else { throw bad("entry '\(name)' has \(shapeAny.count) dimensions; at most 8 are read") }
            let width: Int
            switch dtype {
            case "F32": width = 4
            case "F64": width = 8
            case "F16", "BF16": width = 2
            default: throw bad("entry '\(name)' has dtype \(dtype); mstar reads F32, F64, F16 and BF16")
            }
            guard let begin = integer(offs[0]), let end = integer(offs[1]), begin >= 0, begin <= end, end <= payload else {
                throw bad("entry '\(name)' has data_offsets \(offs) outside the \(payload) data bytes: truncated?")
            }
            // The element count may not overflow, and must match the bytes the offsets span (which the
            // file's size bounds), before anything is allocated for it.
            var count = 1
            var shape: [Int] = []
            for v in shapeAny {
                guard let i = integer(v), i >= 0, i <= Int(Int32.max) else { throw bad("entry '\(name)' has a bad shape \(shapeAny)") }
                let (c, overflow) = count.multipliedReportingOverflow(by: i)
                guard !overflow, c <= payload else { throw bad("entry '\(name)' has shape \(shapeAny), larger than the file") }
                count = c
                shape.append(i)
            }
            guard end - begin == count * width else {
                throw bad("entry '\(name)' of shape \(shape) and dtype \(dtype) needs \(count * width) bytes, offsets span \(end - begin)")
            }
            let t = Tensor(uninitialized: shape)
            data.withUnsafeBytes { raw in
                let src = raw.baseAddress! + dataStart + begin
                for i in 0..<count {
                    switch dtype {
                    case "F32": t.ptr[i] = Float(bitPattern: UInt32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                    case "F64": t.ptr[i] = Float(Double(bitPattern: UInt64(littleEndian: src.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))))
                    case "F16": t.ptr[i] = halfToFloat(UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
                    default: t.ptr[i] = Float(bitPattern: UInt32(UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) << 16)
                    }
                }
            }
            t.name = name
            tensors[name] = t
            spans.append((name, begin, end))
        }
        // The format requires the data to be covered exactly once, in order, without holes.
        spans.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
        var cursor = 0
        for s in spans {
            guard s.begin == cursor else { throw bad("tensor '\(s.name)' starts at byte \(s.begin), expected \(cursor) (overlap or hole)") }
            cursor = s.end
        }
        guard cursor == payload else { throw bad("data section has \(payload) bytes but tensors cover \(cursor)") }
        return File(tensors: tensors, order: spans.map(\.name), metadata: metadata)
    }

    private static func jsonString(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }

    private static func halfToFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exp = Int((h >> 10) & 0x1F), mant = UInt32(h & 0x3FF)
        if exp == 0 {  // zero or subnormal
            let v = Float(mant) * Float(sign == 0 ? 1 : -1) * 5.960_464_5e-8
            return v
        }
        if exp == 31 { return Float(bitPattern: sign | 0x7F80_0000 | (mant << 13)) }
        return Float(bitPattern: sign | (UInt32(exp + 112) << 23) | (mant << 13))
    }
}

/// Writes files so that a crash leaves either the old file or the new one, never a torn one.
public enum AtomicFile {
    /// Writes `data` to a temporary file beside `url`, fsyncs it, renames it over `url`, and fsyncs the directory.
    public static func write(_ data: Data, to url: URL) throws {
        let dir = url.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        removeStaleTemporaries(of: url)
        let tmp = dir.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())")
        let fd = open(tmp.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw TensorError.invalid("cannot write \(tmp.path): \(String(cString: strerror(errno)))") }
        var ok = true
        data.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = Foundation.write(fd, raw.baseAddress! + done, raw.count - done)
                if n <= 0 { ok = false; break }
                done += n
            }
        }
        ok = ok && fsync(fd) == 0
        close(fd)
        guard ok, rename(tmp.path, url.path) == 0 else {
            unlink(tmp.path)
            throw TensorError.invalid("cannot write \(url.path): \(String(cString: strerror(errno)))")
        }
        syncDirectory(dir)
    }

    /// Removes what writes killed before their rename left beside `destination`: files and folders
    /// named `.NAME.tmp-PID...` whose process is gone. A live process's temporary is left alone.
    public static func removeStaleTemporaries(of destination: URL) {
        let fm = FileManager.default
        let parent = destination.deletingLastPathComponent()
        let prefix = ".\(destination.lastPathComponent).tmp-"
        guard let names = try? fm.contentsOfDirectory(atPath: parent.path) else { return }
        for name in names where name.hasPrefix(prefix) {
            let pidText = name.dropFirst(prefix.count).prefix { $0.isNumber }
            guard let pid = Int32(pidText), pid > 0, pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else { continue }
            try? fm.removeItem(at: parent.appendingPathComponent(name))
        }
    }

    /// fsyncs a directory so a rename inside it is durable.
    public static func syncDirectory(_ dir: URL) {
        let dfd = open(dir.path, O_RDONLY)
        if dfd >= 0 { fsync(dfd); close(dfd) }
    }
}
