/// Errors from the tensor layer; each message says what was wrong and, where it can, what to do.
public enum TensorError: Error, CustomStringConvertible, Equatable {
    /// Two shapes that an operation cannot combine; the message names both.
    case shapeMismatch(String)
    /// A malformed value, file or argument.
    case invalid(String)

    public var description: String {
        switch self {
        case .shapeMismatch(let m), .invalid(let m): return m
        }
    }
}
