import Foundation

/// Runs a program with text on stdin and collects stdout and stderr (both drained concurrently,
/// so a chatty program cannot fill a pipe and stall).
public enum Subprocess {
    /// How the program ended and what it wrote.
    public struct Result: Sendable {
        /// Its exit status.
        public var status: Int32
        /// What it wrote to standard output and to standard error.
        public var stdout: String, stderr: String
    }

    private final class Box: @unchecked Sendable {
        var data = Data()
    }

    /// Runs `executable` (a path) with `arguments`, writing `input` to its standard input.
    public static func run(_ executable: String, _ arguments: [String], input: String = "") throws -> Result {
        signal(SIGPIPE, SIG_IGN)  // a program that exits early must not take us down with it
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        let inPipe = Pipe(), outPipe = Pipe(), errPipe = Pipe()
        p.standardInput = inPipe
        p.standardOutput = outPipe
        p.standardError = errPipe
        do { try p.run() } catch { throw WorkbenchError("cannot start \(executable): \(error.localizedDescription)") }
        let out = Box(), err = Box()
        let group = DispatchGroup()
        for (pipe, box) in [(outPipe, out), (errPipe, err)] {
            let handle = pipe.fileHandleForReading
            DispatchQueue.global().async(group: group) { box.data = handle.readDataToEndOfFile() }
        }
        try? inPipe.fileHandleForWriting.write(contentsOf: Data(input.utf8))
        try? inPipe.fileHandleForWriting.close()
        group.wait()
        p.waitUntilExit()
        return Result(status: p.terminationStatus, stdout: String(decoding: out.data, as: UTF8.self),
                      stderr: String(decoding: err.data, as: UTF8.self))
    }
}
