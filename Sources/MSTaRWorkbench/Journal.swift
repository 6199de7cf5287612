import Foundation

/// The session journal (`session.mstar` in the run directory): every completed command with all
/// parameters resolved and its output, in script format, so it replays on its own.
/// Each entry is written with one write(2) and fsync'd before the command is reported done.
public final class Journal {
    /// Where it is written; nil keeps it in memory only.
    public let path: String?
    /// Everything written so far (what `save session` copies).
    public private(set) var text: String = ""
    /// Entries written after the preamble.
    public private(set) var entries: Int = 0

    private var fd: Int32 = -1
    private var needsCellMarker = true
    private let preamble: () -> [(command: String, output: [OutputLine])]

    /// The lines every journal starts with.
    public static let header = [
        "# mstar session journal: every completed command, all parameters resolved.",
        "# Replay it with: mstar run session.mstar --verify",
    ]

    /// A journal at `path`, created (truncated) on the first entry; `preamble` gives the commands
    /// written before it (pinned settings).
    public init(path: String?, preamble: @escaping () -> [(command: String, output: [OutputLine])] = { [] }) {
        self.path = path
        self.preamble = preamble
    }

    deinit { if fd >= 0 { close(fd) } }

    /// The next entry starts a new code cell.
    public func beginCell() { needsCellMarker = true }

    /// Appends a command and its output, and flushes it to disk.
    public func record(command: String, output: [OutputLine]) throws {
        try write(opening() + entryText(command, output))
        entries += 1
    }

    /// Appends a comment line (`# ...`), e.g. where an included file's commands begin.
    public func note(_ comment: String) throws {
        try write(opening() + "# " + comment + "\n")
    }

    /// The header (first time) and a cell marker (when a new cell is due) to write before an entry.
    private func opening() -> String {
        var chunk = ""
        if text.isEmpty {
            chunk += Journal.header.joined(separator: "\n") + "\n"
            let pre = preamble()
            if !pre.isEmpty {
                chunk += "\n" + Script.cellMarker + " pinned settings\n"
                for p in pre { chunk += entryText(p.command, p.output) }
            }
            needsCellMarker = true
        }
        if needsCellMarker {
            chunk += "\n" + Script.cellMarker + "\n"
            needsCellMarker = false
        }
        return chunk
    }

    private func entryText(_ command: String, _ output: [OutputLine]) -> String {
        ([command] + output.map(\.raw)).joined(separator: "\n") + "\n"
    }

    private func write(_ chunk: String) throws {
        text += chunk
        guard let path else { return }
        if fd < 0 {
            let dir = (path as NSString).deletingLastPathComponent
            if !dir.isEmpty { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
            fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0o644)
            guard fd >= 0 else { throw WorkbenchError("cannot write the journal \(path): \(String(cString: strerror(errno)))") }
        }
        let bytes = Array(chunk.utf8)
        let written = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count else { throw WorkbenchError("cannot write the journal \(path): \(String(cString: strerror(errno)))") }
        fsync(fd)  // a completed command must survive the process dying right after
    }
}
