import ArgumentParser
import Foundation
import MSTaRWorkbench

/// `mstar` (no arguments) or `mstar repl`: the interactive workbench.
struct ReplCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "repl",
        abstract: "The interactive workbench (what `mstar` with no arguments starts).",
        discussion: "Commands typed here are journaled to <run directory>/session.mstar. With stdin not a terminal, commands are read line by line.")

    @Option(help: "Run directory (default: runs/session-<date>-<time>).")
    var out: String?

    @Option(help: "History file (default: $MSTAR_HISTORY, else $XDG_DATA_HOME/mstar/history, else ~/.local/share/mstar/history).")
    var history: String?

    @Flag(help: "Let commands write outside the run directory (save, plot --out, data export).")
    var writeAnywhere = false

    @Flag(help: "Let the trainer and backend commands run an external trainer (TRL, LLaMA-Factory, ms-swift, a command) and a server restart command.")
    var allowTrainers = false

    func run() throws {
        let dir = out ?? "runs/session-" + Self.stamp()
        let interactive = isatty(STDIN_FILENO) == 1
        let session = try WorkbenchSetup.makeSession(runDirectory: dir, mode: interactive ? .interactive : .headless,
                                                     writeAnywhere: writeAnywhere, allowTrainers: allowTrainers)
        let status = Repl(session: session, historyPath: history ?? LineEditor.defaultHistoryPath(), interactive: interactive).run()
        if status != 0 { throw ExitCode(status) }
    }

    static func stamp() -> String {
        let f = DateFormatter()
        f.dateFormat = "yyyyMMdd-HHmmss"
        return f.string(from: Date())
    }
}
