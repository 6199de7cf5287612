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

    /// Creates a state from its fields; the defaults describe a fresh start.
    public init(step: Int = 0, rngs: [String: RNG] = [:], dataPosition: Int = 0, schedule: LRSchedule? = nil,
                temperature: Float? = nil, method: String? = nil) {
        self.step = step; self.rngs = rngs; self.dataPosition = dataPosition; self.schedule = schedule
        self.temperature = temperature; self.method = method
    }

    /// The largest step or data position a state may hold.
    public static let maxStep = 1 << 40

    /// Checks every number against its range; the error names the field.
    public func validate() throws {
        func need(_ ok: Bool, _ why: String) throws { if !ok { throw TensorError.invalid(why) } }
        try need((0...Self.maxStep).contains(step), "step is \(step); allowed 0 to \(Self.maxStep)")
        try need((0...Self.maxStep).contains(dataPosition), "dataPosition is \(dataPosition); allowed 0 to \(Self.maxStep)")
        if let t = temperature { try need(t.isFinite && t >= 0 && t <= 10, "temperature is \(t); allowed 0 to 10") }
        try need(rngs.count <= 1024, "rngs holds \(rngs.count) generators; at most 1024 are allowed")
        if let schedule { try schedule.validate() }
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
        /// The policy built from config.json and model.safetensors.
        public var model: VisionLanguageModel
        /// The run state read from state.json.
        public var state: TrainingState
        /// Optimizer moments by name and their step, when the checkpoint kept them.
        public var optimizer: (tensors: [String: Tensor], step: Int, config: AdamW.Config)?
    }

    /// The file that marks a folder as written by mstar: `save` replaces only folders that hold it
    /// (and nothing mstar does not write), so it can never delete someone's data.
    public static let markerName = ".mstar-checkpoint"

    /// What a folder mstar writes holds: the names allowed in it, and the kind its marker says.
    public enum Kind: String, Sendable, CaseIterable {
        /// A policy checkpoint: config.json, model.safetensors, state.json, optimizer.safetensors.
        case policy
        /// A saved run: evolution.json, dynamics.jsonl and the policy, initial and prm checkpoints.
        case run

        /// The entries this kind of folder may hold, the marker included.
        public var entries: Set<String> {
            switch self {
            case .policy: return [markerName, "config.json", "model.safetensors", "state.json", "optimizer.safetensors"]
            case .run: return [markerName, "evolution.json", "dynamics.jsonl", "policy", "initial", "prm"]
            }
        }
    }

    /// Writes the marker of a `kind` folder into `directory` (the temporary folder being filled).
    public static func writeMarker(_ kind: Kind, in directory: URL) throws {
        try AtomicFile.write(Data("{\"format\": \"\(format)\", \"kind\": \"\(kind.rawValue)\"}\n".utf8),
                             to: directory.appendingPathComponent(markerName))
    }

    /// Why `directory` may not be replaced by a save, or nil when it may: it must be a folder with
    /// mstar's marker that holds nothing but what mstar writes there (checked inside saved runs too).
    public static func replaceProblem(_ directory: URL) -> String? {
        let fm = FileManager.default
        let path = directory.path
        var st = stat()
        guard lstat(path, &st) == 0 else { return nil }  // nothing there: free to write
        guard st.st_mode & S_IFMT == S_IFDIR else {
            return "\(path) exists and is not a folder; save to a new name"
        }
        guard let marker = try? InputFile.text(directory.appendingPathComponent(markerName).path, limit: 4096),
              let kind = Kind.allCases.first(where: { marker.contains("\"kind\": \"\($0.rawValue)\"") }) else {
            return "\(path) exists and is not a checkpoint mstar wrote (it has no \(markerName)); "
                + "save to a new name, or move it away yourself"
        }
        let entries = (try? fm.contentsOfDirectory(atPath: path)) ?? []
        // Leftover temporaries of an interrupted save inside it are mstar's too.
        if let foreign = entries.filter({ !kind.entries.contains($0) && !isTemporaryName($0) }).sorted().first {
            return "\(path) holds \(foreign), which mstar did not write; save to a new name, or move it away yourself"
        }
        if kind == .run {
            for sub in ["policy", "initial", "prm"] where entries.contains(sub) {
                if let p = replaceProblem(directory.appendingPathComponent(sub)) { return p }
            }
        }
        return nil
    }

    /// Whether `name` is one of the temporary names mstar's atomic writes use (`.NAME.tmp-PID...`).
    static func isTemporaryName(_ name: String) -> Bool { name.hasPrefix(".") && name.contains(".tmp-") }

    /// A fresh temporary folder beside `destination` for a save, after clearing stale ones; throws
    /// when `destination` is something a save may not replace.
    public static func temporaryFolder(for destination: URL) throws -> URL {
        if let problem = replaceProblem(destination) { throw TensorError.invalid(problem) }
        let fm = FileManager.default
        let parent = destination.deletingLastPathComponent()
        try fm.createDirectory(at: parent, withIntermediateDirectories: true)
        AtomicFile.removeStaleTemporaries(of: destination)
        let tmp = parent.appendingPathComponent(".\(destination.lastPathComponent).tmp-\(getpid())-\(UInt64(Date().timeIntervalSince1970 * 1e6))")
        try fm.createDirectory(at: tmp, withIntermediateDirectories: false)
        return tmp
    }

    /// Writes a folder mstar owns atomically: `body` fills a temporary folder beside `directory`,
    /// which gets `kind`'s marker and then replaces `directory` (only a checkpoint or run mstar
    /// wrote, `replaceProblem`); on an error the temporary folder is removed.
    public static func writeFolder(_ directory: URL, kind: Kind, _ body: (URL) throws -> Void) throws {
        let tmp = try temporaryFolder(for: directory)
        do {
            try body(tmp)
            try writeMarker(kind, in: tmp)
            AtomicFile.syncDirectory(tmp)
            try replaceDirectory(directory, with: tmp)
        } catch {
            try? FileManager.default.removeItem(at: tmp)
            throw error
        }
    }

    /// Saves `model` (and `optimizer`, when given) with `state` to `directory`, atomically. An
    /// existing `directory` is replaced only when it is a checkpoint mstar wrote (`replaceProblem`).
    public static func save(model: VisionLanguageModel, optimizer: AdamW? = nil, state: TrainingState, to directory: URL) throws {
        try writeFolder(directory, kind: .policy) { tmp in
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
        }
    }

    /// Loads a checkpoint, checking every size in config.json against its range and every tensor's
    /// presence and shape against config.json; each error names the file and what is wrong. With
    /// `vocab`, the model's vocabulary must be that size (the tokenizer's that will read its outputs).
    public static func load(from directory: URL, vocab: Int? = nil) throws -> Loaded {
        let path = directory.path
        func file(_ name: String) -> String { directory.appendingPathComponent(name).path }
        guard FileManager.default.fileExists(atPath: file("config.json")) else {
            throw TensorError.invalid("\(path) is not a checkpoint: config.json is missing")
        }
        let config = try InputFile.read(file("config.json"), limit: InputFile.jsonLimit)
        guard FileManager.default.fileExists(atPath: file("state.json")) else {
            throw TensorError.invalid("\(path) is not a whole checkpoint: state.json is missing")
        }
        let state = try InputFile.read(file("state.json"), limit: InputFile.jsonLimit)
        let weights = try InputFile.read(file("model.safetensors"), limit: InputFile.tensorLimit)
        let optimizer = FileManager.default.fileExists(atPath: file("optimizer.safetensors"))
            ? try InputFile.read(file("optimizer.safetensors"), limit: InputFile.tensorLimit) : nil
        return try decode(config: config, state: state, weights: weights, optimizer: optimizer, vocab: vocab, source: path)
    }

    /// Decodes a checkpoint from the bytes of its files; `source` (the directory) prefixes the file
    /// names in errors. Every number is range-checked before it sizes an allocation.
    public static func decode(config configData: Data, state stateData: Data, weights weightData: Data, optimizer optimizerData: Data?,
                              vocab: Int? = nil, source path: String) throws -> Loaded {
        let config: ModelConfig
        do { config = try JSONDecoder().decode(ModelConfig.self, from: configData) } catch {
            throw TensorError.invalid("\(path)/config.json is not a valid model config: \(describe(error))")
        }
        do { try config.validate() } catch {
            throw TensorError.invalid("\(path)/config.json: \(error)")
        }
        if let vocab, config.vocab != vocab {
            throw TensorError.invalid("\(path)/config.json: vocab is \(config.vocab); the tokenizer has \(vocab) tokens (is it an mstar policy?)")
        }
        var rng = RNG(seed: 0)
        let model = try VisionLanguageModel(config, rng: &rng)
        let weights = try SafeTensors.decode(weightData, source: "\(path)/model.safetensors")
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
        do { state = try JSONDecoder().decode(TrainingState.self, from: stateData) } catch {
            throw TensorError.invalid("\(path)/state.json is not a valid training state: \(describe(error))")
        }
        do { try state.validate() } catch {
            throw TensorError.invalid("\(path)/state.json: \(error)")
        }
        var optimizer: (tensors: [String: Tensor], step: Int, config: AdamW.Config)?
        if let optimizerData {
            let f = try SafeTensors.decode(optimizerData, source: "\(path)/optimizer.safetensors")
            guard let stepText = f.metadata["step"], let step = Int(stepText), let configText = f.metadata["config"],
                  let config = try? JSONDecoder().decode(AdamW.Config.self, from: Data(configText.utf8)) else {
                throw TensorError.invalid("\(path)/optimizer.safetensors lacks its step or config metadata")
            }
            guard (0...TrainingState.maxStep).contains(step) else {
                throw TensorError.invalid("\(path)/optimizer.safetensors: step is \(step); allowed 0 to \(TrainingState.maxStep)")
            }
            do { try config.validate() } catch {
                throw TensorError.invalid("\(path)/optimizer.safetensors: \(error)")
            }
            optimizer = (f.tensors, step, config)
        }
        return Loaded(model: model, state: state, optimizer: optimizer)
    }

    /// A decoding error in one line that names the field (Foundation's own text is a paragraph).
    public static func describe(_ error: Error) -> String {
        func at(_ ctx: DecodingError.Context) -> String {
            let p = ctx.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return p.isEmpty ? "the top level" : String(p.drop(while: { $0 == "." }))
        }
        switch error {
        case DecodingError.keyNotFound(let key, let ctx):
            return "missing \"\(key.stringValue)\"" + (ctx.codingPath.isEmpty ? "" : " in \(at(ctx))")
        case DecodingError.typeMismatch(let type, let ctx): return "wrong type at \(at(ctx)): expected \(type)"
        case DecodingError.valueNotFound(let type, let ctx): return "null at \(at(ctx)): expected \(type)"
        case DecodingError.dataCorrupted(let ctx):
            if let inner = ctx.underlyingError as? TensorError { return inner.description }
            return ctx.codingPath.isEmpty ? "not valid JSON" : "bad value at \(at(ctx))"
        default: return "\(error)"
        }
    }

    /// Makes `tmp` appear at `destination` in one step (exchanging with an existing directory), then
    /// removes what was there before.
    public static func replaceDirectory(_ destination: URL, with tmp: URL) throws {
        let fm = FileManager.default
        // Checked again just before the swap: the folder may have changed since the save began.
        if let problem = replaceProblem(destination) { throw TensorError.invalid(problem) }
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
