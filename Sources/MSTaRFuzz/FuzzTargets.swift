import Foundation

/// Every fuzz harness by name: what `scripts/fuzz` builds (one libFuzzer executable each, under
/// Fuzz/entry) and what the corpus replay test runs over Fuzz/corpus/NAME and Fuzz/crashers/NAME.
///
/// A harness takes any bytes and returns normally: decoders may throw (the harness catches it),
/// but a trap, a sanitizer report, a hang or a huge allocation is a bug in the decoder.
public enum FuzzTargets {
    /// The harnesses, in the order the script runs them.
    public static let all: [(name: String, run: @Sendable (Data) -> Void)] = [
        ("lexer", LexerHarness.run),
        ("script", ScriptHarness.run),
        ("notebook", NotebookHarness.run),
        ("safetensors", SafeTensorsHarness.run),
        ("checkpoint", CheckpointHarness.run),
        ("jsonl", JSONLHarness.run),
        ("png", PNGHarness.run),
        ("dataset", DatasetHarness.run),
        ("answer", AnswerHarness.run),
    ]

    /// The harness called `name`.
    public static func harness(_ name: String) -> (@Sendable (Data) -> Void)? {
        all.first { $0.name == name }?.run
    }
}

/// A harness's own scratch directory, fresh for each process (libFuzzer's jobs run side by side).
func scratchDirectory(_ purpose: String) -> String {
    let path = FileManager.default.temporaryDirectory
        .appendingPathComponent("mstar-fuzz-\(purpose)-\(ProcessInfo.processInfo.processIdentifier)").path
    try? FileManager.default.removeItem(atPath: path)
    do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) } catch {
        fatalError("fuzz harness: cannot create \(path): \(error)")
    }
    return path
}

/// The repository's Fuzz/ folder, found from this file's path (the harnesses run from a checkout).
let fuzzFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fuzz")
