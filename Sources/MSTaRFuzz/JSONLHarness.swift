import Foundation
import MSTaRTasks

/// The JSONL importer, `JSONL.read`: any bytes as a data.jsonl file.
public enum JSONLHarness {
    /// Where the input is written: `JSONL.read` takes a path, and image paths are relative to it.
    /// Its images/ is the corpus's, so the seeds' image lines find their PNGs.
    static let file: String = {
        let dir = scratchDirectory("jsonl")
        let images = fuzzFolder.appendingPathComponent("corpus/jsonl/images").path
        try? FileManager.default.createSymbolicLink(atPath: dir + "/images", withDestinationPath: images)
        return dir + "/" + JSONL.fileName
    }()

    /// Imports `data` as a JSONL file, bad lines skipped. What imports must keep the importer's
    /// promises: no id twice, and bad lines reported once each, in file order.
    public static func run(_ data: Data) {
        guard FileManager.default.createFile(atPath: file, contents: data) else { fatalError("fuzz harness: cannot write \(file)") }
        guard let result = try? JSONL.read(file, onBadLine: .skip) else { return }
        if Set(result.examples.map(\.id)).count != result.examples.count {
            fatalError("JSONL.read imported an id twice: \(result.examples.map(\.id))")
        }
        let lines = result.badLines.map(\.line)
        if lines.first.map({ $0 < 1 }) == true || zip(lines, lines.dropFirst()).contains(where: { $0 >= $1 }) {
            fatalError("JSONL.read reported bad lines \(lines): not each once, in file order")
        }
    }
}
