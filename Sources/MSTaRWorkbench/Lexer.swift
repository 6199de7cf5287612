/// Splits one command into words: whitespace separates, quotes group, `#` starts a comment,
/// a backslash escapes the next character and a trailing backslash continues on the next line.
public enum Lexer {
    /// The result of reading some text as a command.
    public enum Result: Equatable, Sendable {
        /// The words of a complete command (empty for a blank or comment-only line).
        case words([Word])
        /// More lines are needed: an open quote or a trailing backslash.
        case incomplete(reason: String)
    }

    /// One word of a command, and whether any of it was quoted (a quoted `--x` is not an option).
    public struct Word: Equatable, Sendable {
        /// The text after quotes and escapes are removed.
        public var text: String
        /// True when part of the word came from quotes or escapes.
        public var quoted: Bool
        /// Offset of the word's first Unicode scalar in the input (for completion).
        public var start: Int

        /// A word with the given text.
        public init(_ text: String, quoted: Bool = false, start: Int = 0) {
            self.text = text
            self.quoted = quoted
            self.start = start
        }
    }

    /// Reads `text` (possibly several lines) as one command. It reads Unicode scalars, not
    /// Characters: a combining mark after a quote makes one Character of the two, which would hide
    /// the quote (and `"\r\n"` is one Character, equal to neither `"\r"` nor `"\n"`).
    public static func split(_ text: String) -> Result {
        var words: [Word] = []
        var current = String.UnicodeScalarView()
        var inWord = false, quoted = false, wordStart = 0
        var quote: Unicode.Scalar? = nil
        let chars = Array(text.unicodeScalars)
        var i = 0
        func finish() {
            if inWord { words.append(Word(String(current), quoted: quoted, start: wordStart)) }
            current = String.UnicodeScalarView()
            inWord = false
            quoted = false
        }
        func begin() {
            if !inWord { inWord = true; wordStart = i }
        }
        while i < chars.count {
            let c = chars[i]
            if let q = quote {
                if c == q {
                    quote = nil
                } else if c == "\\" && q == "\"" && i + 1 < chars.count {
                    i += 1
                    switch chars[i] {
                    case "n": current.append("\n")
                    case "t": current.append("\t")
                    case "r": current.append("\r")
                    default: current.append(chars[i])
                    }
                } else {
                    current.append(c)
                }
                i += 1
                continue
            }
            switch c {
            case " ", "\t", "\r", "\n":
                finish()
            case "\"", "'":
                begin()
                quoted = true
                quote = c
            case "\\":
                // A line ending (LF or CR LF) after the backslash continues the command.
                let crlf = chars.count > i + 1 && chars[i + 1] == "\r"
                if i + 1 == chars.count || (crlf && i + 2 == chars.count) { return .incomplete(reason: "line ends with a backslash") }
                if chars[i + 1] == "\n" || (crlf && chars[i + 2] == "\n") {  // line continuation: acts as a space
                    finish()
                    i += crlf ? 2 : 1
                } else {
                    begin()
                    quoted = true
                    i += 1
                    current.append(chars[i])
                }
            case "#" where !inWord:
                // A comment runs to the end of its line.
                while i < chars.count && chars[i] != "\n" { i += 1 }
                continue
            default:
                begin()
                current.append(c)
            }
            i += 1
        }
        if quote != nil { return .incomplete(reason: "a quote is still open") }
        finish()
        return .words(words)
    }

    /// True when `text` needs more lines before it is a whole command.
    public static func isIncomplete(_ text: String) -> Bool {
        if case .incomplete = split(text) { return true }
        return false
    }

    /// `s` as one word the lexer reads back unchanged: bare when safe, else in double quotes.
    public static func quoteIfNeeded(_ s: String) -> String {
        let special: Set<Unicode.Scalar> = [" ", "\t", "\n", "\r", "\"", "'", "\\", "#"]
        if !s.isEmpty && !s.unicodeScalars.contains(where: { special.contains($0) }) { return s }
        // By scalar: Swift's "\r\n" is one Character, equal to neither "\r" nor "\n".
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }
}

extension Lexer.Result {
    /// The first two words' text (fewer for shorter or incomplete commands): enough to tell `set KEY`.
    public var firstWords: [String] {
        guard case .words(let w) = self else { return [] }
        return w.prefix(2).map(\.text)
    }
}
