/// An error the workbench reports to the user: what went wrong and, where possible, what to type instead.
public struct WorkbenchError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The message, phrased for the person at the prompt.
    public var message: String
    /// What the command produced before it failed (include shows the outputs of the commands that ran).
    public var partialOutput: CommandOutput?

    /// An error with `message`, and the output produced before it.
    public init(_ message: String, partialOutput: CommandOutput? = nil) {
        self.message = message
        self.partialOutput = partialOutput
    }

    public var description: String { message }
}
