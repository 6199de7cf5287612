import Foundation
import MSTaRModel
import MSTaRTensor
import Testing

/// Checkpoints come from other people: every number in them is checked before it sizes anything,
/// and a save replaces only what mstar itself wrote.
@Suite struct CheckpointSafetyTests {
    /// A saved tiny checkpoint and a way to load it with one config.json key changed.
    struct Probe {
        let dir: URL
        let config: [String: Any]

        init() throws {
            dir = try temporaryDirectory().appendingPathComponent("ckpt")
            try Checkpoint.save(model: try tinyModel(seed: 110), state: TrainingState(), to: dir)
            config = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("config.json"))) as! [String: Any]
        }

        /// The error of loading with `key` set to `value` (nil when it loads).
        func refusal(_ key: String, _ value: Any) throws -> String? {
            var c = config
            c[key] = value
            try JSONSerialization.data(withJSONObject: c).write(to: dir.appendingPathComponent("config.json"))
            defer { try? JSONSerialization.data(withJSONObject: config).write(to: dir.appendingPathComponent("config.json")) }
            do { _ = try Checkpoint.load(from: dir); return nil } catch { return "\(error)" }
        }
    }

    @Test func everyConfigSizeOutsideItsRangeIsRefusedNamingTheFileAndKey() throws {
        let probe = try Probe()
        // The values that crashed or hung the loader: division by zero, negative sizes, huge ones.
        let cases: [(String, Any, String)] = [
            ("heads", 0, "heads is 0; allowed 1 to 64"), ("patch", 0, "patch is 0"), ("merge", 0, "merge is 0"),
            ("visionHeads", 0, "visionHeads is 0"), ("dModel", -16, "dModel is -16"), ("visionDim", -8, "visionDim is -8"),
            ("stemChannels", [-3, 4], "stemChannels holds -3"), ("dModel", 1 << 40, "dModel is 1099511627776"),
            ("layers", 1_000_000_000, "layers is 1000000000"), ("maxText", 0, "maxText is 0"), ("vocab", 0, "vocab is 0"),
            ("window", 1 << 62, "window is"), ("imageHeight", 17, "not a whole number of 4-pixel patches"),
        ]
        for (key, value, expected) in cases {
            let error = try #require(try probe.refusal(key, value), "\(key) = \(value) loaded")
            #expect(error.contains("\(probe.dir.path)/config.json: ") && error.contains(expected), "\(key): \(error)")
        }
        // Wrong types and numbers beyond Int name the key too.
        #expect(try probe.refusal("heads", "four")?.contains("heads") == true)
        #expect(try probe.refusal("layers", 1e300)?.contains("config.json") == true)
        // Sizes that are each in range but together describe too large a model.
        var big = ModelConfig(vocab: 65_536, dModel: 2048, layers: 48, heads: 16, mlpHidden: 8192)
        big.maxText = 1024
        #expect(throws: TensorError.self) { try big.validate() }
    }

    @Test func aVocabularyOtherThanTheTokenizersIsRefusedWhenOneIsRequired() throws {
        let probe = try Probe()
        do {
            _ = try Checkpoint.load(from: probe.dir, vocab: 251)
            Issue.record("a vocab-11 checkpoint loaded for a 251-token tokenizer")
        } catch {
            #expect("\(error)".contains("vocab is 11; the tokenizer has 251 tokens"))
        }
    }

    @Test func theParameterBoundIsAnUpperBoundForEveryKindOfModel() throws {
        let configs = [ModelConfig(vocab: 251), .tiny(vocab: 11),
                       ModelConfig(vocab: 40, stem: .patch, globalToken: false, norm: .rmsNorm, mlp: .swiglu, tiedHead: false)]
        for c in configs {
            var rng = RNG(seed: 1)
            let n = Double(try VisionLanguageModel(c, rng: &rng).parameterCount)
            #expect(c.parameterBound >= n && c.parameterBound <= 1.05 * n, "bound \(c.parameterBound) for \(n) parameters")
        }
    }

    @Test func badNumbersInStateJSONAndOptimizerMetadataAreRefused() throws {
        let dir = try temporaryDirectory().appendingPathComponent("ckpt")
        try Checkpoint.save(model: try tinyModel(seed: 111), state: TrainingState(), to: dir)
        let state = dir.appendingPathComponent("state.json")
        for (text, expected) in [("{\"step\": -1, \"rngs\": {}, \"dataPosition\": 0}", "step is -1"),
                                 ("{\"step\": 0, \"rngs\": {\"a\": [0, 0, 0, 0]}, \"dataPosition\": 0}", "RNG state"),
                                 ("{\"step\": 0, \"rngs\": {}, \"dataPosition\": 0, \"temperature\": 1e30}", "temperature"),
                                 ("{\"step\": 0, \"rngs\": {}, \"dataPosition\": 0, \"schedule\": {\"constant\": {\"lr\": 1e9}}}", "schedule rate"),
                                 ("[1, 2]", "state.json")] {
            try Data(text.utf8).write(to: state)
            do { _ = try Checkpoint.load(from: dir); Issue.record("\(text) loaded") } catch {
                #expect("\(error)".contains(expected) && "\(error)".contains("state.json"), "\(error)")
            }
        }
    }

    @Test func saveReplacesOnlyWhatMstarWrote() throws {
        let model = try tinyModel(seed: 112)
        let root = try temporaryDirectory()
        // Someone's folder, a regular file, and a checkpoint with a file added by hand.
        let theirs = root.appendingPathComponent("theirs")
        try FileManager.default.createDirectory(at: theirs, withIntermediateDirectories: true)
        try Data("precious".utf8).write(to: theirs.appendingPathComponent("notes.txt"))
        let file = root.appendingPathComponent("file")
        try Data("a file".utf8).write(to: file)
        let edited = root.appendingPathComponent("edited")
        try Checkpoint.save(model: model, state: TrainingState(), to: edited)
        try Data("mine".utf8).write(to: edited.appendingPathComponent("notes.txt"))
        for (target, expected) in [(theirs, "not a checkpoint mstar wrote"), (file, "not a folder"), (edited, "holds notes.txt")] {
            do {
                try Checkpoint.save(model: model, state: TrainingState(step: 9), to: target)
                Issue.record("saved over \(target.lastPathComponent)")
            } catch {
                #expect("\(error)".contains(expected), "\(error)")
            }
        }
        #expect(try String(contentsOf: theirs.appendingPathComponent("notes.txt"), encoding: .utf8) == "precious")
        #expect(try String(contentsOf: file, encoding: .utf8) == "a file")
        #expect(try String(contentsOf: edited.appendingPathComponent("notes.txt"), encoding: .utf8) == "mine")
        // An mstar checkpoint is replaced, and nothing is left beside it.
        let mine = root.appendingPathComponent("mine")
        try Checkpoint.save(model: model, state: TrainingState(step: 1), to: mine)
        try Checkpoint.save(model: model, state: TrainingState(step: 2), to: mine)
        #expect(try Checkpoint.load(from: mine).state.step == 2)
        #expect(try FileManager.default.contentsOfDirectory(atPath: root.path).sorted() == ["edited", "file", "mine", "theirs"])
    }

    @Test func temporariesOfASaveKilledBeforeItsRenameAreRemovedByTheNextSave() throws {
        let model = try tinyModel(seed: 113)
        let root = try temporaryDirectory()
        let dir = root.appendingPathComponent("ckpt")
        try Checkpoint.save(model: model, state: TrainingState(step: 1), to: dir)
        // What kill -9 leaves: a temporary of a process that is gone, and one of a live process.
        let dead = root.appendingPathComponent(".ckpt.tmp-\(Int32.max - 1)-123")
        let live = root.appendingPathComponent(".ckpt.tmp-1-456")
        for d in [dead, live] {
            try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
            try Data().write(to: d.appendingPathComponent("model.safetensors"))
        }
        try Checkpoint.save(model: model, state: TrainingState(step: 2), to: dir)
        let left = try FileManager.default.contentsOfDirectory(atPath: root.path).sorted()
        #expect(left == [".ckpt.tmp-1-456", "ckpt"], "pid 1 is alive: its temporary stays; \(left)")
        #expect(try Checkpoint.load(from: dir).state.step == 2)
    }
}
