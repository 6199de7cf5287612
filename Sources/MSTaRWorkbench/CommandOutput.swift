/// What a command produced: recorded text, volatile text, images, and terminal-only display.
public struct CommandOutput: Sendable, Equatable {
    /// One piece of output, in order.
    public enum Item: Sendable, Equatable {
        /// A line that is recorded in scripts (`#> ...`) and checked by `--verify`.
        case text(String)
        /// A line recorded as `#>~ ...` and ignored by `--verify` (timings, rates).
        case volatile(String)
        /// An image file (path relative to the run directory): `#> [plot: PATH]` or `#> [image: PATH]`.
        case image(path: String, kind: ImageKind)
        /// Text shown at the REPL only, never recorded (a dumb-terminal plot).
        case display(String)
    }

    /// What an image output shows.
    public enum ImageKind: String, Sendable, Equatable {
        case plot, image
    }

    /// The items in order.
    public var items: [Item]
    /// What to journal instead of the command as typed (a command stopped early records what it did).
    public var journalAs: String?
    /// True when the command stopped early at an interrupt but left the session consistent.
    public var interrupted: Bool
    /// True when the session should end (quit).
    public var quit: Bool
    /// The whole output as an HTML table, for front ends that render HTML (the Jupyter kernel);
    /// scripts and the journal record the text lines only.
    public var html: String?

    /// Empty output.
    public init(items: [Item] = [], journalAs: String? = nil, interrupted: Bool = false, quit: Bool = false) {
        self.items = items
        self.journalAs = journalAs
        self.interrupted = interrupted
        self.quit = quit
    }

    /// Output of the given recorded lines (each string may hold several lines).
    public init(lines: [String]) {
        self.init()
        for l in lines { line(l) }
    }

    /// Appends recorded text (split at newlines).
    public mutating func line(_ text: String) {
        for l in text.split(separator: "\n", omittingEmptySubsequences: false) { items.append(.text(String(l))) }
    }

    /// Appends volatile text: recorded, but `--verify` ignores it.
    public mutating func volatile(_ text: String) { items.append(.volatile(text)) }

    /// Appends an image or plot file (path relative to the run directory).
    public mutating func image(_ path: String, kind: ImageKind = .plot) { items.append(.image(path: path, kind: kind)) }

    /// Appends text for the terminal only.
    public mutating func display(_ text: String) { items.append(.display(text)) }

    /// Appends everything `other` holds.
    public mutating func append(_ other: CommandOutput) { items += other.items }

    /// The recorded lines as they appear after `#> ` / `#>~ ` in a script.
    public var recordedLines: [OutputLine] {
        items.compactMap { item in
            switch item {
            case .text(let s): return OutputLine(text: s, volatile: false)
            case .volatile(let s): return OutputLine(text: s, volatile: true)
            case .image(let p, let k): return OutputLine(text: "[\(k.rawValue): \(p)]", volatile: false)
            case .display: return nil
            }
        }
    }
}
