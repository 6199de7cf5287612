import Crypto
import Foundation

/// One message of the Jupyter messaging protocol (version 5.3) as it travels on a channel:
/// routing identities, the `<IDS|MSG>` delimiter, an HMAC-SHA256 signature, four JSON frames
/// (header, parent header, metadata, content) and any binary buffers.
struct KernelMessage {
    var identities: [Data]
    var header: [String: Any]
    var parent: [String: Any]
    var metadata: [String: Any]
    var content: [String: Any]

    /// `execute_request`, `complete_request`, ...
    var type: String { header["msg_type"] as? String ?? "" }
    /// The message id, for log lines.
    var id: String { header["msg_id"] as? String ?? "" }

    /// The frame that separates routing identities from the message.
    static let delimiter = Data("<IDS|MSG>".utf8)
    /// The protocol version the kernel speaks.
    static let protocolVersion = "5.3"
}

/// Signs outgoing messages and checks incoming ones with the connection file's key.
struct MessageSigner: Sendable {
    private let keyBytes: Data?
    private var key: SymmetricKey? { keyBytes.map { SymmetricKey(data: $0) } }

    /// A signer for `key`; an empty key means messages are neither signed nor checked (Jupyter's rule).
    init(key: String) { keyBytes = key.isEmpty ? nil : Data(key.utf8) }

    /// The hex HMAC-SHA256 of the four JSON frames.
    func signature(_ parts: [Data]) -> String {
        guard let key else { return "" }
        var mac = HMAC<SHA256>(key: key)
        for p in parts { mac.update(data: p) }
        return Data(mac.finalize()).map { String(format: "%02x", $0) }.joined()
    }

    /// Whether `signature` (hex) signs `parts`, compared in constant time.
    func verify(_ signature: Data, _ parts: [Data]) -> Bool {
        guard let key else { return true }
        guard signature.count == 64, let raw = Self.hexBytes(signature) else { return false }
        return HMAC<SHA256>.isValidAuthenticationCode(raw, authenticating: parts.reduce(into: Data()) { $0.append($1) }, using: key)
    }

    private static func hexBytes(_ hex: Data) -> Data? {
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
            default: return nil
            }
        }
        let bytes = Array(hex)
        var out = Data(capacity: bytes.count / 2)
        for i in stride(from: 0, to: bytes.count, by: 2) {
            guard let hi = nibble(bytes[i]), let lo = nibble(bytes[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
        }
        return out
    }
}

/// Why an incoming message was dropped (logged to stderr, never answered: the sender is not trusted).
enum WireError: Error, CustomStringConvertible {
    case noDelimiter, tooShort, badSignature, badJSON(String)

    var description: String {
        switch self {
        case .noDelimiter: return "no <IDS|MSG> delimiter"
        case .tooShort: return "fewer than the five frames after the delimiter"
        case .badSignature: return "the signature does not match the connection file's key"
        case .badJSON(let frame): return "the \(frame) frame is not a JSON object"
        }
    }
}

/// Turns frames into messages and back for one kernel session.
struct Wire: Sendable {
    let signer: MessageSigner
    /// The kernel's session id (the `session` field of every header it sends).
    let session: String

    /// Parses and checks a received multipart message.
    func decode(_ frames: [Data]) throws(WireError) -> KernelMessage {
        guard let split = frames.firstIndex(of: KernelMessage.delimiter) else { throw .noDelimiter }
        guard frames.count - split >= 6 else { throw .tooShort }
        let parts = Array(frames[(split + 2)..<(split + 6)])
        guard signer.verify(frames[split + 1], parts) else { throw .badSignature }
        func object(_ i: Int, _ name: String) throws(WireError) -> [String: Any] {
            guard let o = try? JSONSerialization.jsonObject(with: parts[i]), let d = o as? [String: Any] else { throw .badJSON(name) }
            return d
        }
        return KernelMessage(identities: Array(frames[..<split]), header: try object(0, "header"), parent: try object(1, "parent header"),
                             metadata: try object(2, "metadata"), content: try object(3, "content"))
    }

    /// The frames of a new message of `type` answering (or caused by) `parent`.
    func encode(_ type: String, content: [String: Any], parent: KernelMessage?, metadata: [String: Any] = [:], identities: [Data]? = nil) -> [Data] {
        let header: [String: Any] = [
            "msg_id": UUID().uuidString.lowercased(), "session": session, "username": "mstar",
            "date": Wire.timestamp(), "msg_type": type, "version": KernelMessage.protocolVersion,
        ]
        let parts = [Wire.json(header), Wire.json(parent?.header ?? [:]), Wire.json(metadata), Wire.json(content)]
        return (identities ?? parent?.identities ?? []) + [KernelMessage.delimiter, Data(signer.signature(parts).utf8)] + parts
    }

    /// IOPub messages are routed by topic, the message type (subscribers take every topic).
    func publication(_ type: String, content: [String: Any], parent: KernelMessage?, metadata: [String: Any] = [:]) -> [Data] {
        encode(type, content: content, parent: parent, metadata: metadata, identities: [Data("kernel.\(session).\(type)".utf8)])
    }

    static func json(_ object: [String: Any]) -> Data {
        // Everything the kernel sends is made of strings, numbers, booleans, arrays and objects.
        (try? JSONSerialization.data(withJSONObject: object, options: [.withoutEscapingSlashes, .sortedKeys])) ?? Data("{}".utf8)
    }

    /// ISO 8601 with microseconds, as Jupyter's own kernels write it.
    static func timestamp() -> String {
        var tv = timeval()
        gettimeofday(&tv, nil)
        var t = time_t(tv.tv_sec)
        var tm = tm()
        gmtime_r(&t, &tm)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", Int(tm.tm_year) + 1900, Int(tm.tm_mon) + 1, Int(tm.tm_mday),
                      Int(tm.tm_hour), Int(tm.tm_min), Int(tm.tm_sec), Int(tv.tv_usec))
    }
}
