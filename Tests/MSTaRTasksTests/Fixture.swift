import Foundation
import MSTaRTasks

/// Shared test data: the vendored digits (loaded once) and small suites.
enum Fixture {
    static let loaded: Result<DigitBank, any Error> = Result { try DigitBank.load() }

    static func bank() throws -> DigitBank { try loaded.get() }

    static let smallSizes = SplitSizes(captions: 40, text: 40, seed: 40, labelled: 80, unlabelled: 80,
                                       validation: 40, test: 80, ood: 40)

    static func suite(seed: UInt64 = 7, style: RenderStyle = .standard) throws -> TaskSuite {
        try TaskSuite(seed: seed, sizes: smallSizes, bank: try bank(), style: style)
    }

    /// A fresh empty temporary directory.
    static func tempDir(_ name: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("mstar-tasks-tests-\(name)-\(ProcessInfo.processInfo.processIdentifier)")
        try? FileManager.default.removeItem(at: url)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Runs a program found on PATH; returns (exit status, stdout, stderr), or nil if it cannot start.
    static func run(_ program: String, _ args: [String], stdin: Data? = nil) -> (Int32, String, String)? {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [program] + args
        let out = Pipe(), err = Pipe(), inp = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = inp
        do { try p.run() } catch { return nil }
        if let stdin { inp.fileHandleForWriting.write(stdin) }
        try? inp.fileHandleForWriting.close()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    static let hasPython: Bool = run("python3", ["-c", "import zlib, struct"])?.0 == 0
    static let hasFile: Bool = run("file", ["--version"])?.0 == 0
}
