import Foundation
import MSTaRTensor

/// Replays a session script in a session, headless: every command in order, each output compared
/// with (`verify`) or replacing (`update`) the one recorded below it.
public struct Replay {
    /// Why a replay stopped.
    public enum Failure: Error, Equatable, CustomStringConvertible {
        /// An output differs from the recorded one.
        case mismatch(location: String, command: String, expected: String, actual: String)
        /// A command failed where the script records no error.
        case commandFailed(location: String, command: String, message: String)
        /// An output differs where the recording's numbers depend on its CPU: a journal from before
        /// the numerics setting (`recorded` nil), or a script in `numerics openblas`.
        case numerics(location: String, command: String, recorded: String?)

        public var description: String {
            switch self {
            case .mismatch(let loc, let cmd, let expected, let actual):
                return "\(loc): output of '\(cmd)' differs\n  expected: \(expected)\n  actual:   \(actual)"
            case .commandFailed(let loc, let cmd, let message):
                return "\(loc): '\(cmd)' failed: \(message)"
            case .numerics(let loc, let cmd, let recorded?):
                return "\(loc): output of '\(cmd)' differs; the script computes with numerics \(recorded), whose bits are "
                    + "those of the recording CPU: replay it there, or re-record it with numerics portable (the same bits on every CPU)"
            case .numerics(let loc, let cmd, nil):
                return "\(loc): output of '\(cmd)' differs; the journal was recorded before the numerics setting, with its CPU's "
                    + "OpenBLAS kernels: re-record it with --update (numerics portable), or put `set numerics openblas` at its top "
                    + "to replay it as recorded on a CPU like the one that recorded it"
            }
        }
    }

    /// The script as read.
    public let script: Script
    /// The file name used in messages.
    public let file: String

    /// Compare each code cell's outputs as a whole, at the end of the cell, instead of each
    /// command's (notebooks, whose outputs belong to the cell). As in Jupyter, a command that fails
    /// ends its cell: accepted where the cell's recorded output holds an `error:` line.
    public var comparePerCell = false

    /// A replay of `script`, read from `file`.
    public init(script: Script, file: String) {
        self.script = script
        self.file = file
    }

    /// Runs every command; returns the script with the outputs just produced. With `verify`, throws
    /// `Failure.mismatch` at the first recorded output that differs (volatile `#>~` lines excepted).
    /// A command that fails throws `Failure.commandFailed` unless its recorded output is that error.
    /// `echo` receives each cell marker, line and new output as the script would show it.
    public func run(in session: Session, verify: Bool, echo: (String) -> Void = { _ in }) throws -> Script {
        var result = script
        // The numerics the script has set so far (journals pin it at their top); a journal without
        // it was written before the setting existed.
        var numerics: String? = nil
        let isJournal = script.render().hasPrefix(Journal.header[0])
        // A mismatch where the recording's numbers depend on its CPU says so instead.
        func explain(_ failure: Failure) -> Failure {
            guard case .mismatch(let location, let name, _, _) = failure else { return failure }
            if numerics == nil && isJournal { return Failure.numerics(location: location, command: name, recorded: nil) }
            if let numerics, numerics != NumericsMode.portable.rawValue {
                return Failure.numerics(location: location, command: name, recorded: numerics)
            }
            return failure
        }
        for (ci, cell) in script.cells.enumerated() {
            if let m = cell.marker { echo(m) }
            if cell.kind == .code { session.journal.beginCell() }
            let perCell = comparePerCell && cell.kind == .code
            let cellLocation = "\(file) cell \(ci + 1)"
            // Per cell: what ran, each line with the command that printed it; set once a failed command ends the cell.
            var cellActual: [(line: OutputLine, command: String)] = []
            var cellEnded = false
            for (ii, item) in cell.items.enumerated() {
                guard case .command(let command) = item, cell.kind == .code else {
                    if case .other(let line) = item { echo(line) }
                    continue
                }
                for l in command.lines { echo(l) }
                if cellEnded {
                    // Not run, as in Jupyter: no output.
                    var updated = command
                    updated.outputs = []
                    result.cells[ci].items[ii] = .command(updated)
                    continue
                }
                try Interrupt.check()
                Interrupt.clear()
                let ex = session.execute(command.text)
                if ex.status == .interrupted { throw Interrupted() }
                let actual = ex.recordedLines
                // The command on one line, for messages.
                let name = Self.oneLine(command.text)
                if perCell {
                    if ex.status == .failed {
                        guard cell.commands.flatMap(\.outputs).contains(where: { !$0.volatile && $0.text.hasPrefix("error:") }) else {
                            throw Failure.commandFailed(location: cellLocation, command: name, message: ex.error ?? "failed")
                        }
                        cellEnded = true
                    }
                    cellActual += actual.map { (line: $0, command: name) }
                } else {
                    let location = "\(file):\(command.line) (cell \(ci + 1))"
                    if ex.status == .failed, !(command.outputs.first { !$0.volatile }?.text.hasPrefix("error:") ?? false) {
                        throw Failure.commandFailed(location: location, command: name, message: ex.error ?? "failed")
                    }
                    if verify {
                        do { try compare(command, actual, name: name) } catch let failure as Failure { throw explain(failure) }
                    }
                }
                if case .words(let w) = Lexer.split(command.text), w.count == 3, w[0].text == "set", w[1].text == Session.numericsSetting {
                    numerics = w[2].text
                }
                for o in actual { echo(o.raw) }
                var updated = command
                updated.outputs = actual
                result.cells[ci].items[ii] = .command(updated)
            }
            if perCell && verify {
                do { try compareCell(cell, cellActual, location: cellLocation) } catch let failure as Failure { throw explain(failure) }
            }
        }
        return result
    }

