import ArgumentParser
import Crypto
import Foundation
import MSTaR
import MSTaRModel
import MSTaRTasks
import MSTaRTensor

/// `mstar probe`: the SHA-256 of every byte a fixed workload computes, part by part, so that two
/// machines (or kernels, thread counts, vector widths) can be compared by one line each.
struct ProbeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe",
        abstract: "Hash the bytes a fixed, seeded workload computes: equal hashes, equal numerics.",
        discussion: """
        On the shipped policy: a forward and a backward pass, three AdamW updates, 64 sampled responses with \
        log-probabilities, PRM step scores, and one evolution step of the mstar recipe at a tiny scale. With \
        numerics portable every x86-64 CPU with AVX2 and FMA gives the same hashes, at any thread count and \
        vector width; tests/pty/probe-expected.json holds them.
        """)

    @Flag(help: "Print one JSON object.")
    var json = false

    @Option(help: "Worker threads (default: the number of cores).")
    var threads: Int?

    @Option(help: "portable or openblas.")
    var numerics: NumericsMode = .portable

    @Option(help: "Lanes of the matrix product's vectors, 8 or 16 (default: 16 with AVX-512, else 8).")
    var vectorWidth: Int?

    @Option(help: "The policy (default: checkpoints/pre-evolved).")
    var policy = "checkpoints/pre-evolved"

    func validate() throws {
        if let vectorWidth, vectorWidth != 8 && vectorWidth != 16 { throw ValidationError("--vector-width is 8 or 16") }
    }

    func run() throws {
        Numerics.warnIfSlow()
        Numerics.mode = numerics
        if let vectorWidth { Numerics.vectorWidth = vectorWidth }
        Runtime.setThreads(threads ?? ProcessInfo.processInfo.activeProcessorCount)
        let model = try Checkpoint.load(from: URL(fileURLWithPath: policy), vocab: Tokenizer.standard.vocabSize).model
        let suite = try TaskSuite(seed: 0, bank: try DigitBank.load())
        let parts = try Probe.run(policy: model, suite: suite)
        func hex(_ bytes: [UInt8]) -> String { SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined() }
        var whole = SHA256()
        for p in parts { whole.update(data: p.bytes) }
        let all = whole.finalize().map { String(format: "%02x", $0) }.joined()
        if json {
            let object: [String: Any] = [
                "parts": Dictionary(uniqueKeysWithValues: parts.map { ($0.name, hex($0.bytes)) }),
                "bytes": Dictionary(uniqueKeysWithValues: parts.map { ($0.name, $0.bytes.count) }),
                "all": all, "threads": Runtime.threads,
                "numerics": ["mode": Numerics.mode.rawValue, "kernel": Numerics.kernel, "vector_width": Numerics.vectorWidth,
                             "cpu": Numerics.cpuModel],
            ]
            print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
        } else {
            print(Numerics.summary + ", \(Runtime.threads) threads")
            for p in parts { print("\(p.name.padding(toLength: 9, withPad: " ", startingAt: 0)) \(hex(p.bytes))  (\(p.bytes.count) bytes)") }
            print("all       \(all)")
        }
    }
}
