/// A session script (`.mstar`): cells of commands with their recorded output, read and written
/// so that an unchanged script renders back to the same bytes.
///
/// ```
/// # %% [markdown]
/// # # Title: markdown cells are `# `-prefixed lines
///
/// # %%
/// seed 0
/// #> seed = 0
/// ```
/// Lines before the first `# %%` form a code cell without a marker.
public struct Script: Equatable, Sendable {
    /// What a cell holds.
    public enum CellKind: Sendable, Equatable {
        case code, markdown
    }

    /// A command (one or more physical lines) and the output recorded below it.
    public struct Command: Equatable, Sendable {
        /// The command's lines as written (more than one when continued).
        public var lines: [String]
        /// Line number (1-based) of its first line in the file.
        public var line: Int
        /// The recorded output below it.
        public var outputs: [OutputLine]

        /// The command text, lines joined with newlines.
        public var text: String { lines.joined(separator: "\n") }
    }

    /// One line-level element of a cell.
    public enum Item: Equatable, Sendable {
        /// A command with its outputs.
        case command(Command)
        /// Any other line kept as is: comments, blank lines, markdown text, stray output lines.
        case other(String)
    }

    /// A cell: its marker line (nil for the leading unmarked cell) and its items.
    public struct Cell: Equatable, Sendable {
        /// Code or markdown.
        public var kind: CellKind
        /// The `# %%` line exactly as written, nil for text before the first marker.
        public var marker: String?
        /// Line number (1-based) where the cell starts.
        public var line: Int
        /// Its lines.
        public var items: [Item]

        /// The commands of the cell, in order.
        public var commands: [Command] {
            items.compactMap { if case .command(let c) = $0 { return c } else { return nil } }
        }

        /// Adds a line of a code cell as the script reader reads it: the continuation of a command
        /// still open, a recorded `#>` line of the command above, a comment or blank line, or a new
        /// command (line `number` in the file); `assembler` tracks open commands across lines.
        mutating func append(_ line: String, number: Int, assembler: inout LineAssembler) {
            if assembler.isPending, case .command(var c) = items.last {
                c.lines.append(line)
                items[items.count - 1] = .command(c)
                _ = assembler.feed(line)
            } else if OutputLine.isOutput(line) {
                if case .command(var c) = items.last {
                    c.outputs.append(OutputLine(raw: line))
                    items[items.count - 1] = .command(c)
                } else {
                    items.append(.other(line))
                }
            } else if Script.isBlankOrComment(line) {
                items.append(.other(line))
            } else {
                items.append(.command(Command(lines: [line], line: number, outputs: [])))
                _ = assembler.feed(line)
            }
        }

        /// A markdown cell's text without the `# ` prefixes, blank lines at either end dropped.
        public var markdown: String {
            var lines = items.map { item -> String in
                guard case .other(let l) = item else { return "" }
                if l == "#" { return "" }
                if l.hasPrefix("# ") { return String(l.dropFirst(2)) }
                return l.hasPrefix("#") ? String(l.dropFirst()) : l
            }
            Script.trimBlank(&lines)
            return lines.joined(separator: "\n")
        }

        /// A code cell's source without recorded output, blank lines at either end dropped.
        public var source: String {
            var lines: [String] = []
            for item in items {
                switch item {
                case .command(let c): lines += c.lines
                case .other(let l) where !OutputLine.isOutput(l): lines.append(l)
                case .other: break
                }
            }
            Script.trimBlank(&lines)
            return lines.joined(separator: "\n")
        }
    }

    /// The cells in file order.
    public var cells: [Cell]
    /// Whether the file ends with a newline.
    public var endsWithNewline: Bool

    /// A script of the given cells.
    public init(cells: [Cell] = [], endsWithNewline: Bool = true) {
        self.cells = cells
        self.endsWithNewline = endsWithNewline
    }

    /// The marker that starts a cell.
    public static let cellMarker = "# %%"

    /// `text` split at each LF, by Unicode scalar: Swift reads CR LF as one Character, so text saved
    /// with Windows line ends would be one line. A line keeps its CR.
    public static func lines(_ text: String) -> [String] {
        text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false).map { String(String.UnicodeScalarView($0)) }
    }

    /// True for a line that holds no command (blank, or a `#` comment, recorded output included)
    /// when it does not continue an open one.
    public static func isBlankOrComment(_ line: String) -> Bool {
        line.allSatisfy(\.isWhitespace) || line.drop(while: { $0 == " " || $0 == "\t" }).hasPrefix("#")
    }

    /// Reads a script; never fails (anything unrecognised is kept as an `.other` line).
    public static func parse(_ text: String) -> Script {
        // A line keeps its CR, so the script still renders back byte for byte.
        var lines = lines(text)
        let endsWithNewline = text.hasSuffix("\n")
        if endsWithNewline || text.isEmpty { lines.removeLast() }

        var cells: [Cell] = []
        var current = Cell(kind: .code, marker: nil, line: 1, items: [])
        var assembler = LineAssembler()
        func flush() {
            if current.marker != nil || !current.items.isEmpty { cells.append(current) }
        }
        for (i, line) in lines.enumerated() {
            let number = i + 1
            if !assembler.isPending && line.hasPrefix(cellMarker) {
                flush()
                let tag = line.dropFirst(cellMarker.count)
                let kind: CellKind = tag.contains("[markdown]") || tag.contains("[md]") ? .markdown : .code
                current = Cell(kind: kind, marker: line, line: number, items: [])
            } else if current.kind == .markdown {
                current.items.append(.other(line))
            } else {
                current.append(line, number: number, assembler: &assembler)
            }
        }
        flush()
        return Script(cells: cells, endsWithNewline: endsWithNewline)
    }

    /// The script as text; `Script.parse(s).render() == s` for every s.
    public func render() -> String {
        var out: [String] = []
        for cell in cells {
            if let m = cell.marker { out.append(m) }
            for item in cell.items {
                switch item {
                case .command(let c):
                    out += c.lines
                    out += c.outputs.map(\.raw)
                case .other(let l):
                    out.append(l)
                }
            }
        }
        var text = out.joined(separator: "\n")
        if endsWithNewline && !(out.isEmpty && cells.isEmpty) { text += "\n" }
        return text
    }

    /// Every command with its cell index, in file order.
    public var commands: [(cell: Int, command: Command)] {
        cells.enumerated().flatMap { (i, c) in c.commands.map { (i, $0) } }
    }

    static func trimBlank(_ lines: inout [String]) {
        while let f = lines.first, f.allSatisfy(\.isWhitespace) { lines.removeFirst() }
        while let l = lines.last, l.allSatisfy(\.isWhitespace) { lines.removeLast() }
    }
}
