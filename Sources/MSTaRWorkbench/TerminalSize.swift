import Foundation

/// The size of the terminal window, for the dumb-terminal plot and the progress bar.
public struct TerminalSize: Sendable, Equatable {
    /// Columns.
    public var columns: Int
    /// Rows.
    public var rows: Int

    /// A size.
    public init(columns: Int, rows: Int) {
        self.columns = columns
        self.rows = rows
    }

    /// What is used when no terminal answers.
    public static let fallback = TerminalSize(columns: 80, rows: 25)

    /// The window size of the first of stdout, stderr, stdin that is a terminal (TIOCGWINSZ),
    /// else $COLUMNS/$LINES, else 80x25.
    public static func current() -> TerminalSize {
        for fd in [STDOUT_FILENO, STDERR_FILENO, STDIN_FILENO] {
            var ws = winsize()
            if ioctl(fd, UInt(TIOCGWINSZ), &ws) == 0, ws.ws_col > 0, ws.ws_row > 0 {
                return TerminalSize(columns: Int(ws.ws_col), rows: Int(ws.ws_row))
            }
        }
        let env = ProcessInfo.processInfo.environment
        if let c = env["COLUMNS"].flatMap(Int.init), let r = env["LINES"].flatMap(Int.init), c > 0, r > 0 {
            return TerminalSize(columns: c, rows: r)
        }
        return fallback
    }
}
