import CZlib

/// Thin wrappers over the system zlib: gunzip for the vendored data, zlib streams and CRC-32 for PNG.
public enum Zlib {
    /// Inflates `data`; `gzip` selects the gzip wrapper (true) or the zlib wrapper (false). Output
    /// beyond `limit` bytes is refused as it is produced, so a small compressed bomb cannot expand
    /// into gigabytes first.
    public static func inflate(_ data: [UInt8], gzip: Bool, limit: Int) throws -> [UInt8] {
        var stream = z_stream()
        let windowBits: Int32 = gzip ? 15 + 16 : 15
        guard inflateInit2_(&stream, windowBits, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw TasksError.invalid("zlib: inflateInit2 failed")
        }
        defer { inflateEnd(&stream) }
        var out = [UInt8]()
        out.reserveCapacity(min(limit, max(4 * data.count, 1024)))
        var overflow = false
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        var input = data
        let status: Int32 = input.withUnsafeMutableBufferPointer { inBuf in
            stream.next_in = inBuf.baseAddress
            stream.avail_in = uInt(inBuf.count)
            var rc: Int32 = Z_OK
            repeat {
                rc = chunk.withUnsafeMutableBufferPointer { outBuf in
                    stream.next_out = outBuf.baseAddress
                    stream.avail_out = uInt(outBuf.count)
                    let r = CZlib.inflate(&stream, Z_NO_FLUSH)
                    let produced = outBuf.count - Int(stream.avail_out)
                    guard out.count + produced <= limit else { overflow = true; return Z_DATA_ERROR }
                    out.append(contentsOf: outBuf[0..<produced])
                    return r
                }
                // Z_BUF_ERROR with input left means the output chunk was full: go round again.
            } while rc == Z_OK || (rc == Z_BUF_ERROR && stream.avail_in > 0)
            return rc
        }
        if overflow {
            throw TasksError.invalid("zlib: the \(gzip ? "gzip" : "zlib") stream inflates to more than \(limit) bytes")
        }
        guard status == Z_STREAM_END else {
            throw TasksError.invalid("zlib: corrupt or truncated \(gzip ? "gzip" : "zlib") stream (code \(status))")
        }
        return out
    }

    /// Compresses `data` into a zlib stream (RFC 1950) at the given level.
    public static func deflate(_ data: [UInt8], level: Int32 = 9) -> [UInt8] {
        var bound = compressBound(uLong(data.count))
        var out = [UInt8](repeating: 0, count: Int(bound))
        let rc = out.withUnsafeMutableBufferPointer { o in
            data.withUnsafeBufferPointer { i in compress2(o.baseAddress, &bound, i.baseAddress, uLong(i.count), level) }
        }
        precondition(rc == Z_OK, "zlib compress2 failed with code \(rc)")  // only out-of-memory can fail
        out.removeSubrange(Int(bound)...)
        return out
    }

    /// CRC-32 (ISO-HDLC, as PNG uses) of `bytes`, continuing from `crc`.
    public static func crc32(_ bytes: [UInt8], crc: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBufferPointer { UInt32(CZlib.crc32(uLong(crc), $0.baseAddress, uInt($0.count))) }
    }
}
