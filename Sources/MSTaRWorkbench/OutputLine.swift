/// One recorded output line in a script: `#> text`, or `#>~ text` for volatile output that
/// `--verify` ignores. The raw line is kept so scripts round-trip byte for byte.
public struct OutputLine: Equatable, Sendable {
    /// The line exactly as written in the script.
    public var raw: String

    /// A line read from a script.
    public init(raw: String) { self.raw = raw }

    /// The line a command's output is recorded as (trailing whitespace dropped: editors strip it).
    /// Control characters are written as `\u{...}`: a line break inside recorded output would
    /// otherwise start a line the script reader takes for a command.
    public init(text: String, volatile: Bool) {
        let prefix = volatile ? OutputLine.volatilePrefix : OutputLine.prefix
        var visible = String.UnicodeScalarView()
        for u in text.unicodeScalars {
            if u.properties.generalCategory == .control && u != "\t" || u == "\u{2028}" || u == "\u{2029}" {
                visible.append(contentsOf: "\\u{\(String(u.value, radix: 16))}".unicodeScalars)
            } else {
                visible.append(u)
            }
        }
        var body = Substring(String(visible))
        while let last = body.last, last == " " || last == "\t" { body = body.dropLast() }
        raw = body.isEmpty ? prefix : prefix + " " + body
    }

    /// The marker of recorded output.
    public static let prefix = "#>"
    /// The marker of volatile output.
    public static let volatilePrefix = "#>~"

    /// True when a script line is recorded output.
    public static func isOutput(_ line: String) -> Bool { line.hasPrefix(prefix) }

    /// True for volatile output (timings, rates): recorded but not compared.
    public var volatile: Bool { raw.hasPrefix(OutputLine.volatilePrefix) }

    /// The output text without its marker (and the one space after it); trailing whitespace dropped.
    public var text: String {
        var s = Substring(raw.dropFirst(volatile ? 3 : 2))
        if s.first == " " { s = s.dropFirst() }
        while let last = s.last, last == " " || last == "\t" || last == "\r" { s = s.dropLast() }
        return String(s)
    }

    /// For `[plot: PATH]` and `[image: PATH]` lines: what it shows and where (relative to the run directory).
    public var image: (kind: CommandOutput.ImageKind, path: String)? {
        let t = text
        for kind in [CommandOutput.ImageKind.plot, .image] {
            let open = "[\(kind.rawValue): "
            if t.hasPrefix(open), t.hasSuffix("]") {
                return (kind, String(t.dropFirst(open.count).dropLast()))
            }
        }
        return nil
    }
}
