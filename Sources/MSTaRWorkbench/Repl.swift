import Foundation

/// The interactive loop of `mstar`: read a command (libedit on a terminal, plain lines otherwise),
/// run it in the session, print its output; Ctrl-C stops a running command at its next safe point.
public final class Repl {
    /// The session commands run in.
    public let session: Session
    private let historyPath: String?
    private let interactive: Bool
    private let write: (String) -> Void

    /// A REPL for `session`; `interactive` defaults to whether stdin is a terminal.
    public init(session: Session, historyPath: String? = LineEditor.defaultHistoryPath(), interactive: Bool? = nil,
                write: @escaping (String) -> Void = { FileHandle.standardOutput.write(Data($0.utf8)) }) {
        self.session = session
        self.historyPath = historyPath
        self.interactive = interactive ?? (isatty(STDIN_FILENO) == 1)
        self.write = write
    }

    /// Runs until quit or end of input; returns the exit status (non-interactive: 1 when a command
    /// failed, 130 when Ctrl-C stopped one: piped commands stop there).
    public func run() -> Int32 {
        Interrupt.install()
        return interactive ? runInteractive() : runPlain()
    }

    private func runInteractive() -> Int32 {
        let editor = LineEditor(historyPath: historyPath) { [session] in Completer.complete($0, session: session) }
        write("mstar workbench: help lists the commands, Tab completes, Ctrl-D or quit exits.\n")
        write("journal: \((session.runDirectory as NSString).appendingPathComponent(Session.journalName))\n")
        var assembler = LineAssembler()
        while true {
            switch editor.read(continuation: assembler.isPending) {
            case .endOfInput:
                write("\n")
                return 0
            case .cancelled:
                assembler.reset()
            case .line(let line):
                editor.remember(line)
                guard let text = assembler.feed(line) else { continue }
                if runOne(text) { return 0 }
            }
        }
    }

    private func runPlain() -> Int32 {
        var assembler = LineAssembler()
        var failed = false
        var number = 0, firstLine = 1
        while let line = readLine(strippingNewline: true) {
            number += 1
            if !assembler.isPending { firstLine = number }
            guard let text = assembler.feed(line) else { continue }
            let before = failedCount
            if runOne(text) { return failed ? 1 : 0 }
            if lastStatus == .interrupted { return 130 }
            failed = failed || failedCount > before
        }
        // Input that ends inside a command (an open quote, a trailing backslash) would otherwise
        // swallow every line after the quote without a word.
        if assembler.isPending, case .incomplete(let reason) = Lexer.split(assembler.reset()) {
            write("error: the input ends inside the command that starts on line \(firstLine): \(reason)\n")
            return 1
        }
        return failed ? 1 : 0
    }

    private var failedCount = 0
    private var lastStatus: Execution.Status = .empty

    /// Runs one command and prints what it produced; returns true when the session should end.
    private func runOne(_ text: String) -> Bool {
        Interrupt.clear()
        let ex = session.execute(text)
        write(Repl.render(ex, runDirectory: session.runDirectory))
        if ex.status == .failed { failedCount += 1 }
        lastStatus = ex.status
        return ex.quit
    }

    /// The text the REPL prints for an execution.
    public static func render(_ ex: Execution, runDirectory: String) -> String {
        var out = ""
        for item in ex.output.items {
            switch item {
            case .text(let s), .volatile(let s): out += s + "\n"
            case .image(let p, let k):
                let shown = p.hasPrefix("/") ? p : (runDirectory as NSString).appendingPathComponent(p)
                out += "[\(k.rawValue): \(shown)]\n"
            case .display(let s): out += s.hasSuffix("\n") ? s : s + "\n"
            }
        }
        if let e = ex.error { out += "error: \(e)\n" }
        if ex.status == .interrupted { out += "interrupted\n" }
        return out
    }
}
