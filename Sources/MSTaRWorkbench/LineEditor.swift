import CEditLine
import Foundation

/// Line editing at the prompt with libedit: emacs keys, history kept in a file across restarts,
/// tab completion, and Ctrl-C that clears the line being typed.
public final class LineEditor {
    /// What one read returned.
    public enum Input: Equatable, Sendable {
        /// A line (without its newline).
        case line(String)
        /// Ctrl-C while typing: the line was dropped.
        case cancelled
        /// Ctrl-D on an empty line, or the end of input.
        case endOfInput
    }

    /// Where history is kept: $MSTAR_HISTORY, else $XDG_DATA_HOME/mstar/history, else ~/.local/share/mstar/history.
    public static func defaultHistoryPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let p = environment["MSTAR_HISTORY"], !p.isEmpty { return p }
        if let xdg = environment["XDG_DATA_HOME"], !xdg.isEmpty { return xdg + "/mstar/history" }
        let home = environment["HOME"] ?? NSHomeDirectory()
        return home + "/.local/share/mstar/history"
    }

    /// The completion function: text before the cursor to candidates.
    public var complete: (String) -> Completer.Completion

    private let el: OpaquePointer
    private let hist: OpaquePointer
    private let historyPath: String?
    private let prompt: UnsafeMutablePointer<CChar>
    private let continuationPrompt: UnsafeMutablePointer<CChar>
    private var continuing = false
    private var cancelled = false

    /// An editor on the terminal (stdin/stdout) with `prompt`; history is loaded from `historyPath`.
    public init(program: String = "mstar", prompt: String = "mstar> ", continuationPrompt: String = "   ...> ",
                historyPath: String?, complete: @escaping (String) -> Completer.Completion) {
        self.historyPath = historyPath
        self.complete = complete
        self.prompt = strdup(prompt)
        self.continuationPrompt = strdup(continuationPrompt)
        el = el_init(program, fdopen(STDIN_FILENO, "r"), fdopen(STDOUT_FILENO, "w"), fdopen(STDERR_FILENO, "w"))
        hist = history_init()
        mstar_history_setsize(hist, 2000)
        mstar_history_setunique(hist, 1)
        if let historyPath { mstar_history_load(hist, historyPath) }
        mstar_el_set_history(el, hist)
        mstar_el_set_editor(el, "emacs")
        mstar_el_set_signal(el, 1)  // libedit restores the terminal on signals and follows window resizes
        mstar_el_set_clientdata(el, Unmanaged.passUnretained(self).toOpaque())
        mstar_el_set_prompt(el) { el in
            let me = LineEditor.owner(el)
            return me.continuing ? me.continuationPrompt : me.prompt
        }
        // Ctrl-C while typing arrives as a key (not SIGINT) so it can drop the line; commands still get SIGINT.
        mstar_el_setty(el, "-d", "-isig")
        mstar_el_add_function(el, "mstar-cancel", "drop the line being typed") { el, _ in
            LineEditor.owner(el!).cancelled = true
            // Show "^C" at the end of the line, then end it as Enter would; read() drops it.
            if let info = el_line(el)?.pointee { el_cursor(el, Int32(info.lastchar - info.cursor)) }
            el_insertstr(el, "^C")
            el_push(el, "\n")
            return UInt8(CC_REFRESH)
        }
        mstar_el_bind(el, "^C", "mstar-cancel")
        mstar_el_add_function(el, "mstar-complete", "complete the word before the cursor") { el, _ in
            LineEditor.owner(el!).completeWord()
        }
        mstar_el_bind(el, "^I", "mstar-complete")
    }

    deinit {
        el_end(el)
        history_end(hist)
        free(prompt)
        free(continuationPrompt)
    }

    private static func owner(_ el: OpaquePointer?) -> LineEditor {
        Unmanaged<LineEditor>.fromOpaque(mstar_el_get_clientdata(el)!).takeUnretainedValue()
    }

    /// Reads one line; `continuation` shows the continuation prompt (a command spanning lines).
    public func read(continuation: Bool = false) -> Input {
        continuing = continuation
        cancelled = false
        var count: Int32 = 0
        // libedit draws the prompt before it switches the terminal to raw mode; switching first
        // means a key pressed as soon as the prompt shows (Ctrl-D, Ctrl-C) reaches the editor.
        mstar_el_prep_term(el, 1)
        guard let raw = el_gets(el, &count), count > 0 else {
            if cancelled { return .cancelled }
            return .endOfInput
        }
        if cancelled { return .cancelled }
        var line = String(cString: raw)
        if line.hasSuffix("\n") { line.removeLast() }
        return .line(line)
    }

    /// Adds a line to the history and saves the history file at once (so it survives a crash).
    public func remember(_ line: String) {
        guard !line.allSatisfy(\.isWhitespace) else { return }
        mstar_history_enter(hist, line)
        guard let historyPath else { return }
        let dir = (historyPath as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        mstar_history_save(hist, historyPath)
    }

    /// The tab key: complete the word, or list the choices when it is ambiguous.
    private func completeWord() -> UInt8 {
        guard let info = el_line(el)?.pointee else { return UInt8(CC_ERROR) }
        let before = String(decoding: UnsafeRawBufferPointer(start: info.buffer, count: info.cursor - info.buffer)
            .bindMemory(to: UInt8.self), as: UTF8.self)
        let c = complete(before)
        if c.candidates.isEmpty { return UInt8(CC_REFRESH_BEEP) }
        let typed = before.unicodeScalars.count - c.start
        if c.candidates.count == 1 {
            let only = c.candidates[0]
            replace(typed, with: only + (only.hasSuffix("/") || only.hasSuffix("=") ? "" : " "))
            return UInt8(CC_REFRESH)
        }
        let common = Completer.commonPrefix(c.candidates)
        if common.count > c.word.count {
            replace(typed, with: common)
            return UInt8(CC_REFRESH)
        }
        // Ambiguous: list the choices in columns under the line, then redraw the prompt.
        let width = (c.candidates.map(\.count).max() ?? 0) + 2
        let perRow = max(1, TerminalSize.current().columns / width)
        var text = "\n"
        for (i, cand) in c.candidates.enumerated() {
            text += cand.padding(toLength: width, withPad: " ", startingAt: 0)
            if (i + 1) % perRow == 0 || i == c.candidates.count - 1 { text += "\n" }
        }
        FileHandle.standardOutput.write(Data(text.utf8))
        return UInt8(CC_REDISPLAY)
    }

    private func replace(_ count: Int, with text: String) {
        if count > 0 { el_deletestr(el, Int32(count)) }
        el_insertstr(el, Lexer.quoteIfNeeded(text.trimmingCharacters(in: .whitespaces)) + (text.hasSuffix(" ") ? " " : ""))
    }
}
