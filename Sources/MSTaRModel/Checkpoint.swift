import Foundation
import MSTaRTensor

/// Everything besides weights that a resumed run needs, saved as state.json.
public struct TrainingState: Codable, Equatable, Sendable {
    /// Optimizer updates taken.
    public var step: Int
    /// Named random generators (data order, sampling, ...), each resumable exactly.
    public var rngs: [String: RNG]
    /// How far through its data the run is (e.g. the next prompt index).
    public var dataPosition: Int
    /// The learning-rate schedule, whose position is `step`.
    public var schedule: LRSchedule?
    /// The current sampling temperature, for runs that change it.
    public var temperature: Float?
    /// State of the method driving the run (JSON text owned by that layer).
    public var method: String?

    public init(step: Int = 0, rngs: [String: RNG] = [:], dataPosition: Int = 0, schedule: LRSchedule? = nil,
                temperature: Float? = nil, method: String? = nil) {
        self.step = step; self.rngs = rngs; self.dataPosition = dataPosition; self.schedule = schedule
        self.temperature = temperature; self.method = method
    }
}

/// A checkpoint directory: config.json, model.safetensors, optional optimizer.safetensors, and
/// state.json. Saving is atomic: the files are written and fsynced in a temporary sibling
/// directory that then replaces the old checkpoint in one rename, so a crash leaves the old one.
public enum Checkpoint {
    /// Format marker stored in the safetensors metadata.
    public static let format = "mstar-checkpoint-1"

    /// What `load` returns.
    public struct Loaded {
        public var model: VisionLanguageModel
        public var state: TrainingState
        /// Optimizer moments by name and their step, when the checkpoint kept them.
        public var optimizer: (tensors: [String: Tensor], step: Int, config: AdamW.Config)?
    }

    /// Saves `model` (and `optimizer`, when given) with `state` to `directory`, atomically.
    public static func save(model: VisionLanguageModel, optimizer: AdamW? = nil, state: TrainingState, to directory: URL) throws {
        let fm = FileManager.default
        let parent = directory.deletingLastPathComponent()
        try fm.createDirectory(at: parent, withIntermediateDirectories: true)
        let tmp = parent.appendingPathComponent(".\(directory.lastPathComponent).tmp-\(getpid())-\(UInt64(Date().timeIntervalSince1970 * 1e6))")
        try fm.createDirectory(at: tmp, withIntermediateDirectories: false)
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try AtomicFile.write(try encoder.encode(model.config), to: tmp.appendingPathComponent("config.json"))
            try SafeTensors.write(model.namedParameters, metadata: ["format": format],
                                  to: tmp.appendingPathComponent("model.safetensors"))
            if let optimizer {
                let config = String(decoding: try encoder.encode(optimizer.config), as: UTF8.self)
                try SafeTensors.write(optimizer.stateTensors(), metadata: ["format": format, "step": String(optimizer.step), "config": config],
                                      to: tmp.appendingPathComponent("optimizer.safetensors"))
            }
            try AtomicFile.write(try encoder.encode(state), to: tmp.appendingPathComponent("state.json"))
            AtomicFile.syncDirectory(tmp)
            try replaceDirectory(directory, with: tmp)
        } catch {
            try? fm.removeItem(at: tmp)
            throw error
        }
    }

    /// Loads a checkpoint, checking every tensor's presence and shape against config.json.
    public static func load(from directory: URL) throws -> Loaded {
        let path = directory.path
        func file(_ name: String) -> URL { directory.appendingPathComponent(name) }
        guard FileManager.default.fileExists(atPath: file("config.json").path) else {
            throw TensorError.invalid("\(path) is not a checkpoint: config.json is missing")
        }
        let config: ModelConfig
        do { config = try JSONDecoder().decode(ModelConfig.self, from: Data(contentsOf: file("config.json"))) } catch {
            throw TensorError.invalid("\(path)/config.json is not a valid model config: \(error)")
        }
        var rng = RNG(seed: 0)
        let model = try VisionLanguageModel(config, rng: &rng)
        let weights = try SafeTensors.read(file("model.safetensors"))
        let expected = model.namedParameters
        for (name, p) in expected {
            guard let t = weights.tensors[name] else {
                throw TensorError.invalid("\(path)/model.safetensors has no tensor '\(name)' that config.json requires")
            }
            guard t.shape == p.shape else {
                throw TensorError.shapeMismatch("\(path)/model.safetensors: '\(name)' has shape \(t.shape), config.json implies \(p.shape)")
            }
            p.ptr.update(from: t.ptr, count: p.count)
        }
        if let extra = Set(weights.tensors.keys).subtracting(expected.map(\.0)).sorted().first {
            throw TensorError.invalid("\(path)/model.safetensors has tensor '\(extra)' that config.json does not describe")
        }
        let state: TrainingState
        do { state = try JSONDecoder().decode(TrainingState.self, from: Data(contentsOf: file("state.json"))) } catch {
            throw TensorError.invalid("\(path)/state.json is missing or invalid: \(error)")
        }
        var optimizer: (tensors: [String: Tensor], step: Int, config: AdamW.Config)?
        if FileManager.default.fileExists(atPath: file("optimizer.safetensors").path) {
            let f = try SafeTensors.read(file("optimizer.safetensors"))
            guard let stepText = f.metadata["step"], let step = Int(stepText), let configText = f.metadata["config"],
                  let config = try? JSONDecoder().decode(AdamW.Config.self, from: Data(configText.utf8)) else {
                throw TensorError.invalid("\(path)/optimizer.safetensors lacks its step or config metadata")
            }
            optimizer = (f.tensors, step, config)
        }
        return Loaded(model: model, state: state, optimizer: optimizer)
    }

    /// Makes `tmp` appear at `destination` in one step (exchanging with an existing directory), then
    /// removes what was there before.
    public static func replaceDirectory(_ destination: URL, with tmp: URL) throws {
        let fm = FileManager.default
        if fm.fileExists(atPath: destination.path) {
            guard renameat2(AT_FDCWD, tmp.path, AT_FDCWD, destination.path, renameExchange) == 0 else {
                throw TensorError.invalid("cannot replace \(destination.path): \(String(cString: strerror(errno)))")
            }
            AtomicFile.syncDirectory(destination.deletingLastPathComponent())
            try fm.removeItem(at: tmp)  // now holds the previous checkpoint
        } else {
            guard rename(tmp.path, destination.path) == 0 else {
                throw TensorError.invalid("cannot write \(destination.path): \(String(cString: strerror(errno)))")
            }
            AtomicFile.syncDirectory(destination.deletingLastPathComponent())
        }
    }
}

/// Linux renameat2(2): with RENAME_EXCHANGE it swaps two paths atomically.
@_silgen_name("renameat2")
private func renameat2(_ olddirfd: Int32, _ oldpath: UnsafePointer<CChar>, _ newdirfd: Int32, _ newpath: UnsafePointer<CChar>, _ flags: UInt32) -> Int32
private let renameExchange: UInt32 = 1 << 1
