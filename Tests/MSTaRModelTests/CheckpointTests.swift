import Foundation
import MSTaRModel
import MSTaRTasks
import MSTaRTensor
import Testing

func temporaryDirectory() throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mstar-model-test-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
}

private func sequences(_ rng: inout RNG, count: Int) throws -> [TrainingSequence] {
    try (0..<count).map { _ in
        TrainingSequence(image: try randomCanvas(&rng), prompt: [1, rng.int(below: 9) + 2],
                         response: (0..<(1 + rng.int(below: 4))).map { _ in rng.int(below: 10) + 1 } + [0])
    }
}

@Suite struct CheckpointTests {
    @Test func savingAndResumingContinuesTrainingIdentically() throws {
        var rng = RNG(seed: 100)
        let data = try sequences(&rng, count: 48)
        let options = SFTTrainer.Options(batchSize: 8, schedule: .cosine(lr: 3e-3, warmup: 2, total: 20, minLR: 1e-4))
        let model = try tinyModel(seed: 101)
        let trainer = SFTTrainer(model: model, options: options, seed: 7)
        _ = try trainer.train(data, epochs: 1)

        let dir = try temporaryDirectory().appendingPathComponent("ckpt")
        try Checkpoint.save(model: model, optimizer: trainer.optimizer,
                            state: TrainingState(step: trainer.step, rngs: ["data": trainer.rng], schedule: options.schedule), to: dir)
        _ = try trainer.train(data, epochs: 2)
        let uninterrupted = model.namedParameters.map { $0.1.array }

        let loaded = try Checkpoint.load(from: dir)
        let resumed = SFTTrainer(model: loaded.model, options: options, seed: 999)
        let opt = try #require(loaded.optimizer)
        try resumed.optimizer.loadState(opt.tensors, step: opt.step)
        resumed.rng = try #require(loaded.state.rngs["data"])
        #expect(loaded.state.step == resumed.step)
        _ = try resumed.train(data, epochs: 2)
        #expect(loaded.model.namedParameters.map { $0.1.array } == uninterrupted)
    }

    @Test func pythonSafetensorsReadsTheCheckpoint() throws {
        let model = try tinyModel(seed: 102)
        let dir = try temporaryDirectory().appendingPathComponent("ckpt")
        try Checkpoint.save(model: model, state: TrainingState(), to: dir)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", """
            import sys, json
            from safetensors.numpy import load_file
            t = load_file(sys.argv[1])
            print(json.dumps({k: [list(v.shape), float(v.astype('float64').sum()), float(v.ravel()[0])] for k, v in t.items()}))
            """, dir.appendingPathComponent("model.safetensors").path]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "python3 with numpy and safetensors is needed: run scripts/test")
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: [Any]])
        #expect(json.count == model.namedParameters.count)
        for (name, t) in model.namedParameters {
            let entry = try #require(json[name], "python did not find \(name)")
            #expect((entry[0] as! [Int]) == t.shape)
            #expect(Float(entry[2] as! Double) == t.ptr[0])
            let sum = t.array.reduce(0.0) { $0 + Double($1) }
            #expect(abs((entry[1] as! Double) - sum) < 1e-6 * max(1, abs(sum)))
        }
    }

    @Test func corruptOrMismatchedCheckpointsAreRefused() throws {
        let model = try tinyModel(seed: 103)
        let root = try temporaryDirectory()
        func fresh(_ name: String) throws -> URL {
            let d = root.appendingPathComponent(name)
            try Checkpoint.save(model: model, state: TrainingState(), to: d)
            return d
        }
        func refusal(_ dir: URL) -> String {
            do { _ = try Checkpoint.load(from: dir); return "loaded" } catch { return "\(error)" }
        }
        // Truncated weights.
        let truncated = try fresh("truncated")
        let weights = truncated.appendingPathComponent("model.safetensors")
        let bytes = try Data(contentsOf: weights)
        try bytes.prefix(bytes.count - 10).write(to: weights)
        #expect(refusal(truncated).contains("truncated"))
        // Flipped header byte.
        let corrupt = try fresh("corrupt")
        var b = try Data(contentsOf: corrupt.appendingPathComponent("model.safetensors"))
        b[9] = UInt8(ascii: "#")
        try b.write(to: corrupt.appendingPathComponent("model.safetensors"))
        #expect(refusal(corrupt).contains("not a valid safetensors file"))
        // A config that disagrees with the weights.
        let mismatch = try fresh("mismatch")
        var config = model.config
        config.dModel = 24
        try JSONEncoder().encode(config).write(to: mismatch.appendingPathComponent("config.json"))
        #expect(refusal(mismatch).contains("shape"))
        // Not a checkpoint at all.
        #expect(refusal(root.appendingPathComponent("nothing")).contains("config.json is missing"))
        // The untouched one loads with the same weights.
        let good = try Checkpoint.load(from: try fresh("good"))
        #expect(good.model.namedParameters.map { $0.1.array } == model.namedParameters.map { $0.1.array })
    }

    @Test func aFailedSaveLeavesThePreviousCheckpoint() throws {
        let model = try tinyModel(seed: 104)
        let root = try temporaryDirectory()
        let dir = root.appendingPathComponent("ckpt")
        try Checkpoint.save(model: model, state: TrainingState(step: 5), to: dir)
        // NaN cannot be written as JSON: the save fails after the weights were written.
        #expect(throws: (any Error).self) {
            try Checkpoint.save(model: model, state: TrainingState(step: 6, temperature: .nan), to: dir)
        }
        #expect(try Checkpoint.load(from: dir).state.step == 5)
        #expect(try FileManager.default.contentsOfDirectory(atPath: root.path) == ["ckpt"])
        // Overwriting succeeds and replaces the old one.
        try Checkpoint.save(model: model, state: TrainingState(step: 7), to: dir)
        #expect(try Checkpoint.load(from: dir).state.step == 7)
        #expect(try FileManager.default.contentsOfDirectory(atPath: root.path) == ["ckpt"])
    }

    @Test func nonFiniteLossStopsTrainingAndKeepsTheLastGoodState() throws {
        let model = try tinyModel(seed: 105)
        var rng = RNG(seed: 106)
        let data = try sequences(&rng, count: 16)
        let trainer = SFTTrainer(model: model, options: .init(batchSize: 8), seed: 1)
        _ = try trainer.train(data, epochs: 1)
        let before = model.namedParameters.map { $0.1.array }
        let stepBefore = trainer.step
        // A poisoned weight makes the next loss non-finite.
        let wte = model.tokenEmbedding
        let saved = wte.ptr[0]
        wte.ptr[0] = .nan
        let batch = try SequenceBatch(data, config: model.config)
        do {
            try trainer.update([batch])
            Issue.record("a NaN loss was accepted")
        } catch let e as NonFiniteLoss {
            #expect(e.description.contains("non-finite") && e.description.contains("restored"))
        }
        wte.ptr[0] = saved
        #expect(model.namedParameters.map { $0.1.array } == before)
        #expect(trainer.step == stepBefore)
    }
}
