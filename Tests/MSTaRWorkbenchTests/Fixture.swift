import Foundation
import MSTaRWorkbench

/// Shared helpers: temporary run directories, sessions, and running external programs.
enum Fixture {
    /// A fresh empty temporary directory.
    static func tempDir(_ name: String) throws -> String {
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("mstar-workbench-tests-\(name)-\(ProcessInfo.processInfo.processIdentifier)").path
        try? FileManager.default.removeItem(atPath: path)
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// A headless session writing into a fresh run directory, reading inputs from `inputs`.
    static func session(_ name: String, mode: Session.Mode = .headless, inputs: String? = nil) throws -> Session {
        let dir = try tempDir(name)
        return Session(runDirectory: dir + "/run", mode: mode, inputDirectory: inputs ?? dir)
    }

    /// A headless session with the method's settings and commands registered.
    static func engineSession(_ name: String) throws -> Session {
        let s = try session(name)
        EngineCommands.register(in: s)
        return s
    }

    /// Runs `line` and returns its recorded output lines' text (and the error line when it failed).
    @discardableResult
    static func run(_ s: Session, _ line: String) -> [String] {
        s.execute(line).recordedLines.map(\.text)
    }

    /// Writes a synthetic dynamics.jsonl: greedy_acc rises 0.30 -> 0.55, pass_at_k falls 0.80 -> 0.65.
    static func writeDynamics(_ path: String, steps: Int = 6) throws {
        var text = ""
        for s in 0..<steps {
            text += "{\"step\":\(s),\"greedy_acc\":\(0.3 + 0.05 * Double(s)),\"pass_at_k\":\(0.8 - 0.03 * Double(s)),"
                + "\"temperature\":1.0,\"per_family\":{\"counting\":\(0.5 + 0.1 * Double(s))}}\n"
        }
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    }

    /// Runs a program found on PATH; returns (exit status, stdout, stderr), or nil if it cannot start.
    static func run(_ program: String, _ args: [String]) -> (Int32, String, String)? {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [program] + args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        do { try p.run() } catch { return nil }
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    static let hasGnuplot = Gnuplot.locate() != nil
    static let hasNbformat = run("python3", ["-c", "import nbformat"])?.0 == 0

    /// PNG width and height from the IHDR chunk.
    static func pngSize(_ bytes: [UInt8]) -> (Int, Int)? {
        guard bytes.count > 24, Array(bytes[12..<16]) == Array("IHDR".utf8) else { return nil }
        func be(_ i: Int) -> Int { bytes[i..<i + 4].reduce(0) { $0 << 8 | Int($1) } }
        return (be(16), be(20))
    }
}
