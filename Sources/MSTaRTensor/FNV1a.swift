/// 64-bit FNV-1a: a small, stable hash for naming things by their bytes (study runs by their
/// settings, a trainer's state by its weights). Not for security.
public struct FNV1a: Sendable {
    /// The hash so far.
    public private(set) var value: UInt64 = 0xcbf29ce484222325

    /// A hash of nothing yet.
    public init() {}

    /// Adds one byte.
    public mutating func add(_ byte: UInt8) { value = (value ^ UInt64(byte)) &* 0x100000001b3 }

    /// Adds bytes in order.
    public mutating func add<S: Sequence>(bytes: S) where S.Element == UInt8 { for b in bytes { add(b) } }

    /// Adds a 64-bit word, byte by byte (little-endian).
    public mutating func add(_ word: UInt64) { for i in 0..<8 { add(UInt8(truncatingIfNeeded: word >> (8 * i))) } }

    /// Adds every element's bits, in order, each as a 64-bit word.
    public mutating func add(_ tensor: Tensor) { for i in 0..<tensor.count { add(UInt64(tensor.ptr[i].bitPattern)) } }

    /// The hash as lowercase hex.
    public var hex: String { String(value, radix: 16) }
}
