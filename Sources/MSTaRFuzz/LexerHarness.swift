import Foundation
import MSTaRWorkbench

/// The command language: `Lexer.split`, then the registry's parser on a session with every engine
/// command, and the session built-ins that only read or set settings.
public enum LexerHarness {
    /// The commands run, not only parsed: they check values and change nothing outside the session.
    /// Everything else would train models or write files.
    static let harmless: Set<String> = ["help", "set", "show settings", "history", "seed"]

    /// The session commands are parsed against, made once: registering the engine's commands
    /// costs far more than parsing a line.
    nonisolated(unsafe) static let session = makeSession()
    /// The sessions' run directory (nothing is written there: they keep no journal).
    static let runDirectory = scratchDirectory("lexer")

    /// Lexes `data` as one command; a complete one is parsed, and run when it is harmless. Every
    /// word must read back unchanged after `Lexer.quoteIfNeeded`, which is how the journal writes
    /// values for a replay.
    public static func run(_ data: Data) {
        let text = String(decoding: data, as: UTF8.self)
        guard case .words(let words) = Lexer.split(text), !words.isEmpty else { return }
        for w in words {
            let quoted = Lexer.quoteIfNeeded(w.text)
            guard case .words(let again) = Lexer.split(quoted), again.count == 1, again[0].text.utf8.elementsEqual(w.text.utf8) else {
                fatalError("Lexer.quoteIfNeeded(\(w.text.debugDescription)) = \(quoted.debugDescription) does not read back as that word")
            }
        }
        guard let parsed = try? session.registry.parse(words, source: text, session: session) else { return }
        guard harmless.contains(parsed.name) else { return }
        // A fresh session each time: `set` and `seed` change settings, and history would grow
        // with every input, so a shared one would make an input's outcome depend on the ones before.
        _ = makeSession().execute(text)
    }

    private static func makeSession() -> Session {
        let s = Session(runDirectory: runDirectory, mode: .headless, journaling: false)
        EngineCommands.register(in: s)
        return s
    }
}
