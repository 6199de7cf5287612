import Foundation
import MSTaRTensor

/// The connection file Jupyter writes before it starts a kernel: where each channel listens and
/// the key that signs every message (the Jupyter messaging protocol, "Connection files").
public struct ConnectionInfo: Sendable, Equatable {
    /// `tcp` or `ipc`.
    public var transport: String
    /// The address to listen on (tcp), or the socket path prefix (ipc).
    public var ip: String
    /// The five channels' ports.
    public var shellPort, iopubPort, stdinPort, controlPort, hbPort: Int
    /// The HMAC key (empty: messages are not signed).
    public var key: String
    /// `hmac-sha256` (the only scheme Jupyter uses today).
    public var signatureScheme: String

    /// Reads and checks a connection file. Jupyter wrote it, but it is still input from outside:
    /// every field is checked, and a bad one is named in a one-line error.
    public init(file: String) throws(KernelError) {
        let data: Data
        do { data = try InputFile.read(file, limit: 1 << 20) } catch {
            throw KernelError("cannot read the connection file \(file): \(error); Jupyter passes it as {connection_file}")
        }
        guard let object = try? JSONSerialization.jsonObject(with: data), let json = object as? [String: Any] else {
            throw KernelError("the connection file \(file) is not a JSON object; Jupyter writes it: start the kernel from Jupyter")
        }
        func port(_ name: String) throws(KernelError) -> Int {
            guard let n = json[name] as? Int, (1...65535).contains(n) else {
                throw KernelError("the connection file \(file) gives no port 1...65535 for \(name)")
            }
            return n
        }
        transport = json["transport"] as? String ?? "tcp"
        guard ["tcp", "ipc"].contains(transport) else { throw KernelError("the connection file \(file) names transport '\(transport)'; the kernel speaks tcp and ipc") }
        ip = json["ip"] as? String ?? "127.0.0.1"
        guard !ip.isEmpty, ip.utf8.count < 1024, !ip.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw KernelError("the connection file \(file) gives no usable ip")
        }
        shellPort = try port("shell_port")
        iopubPort = try port("iopub_port")
        stdinPort = try port("stdin_port")
        controlPort = try port("control_port")
        hbPort = try port("hb_port")
        key = json["key"] as? String ?? ""
        guard key.utf8.count <= 4096 else { throw KernelError("the connection file \(file) has a key over 4096 bytes") }
        signatureScheme = json["signature_scheme"] as? String ?? "hmac-sha256"
        guard signatureScheme == "hmac-sha256" else {
            throw KernelError("the connection file \(file) asks for signature scheme \(signatureScheme); the kernel signs with hmac-sha256")
        }
    }

    /// The ZeroMQ endpoint of a port.
    public func endpoint(_ port: Int) -> String {
        transport == "ipc" ? "ipc://\(ip)-\(port)" : "tcp://\(ip.contains(":") ? "[\(ip)]" : ip):\(port)"
    }
}
