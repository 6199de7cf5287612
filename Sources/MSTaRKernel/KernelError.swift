/// An error that stops the kernel from starting or from installing: one line saying what to do.
public struct KernelError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The message.
    public var message: String

    /// An error with `message`.
    public init(_ message: String) { self.message = message }

    public var description: String { message }
}
