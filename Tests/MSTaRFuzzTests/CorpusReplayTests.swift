import Foundation
import MSTaRFuzz
import MSTaRModel
import MSTaRTasks
import MSTaRTensor
import Testing

/// Replays the fuzz corpora without a sanitizer: every seed in Fuzz/corpus/NAME and every input in
/// Fuzz/crashers/NAME through its harness, then deterministic mutations of each seed, so that a
/// decoder change that breaks on an input the fuzzers once explored fails the normal test run.
@Suite struct CorpusReplayTests {
    static let fuzzFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fuzz")

    /// Mutations per seed: a few hundred, within the time the slowest harness (checkpoint) allows.
    static let mutationsPerSeed = 500

    /// The files in `folder`, sorted; hidden ones (.gitkeep) and subfolders (the JSONL seeds' images/) left out.
    static func inputs(_ folder: String) throws -> [URL] {
        let dir = fuzzFolder.appendingPathComponent(folder)
        guard FileManager.default.fileExists(atPath: dir.path) else { return [] }
        return try FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: [.isRegularFileKey], options: [.skipsHiddenFiles])
            .filter { try $0.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile == true }
            .sorted { $0.path < $1.path }
    }

    @Test(arguments: FuzzTargets.all.map(\.name))
    func corpusAndMutationsReplay(_ name: String) throws {
        let run = try #require(FuzzTargets.harness(name))
        let seeds = try Self.inputs("corpus/\(name)").map { try Data(contentsOf: $0) }
        #expect(!seeds.isEmpty, "Fuzz/corpus/\(name) has no seeds")
        for data in seeds { run(data) }
        for url in try Self.inputs("crashers/\(name)") { run(try Data(contentsOf: url)) }

        var mutator = Mutator(seed: UInt64(name.utf8.reduce(0) { $0 &* 31 &+ UInt64($1) }), pool: seeds)
        for data in seeds {
            for _ in 0..<Self.mutationsPerSeed { run(mutator.mutate(data)) }
        }
    }

    /// A seed its decoder refuses exercises only the first check, so the valid seeds must stay valid as
    /// the formats change (regenerate them with scripts/fuzz --seeds), and the bad configs must be refused.
    @Test func seedsDecodeOrAreRefusedAsMeant() throws {
        let corpus = Self.fuzzFolder.appendingPathComponent("corpus")
        for url in try Self.inputs("corpus/checkpoint") {
            let parts = CheckpointHarness.unpack(try Data(contentsOf: url))
            let decode = { try Checkpoint.decode(config: parts[0], state: parts[1], weights: parts[2],
                                                 optimizer: parts.count > 3 ? parts[3] : nil, source: url.lastPathComponent) }
            if url.lastPathComponent.hasPrefix("config-") {
                #expect(throws: (any Error).self, "\(url.lastPathComponent) is refused") { _ = try decode() }
            } else {
                _ = try decode()
            }
        }
        for url in try Self.inputs("corpus/safetensors") { _ = try SafeTensors.decode(try Data(contentsOf: url)) }
        for url in try Self.inputs("corpus/png") where url.lastPathComponent != "bomb.png" {
            _ = try PNG.decode([UInt8](try Data(contentsOf: url)))
        }
        #expect(throws: (any Error).self) { _ = try PNG.decode([UInt8](try Data(contentsOf: corpus.appendingPathComponent("png/bomb.png")))) }
        let exported = try JSONL.read(corpus.appendingPathComponent("jsonl/test-5.jsonl").path)
        #expect(exported.examples.count == 5 && exported.badLines.isEmpty)
    }

    @Test func checkpointContainerRoundTrips() {
        let parts = [Data("{}".utf8), Data(), Data([0, 1, 2, 255])]
        #expect(CheckpointHarness.unpack(CheckpointHarness.pack(parts)) == parts)
        // A length running past the end takes the rest, so a truncated input still splits.
        #expect(CheckpointHarness.unpack(Data([9, 0, 0, 0, 7, 8])) == [Data([7, 8])])
    }
}

/// libFuzzer-like byte mutations from a seeded SplitMix64 stream: flips, interesting values,
/// inserts, erasures, copies, splices with another seed and truncation, one to four at a time.
struct Mutator {
    private var state: UInt64
    private let pool: [Data]

    init(seed: UInt64, pool: [Data]) {
        state = seed
        self.pool = pool
    }

    private mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    private mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(n, 1))) }

    /// Bytes that make sizes, lengths and offsets overflow or vanish.
    private static let interesting: [UInt8] = [0, 1, 0x7F, 0x80, 0xFF, 0x20, 0x0A, 0x22, 0x5C, 0x2D, 0x39]

    mutating func mutate(_ data: Data) -> Data {
        var b = [UInt8](data)
        for _ in 0...below(4) {
            switch below(7) {
            case 0 where !b.isEmpty: b[below(b.count)] ^= UInt8(1) << UInt8(below(8))
            case 1 where !b.isEmpty: b[below(b.count)] = Self.interesting[below(Self.interesting.count)]
            case 2: b.insert(UInt8(truncatingIfNeeded: next()), at: below(b.count + 1))
            case 3 where !b.isEmpty:
                let start = below(b.count)
                b.removeSubrange(start..<min(b.count, start + 1 + below(16)))
            case 4 where !b.isEmpty:
                let start = below(b.count), n = 1 + below(min(64, b.count - start))
                b.insert(contentsOf: b[start..<(start + n)], at: below(b.count + 1))
            case 5 where !pool.isEmpty:
                let other = [UInt8](pool[below(pool.count)])
                let cut = below(b.count + 1), from = below(other.count + 1)
                b = Array(b[..<cut]) + other[from...]
            case 6 where !b.isEmpty: b.removeSubrange(below(b.count)...)
            default: break
            }
        }
        return Data(b)
    }
}
