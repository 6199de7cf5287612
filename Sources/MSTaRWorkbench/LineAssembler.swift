/// Joins physical lines into one command while the lexer says it is incomplete
/// (an open quote or a trailing backslash), as the REPL and the script reader both need.
public struct LineAssembler: Sendable {
    private var pending: [String] = []

    /// An empty assembler.
    public init() {}

    /// True while a command is waiting for more lines (the REPL shows a continuation prompt).
    public var isPending: Bool { !pending.isEmpty }

    /// Adds one line; returns the whole command when it is complete, nil when more lines are needed.
    public mutating func feed(_ line: String) -> String? {
        pending.append(line)
        let text = pending.joined(separator: "\n")
        if Lexer.isIncomplete(text) { return nil }
        pending = []
        return text
    }

    /// Drops a half-typed command (Ctrl-C at a continuation prompt); returns what was dropped.
    @discardableResult
    public mutating func reset() -> String {
        defer { pending = [] }
        return pending.joined(separator: "\n")
    }
}