    /// A command on one line, for messages.
    static func oneLine(_ text: String) -> String {
        text.replacingOccurrences(of: "\\\n", with: " ").split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
    }

    /// Throws at the first non-volatile line that differs between a cell's recorded outputs (all its
    /// commands', in order) and what its commands printed; the message names the command that printed
    /// (or should have printed) that line.
    func compareCell(_ cell: Script.Cell, _ actual: [(line: OutputLine, command: String)], location: String) throws {
        let expected = cell.commands.flatMap { c in c.outputs.map { ($0, Self.oneLine(c.text)) } }.filter { !$0.0.volatile }
        let got = actual.filter { !$0.line.volatile }
        for k in 0..<max(expected.count, got.count) {
            let e = k < expected.count ? expected[k].0.text : nil
            let a = k < got.count ? got[k].line.text : nil
            if e != a {
                throw Failure.mismatch(location: location, command: k < got.count ? got[k].command : expected[k].1,
                                       expected: e.map { "#> " + $0 } ?? "(no more output)",
                                       actual: a.map { "#> " + $0 } ?? "(no more output)")
            }
        }
    }

    /// Throws at the first non-volatile line that differs between the recorded and actual outputs.
    func compare(_ command: Script.Command, _ actual: [OutputLine], name: String) throws {
        // Line numbers of the recorded output lines, to point at the one that differs.
        let firstOutputLine = command.line + command.lines.count
        let expected = command.outputs.enumerated().filter { !$0.element.volatile }
        let got = actual.filter { !$0.volatile }
        for k in 0..<max(expected.count, got.count) {
            let e = k < expected.count ? expected[k].element.text : nil
            let a = k < got.count ? got[k].text : nil
            if e != a {
                let line = k < expected.count ? firstOutputLine + expected[k].offset : firstOutputLine + command.outputs.count
                throw Failure.mismatch(location: "\(file):\(line)", command: name,
                                       expected: e.map { "#> " + $0 } ?? "(no more output)",
                                       actual: a.map { "#> " + $0 } ?? "(no more output)")
            }
        }
    }

    /// Writes `text` to `path` atomically (a temporary file renamed over it), so an interrupted
    /// update never leaves half a script. The file keeps its permission bits.
    public static func writeAtomically(_ text: String, to path: String) throws {
        let dir = (path as NSString).deletingLastPathComponent
        let tmp = (dir.isEmpty ? "." : dir) + "/.\((path as NSString).lastPathComponent).\(getpid()).tmp"
        try Data(text.utf8).write(to: URL(fileURLWithPath: tmp))
        var st = stat()
        if stat(path, &st) == 0 { chmod(tmp, st.st_mode & 0o7777) }
        guard rename(tmp, path) == 0 else {
            unlink(tmp)
            throw WorkbenchError("cannot replace \(path): \(String(cString: strerror(errno)))")
        }
    }
}
