/// The result of running one command line in a session.
public struct Execution {
    /// How it ended.
    public enum Status: Sendable, Equatable {
        /// Blank or comment only: nothing ran.
        case empty
        /// Completed (and journaled).
        case completed
        /// Failed; `error` says why and the session is unchanged by it.
        case failed
        /// Stopped at Ctrl-C; the session is consistent (partial work journaled as the handler said).
        case interrupted
    }

    /// How it ended.
    public var status: Status
    /// The parsed command (nil when empty or when parsing failed).
    public var command: ParsedCommand?
    /// What it produced.
    public var output: CommandOutput
    /// The message when it failed.
    public var error: String?

    /// An execution result.
    public init(status: Status, command: ParsedCommand? = nil, output: CommandOutput = CommandOutput(), error: String? = nil) {
        self.status = status
        self.command = command
        self.output = output
        self.error = error
    }

    /// The lines a script records for it: its output, or `error: ...` when it failed.
    public var recordedLines: [OutputLine] {
        var lines = output.recordedLines
        if let error { lines += error.split(separator: "\n", omittingEmptySubsequences: false).enumerated().map {
            OutputLine(text: ($0.offset == 0 ? "error: " : "") + $0.element, volatile: false)
        } }
        if status == .interrupted { lines.append(OutputLine(text: "interrupted", volatile: false)) }
        return lines
    }

    /// True when the session should end.
    public var quit: Bool { output.quit }
}
