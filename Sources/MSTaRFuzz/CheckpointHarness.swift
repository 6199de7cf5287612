import Foundation
import MSTaRModel

/// Checkpoint loading, `Checkpoint.decode`: config.json, state.json, model.safetensors and
/// optionally optimizer.safetensors, packed into one input by `CheckpointHarness.pack`.
public enum CheckpointHarness {
    /// Splits `data` into the checkpoint's files and decodes them.
    public static func run(_ data: Data) {
        let parts = unpack(data)
        guard parts.count >= 3 else { return }
        _ = try? Checkpoint.decode(config: parts[0], state: parts[1], weights: parts[2],
                                   optimizer: parts.count > 3 ? parts[3] : nil, source: "fuzz input")
    }

    /// One input from the files in order (config, state, weights, optimizer), each preceded by its
    /// length as 4 bytes little-endian: a container any mutation of which still splits into files.
    public static func pack(_ parts: [Data]) -> Data {
        var out = Data()
        for p in parts {
            withUnsafeBytes(of: UInt32(p.count).littleEndian) { out.append(contentsOf: $0) }
            out.append(p)
        }
        return out
    }

    /// The files of a packed input (at most four); a length past the end takes what is left.
    public static func unpack(_ data: Data) -> [Data] {
        let bytes = [UInt8](data)
        var parts: [Data] = []
        var pos = 0
        while parts.count < 4, pos + 4 <= bytes.count {
            let length = Int(bytes[pos]) | Int(bytes[pos + 1]) << 8 | Int(bytes[pos + 2]) << 16 | Int(bytes[pos + 3]) << 24
            pos += 4
            let end = min(bytes.count, pos + length)
            parts.append(Data(bytes[pos..<end]))
            pos = end
        }
        return parts
    }
}
