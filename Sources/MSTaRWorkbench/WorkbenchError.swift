/// An error the workbench reports to the user: what went wrong and, where possible, what to type instead.
public struct WorkbenchError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The message, phrased for the person at the prompt.
    public var message: String

    /// An error with `message`.
    public init(_ message: String) { self.message = message }

    public var description: String { message }
}
