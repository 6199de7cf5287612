import Foundation

/// A shell command with `{name}` placeholders (`trainer command`, `restart_command`), each
/// replaced by its value quoted for the POSIX shell, so that a value (a path from a shared script,
/// a model name) is one word and nothing in it is run: `$(...)`, backquotes, `;` and quotes stay text.
/// `{{` and `}}` are literal braces.
public struct CommandTemplate: Sendable, Equatable {
    /// The template as written.
    public let text: String
    /// Its placeholders, in order of first use.
    public let names: [String]

    /// Parses `text`, refusing an unknown or unclosed placeholder in one line that starts with `what`.
    public init(_ text: String, allowed: [String], what: String) throws {
        var names: [String] = []
        var i = text.startIndex
        while i < text.endIndex {
            let c = text[i]
            let next = text.index(after: i)
            if c == "{" || c == "}", next < text.endIndex, text[next] == c { i = text.index(after: next); continue }
            if c == "}" { throw TrainerError("\(what) has a lone }; write }} for a brace") }
            if c == "{" {
                guard let close = text[next...].firstIndex(of: "}") else { throw TrainerError("\(what) has an unclosed {; write {{ for a brace") }
                let name = String(text[next..<close])
                guard allowed.contains(name) else {
                    throw TrainerError("\(what) names {\(name)}; the placeholders are " + allowed.map { "{\($0)}" }.joined(separator: " "))
                }
                if !names.contains(name) { names.append(name) }
                i = text.index(after: close)
                continue
            }
            i = next
        }
        self.text = text
        self.names = names
    }

    /// The command with every placeholder replaced by its quoted value (a missing one by `''`).
    public func render(_ values: [String: String]) -> String {
        var out = ""
        var i = text.startIndex
        while i < text.endIndex {
            let c = text[i]
            let next = text.index(after: i)
            if c == "{" || c == "}", next < text.endIndex, text[next] == c { out.append(c); i = text.index(after: next); continue }
            if c == "{", let close = text[next...].firstIndex(of: "}") {
                out += Self.quote(values[String(text[next..<close])] ?? "")
                i = text.index(after: close)
                continue
            }
            out.append(c)
            i = next
        }
        return out
    }

    /// `s` as one word for the POSIX shell: single quotes, inside which nothing is special, with
    /// each `'` written as `'\''`.
    public static func quote(_ s: String) -> String {
        "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// A command line for people to read and paste: words that need it quoted.
    public static func display(_ argv: [String]) -> String {
        argv.map { w in
            !w.isEmpty && w.unicodeScalars.allSatisfy({ $0.isASCII && ($0.properties.isAlphabetic || $0.properties.numericType != nil || "-_./=:,+@%".unicodeScalars.contains($0)) })
                ? w : quote(w)
        }.joined(separator: " ")
    }
}
