import Foundation

/// Tab completion: command names, subcommands, option names, option and argument values
/// (choices, setting keys, metrics, recipes) and file paths, from the declarations.
public enum Completer {
    /// What to complete: the word starting at `start` (a Unicode scalar offset) becomes one of `candidates`.
    public struct Completion: Equatable, Sendable {
        /// Unicode scalar offset where the word being completed starts.
        public var start: Int
        /// The word typed so far.
        public var word: String
        /// Full replacements for the word, sorted.
        public var candidates: [String]
    }

    /// Completions for the end of `line` (the text before the cursor).
    public static func complete(_ line: String, session: Session) -> Completion {
        guard case .words(var words) = Lexer.split(line) else {
            return Completion(start: line.unicodeScalars.count, word: "", candidates: [])
        }
        let atNewWord = line.isEmpty || line.last!.isWhitespace
        let current = atNewWord ? Lexer.Word("", start: line.unicodeScalars.count) : words.removeLast()
        func done(_ all: [String]) -> Completion {
            Completion(start: current.start, word: current.text,
                       candidates: Array(Set(all.filter { $0.hasPrefix(current.text) })).sorted())
        }
        let prior = words.map(\.text)
        let names = session.registry.names.map { $0.split(separator: " ").map(String.init) }

        // Words of command names that can come next after `prior`.
        func nextNameWords(_ prior: [String]) -> [String] {
            names.filter { $0.count > prior.count && Array($0.prefix(prior.count)) == prior }.map { $0[prior.count] }
        }
        if prior.isEmpty { return done(nextNameWords([])) }
        guard let (spec, used) = try? session.registry.match(prior) else { return done(nextNameWords(prior)) }
        let longer = used == prior.count ? nextNameWords(prior) : []

        if spec.name == "help" { return done(nextNameWords(Array(prior.dropFirst()))) }
        let args = Array(words.dropFirst(used))

        // `--name=partial`
        if current.text.hasPrefix("--"), let eq = current.text.firstIndex(of: "=") {
            let name = String(current.text[current.text.index(current.text.startIndex, offsetBy: 2)..<eq])
            guard let opt = spec.option(name) else { return done([]) }
            let head = "--\(name)="
            let partial = String(current.text[current.text.index(after: eq)...])
            return done(values(for: opt.type, partial: partial, session: session).map { head + $0 })
        }
        if current.text.hasPrefix("-") { return done(spec.options.map { "--" + $0.name }) }
        if let last = args.last, !last.quoted, last.text.hasPrefix("--"), !last.text.contains("="),
           let opt = spec.option(String(last.text.dropFirst(2))), opt.type != .flag {
            return done(values(for: opt.type, partial: current.text, session: session))
        }
        // Positional: count the positional words before the current one.
        var index = 0, i = 0
        while i < args.count {
            let w = args[i]
            if !w.quoted, w.text.hasPrefix("--"), w.text.count > 2 {
                let n = String(w.text.dropFirst(2))
                if !n.contains("="), let o = spec.option(n), o.type != .flag { i += 1 }
            } else {
                index += 1
            }
            i += 1
        }
        var type: ValueType? = nil
        if spec.name == "set", index == 1, let key = args.first?.text { type = session.settings.spec(key)?.type }
        else if index < spec.arguments.count { type = spec.arguments[index].type }
        else if let last = spec.arguments.last, last.variadic { type = last.type }
        let fromArgs = type.map { values(for: $0, partial: current.text, session: session) } ?? []
        return done(fromArgs + (index == 0 ? longer : []))
    }

    /// Values of a type that start with `partial`.
    static func values(for type: ValueType, partial: String, session: Session) -> [String] {
        switch type {
        case .choice(let words): return words
        case .bool: return ["true", "false"]
        case .name(let v): return session.words(v)
        case .path, .outputPath: return paths(partial, session: session)
        case .list(let inner):
            let head = partial.range(of: ",", options: .backwards).map { String(partial[..<$0.upperBound]) } ?? ""
            let tail = String(partial.dropFirst(head.count))
            return values(for: inner, partial: tail, session: session).map { head + $0 }
        default: return []
        }
    }

    /// Files and folders (with a trailing /) whose path starts with `partial`.
    static func paths(_ partial: String, session: Session) -> [String] {
        let dirPart = partial.range(of: "/", options: .backwards).map { String(partial[..<$0.upperBound]) } ?? ""
        let base = String(partial.dropFirst(dirPart.count))
        let dir = dirPart.isEmpty ? session.inputPath(".") : session.inputPath(dirPart)
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return [] }
        return entries.filter { $0.hasPrefix(base) && (base.hasPrefix(".") || !$0.hasPrefix(".")) }.map { name in
            var isDir: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: (dir as NSString).appendingPathComponent(name), isDirectory: &isDir)
            return dirPart + name + (isDir.boolValue ? "/" : "")
        }
    }

    /// The longest common prefix of `words`.
    public static func commonPrefix(_ words: [String]) -> String {
        guard var prefix = words.first else { return "" }
        for w in words.dropFirst() {
            while !w.hasPrefix(prefix) { prefix.removeLast() }
        }
        return prefix
    }
}
