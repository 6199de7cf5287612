import MSTaRWorkbench

/// Completion, inspection and the multi-line check, answered from the same declarations the REPL
/// completes and `help` prints from.
public enum Introspection {
    /// complete_request: the word before the cursor completed as Tab completes it at the prompt
    /// (commands, subcommands, options, choices, settings, metrics, recipes, paths).
    public static func complete(_ content: [String: Any], session: Session) -> [String: Any] {
        let (line, lineStart, cursor) = lineBeforeCursor(content)
        let c = Completer.complete(line, session: session)
        return ["status": "ok", "matches": c.candidates, "cursor_start": lineStart + c.start, "cursor_end": cursor,
                "metadata": [String: Any]()]
    }

    /// inspect_request: `help COMMAND` for the command on the cursor's line, and the summary of a
    /// setting or metric named at the cursor.
    public static func inspect(_ content: [String: Any], session: Session) -> [String: Any] {
        let (before, _, _) = lineBeforeCursor(content)
        let line = before + restOfLine(content)
        var text: [String] = []
        if case .words(let words) = Lexer.split(line), !words.isEmpty, let (spec, _) = try? session.registry.match(words.map(\.text)) {
            text = Help.command(spec, session: session)
            // The word under the cursor, when it names a setting or a metric.
            let cursor = before.unicodeScalars.count
            if let word = words.last(where: { $0.start <= cursor }) {
                let name = word.text.hasPrefix("--") ? String(word.text.dropFirst(2)) : word.text
                if let setting = session.settings.spec(name) {
                    text = ["setting \(name): \(setting.summary)" + (session.settings.value(name).map { " (now \($0.plain))" } ?? ""), ""] + text
                } else if let metric = session.metric(name) {
                    text = ["metric \(name) (\(metric.label)): \(metric.summary)", ""] + text
                }
            }
        }
        var reply: [String: Any] = ["status": "ok", "found": !text.isEmpty, "metadata": [String: Any]()]
        let data: [String: Any] = text.isEmpty ? [:] : ["text/plain": text.joined(separator: "\n")]
        reply["data"] = data
        return reply
    }

    /// is_complete_request: incomplete while a quote is open or the last line ends with `\`, as the
    /// REPL's continuation prompt; complete otherwise (a wrong command is reported when it runs).
    public static func isComplete(_ content: [String: Any]) -> [String: Any] {
        let code = content["code"] as? String ?? ""
        var assembler = LineAssembler()
        for line in Script.lines(code) {
            if !assembler.isPending && Script.isBlankOrComment(line) { continue }
            _ = assembler.feed(line)
        }
        return assembler.isPending ? ["status": "incomplete", "indent": ""] : ["status": "complete"]
    }

    /// The cursor's line up to the cursor, where that line starts in the cell, and the cursor, all
    /// in Unicode scalars (Jupyter's cursor_pos counts code points since protocol 5.2).
    static func lineBeforeCursor(_ content: [String: Any]) -> (line: String, start: Int, cursor: Int) {
        let scalars = Array((content["code"] as? String ?? "").unicodeScalars)
        let cursor = min(max(content["cursor_pos"] as? Int ?? scalars.count, 0), scalars.count)
        let start = scalars[..<cursor].lastIndex(of: "\n").map { $0 + 1 } ?? 0
        return (String(String.UnicodeScalarView(scalars[start..<cursor])), start, cursor)
    }

    /// The cursor's line from the cursor to its end.
    static func restOfLine(_ content: [String: Any]) -> String {
        let scalars = Array((content["code"] as? String ?? "").unicodeScalars)
        let cursor = min(max(content["cursor_pos"] as? Int ?? scalars.count, 0), scalars.count)
        let end = scalars[cursor...].firstIndex(of: "\n") ?? scalars.count
        return String(String.UnicodeScalarView(scalars[cursor..<end]))
    }
}
