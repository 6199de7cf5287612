import Foundation
import MSTaRModel
import MSTaRTasks
import MSTaRTensor

/// How a run's trained weights reach the server it samples from (`backend remote --reload`).
public enum WeightReload: String, CaseIterable, Sendable {
    /// The server keeps the weights it was started with.
    case none
    /// vLLM's disk weight update as `mstar serve` answers it: the weights saved as a checkpoint,
    /// then `POST /pause`, `POST /update_weights {"path"}`, `POST /resume` at the server's root.
    case updateWeights = "update-weights"
    /// Requests name the model directory to sample from (servers that load a model on demand, such
    /// as HF `transformers serve` started without a model). External trainers only.
    case byPath = "by-path"
    /// vLLM's runtime LoRA loading: `POST /v1/load_lora_adapter {"lora_name", "lora_path"}`, then
    /// requests name the adapter. External trainers that write adapters only.
    case lora
    /// The trainer configuration's `restart_command` restarts the server on the new model
    /// directory; mstar waits until `GET /v1/models` answers. External trainers only.
    case restart

    /// Whether native training can use it (the others load a trainer's model directory).
    public var native: Bool { self == .none || self == .updateWeights }
}

/// Keeps the server serving the weights the method samples from.
///
/// Before each call the model's weights are hashed; when they differ from the last ones sent (the
/// run trained, an interrupted step put the old weights back, the PRM's Monte-Carlo labels sample
/// from the initial policy), they are saved as a checkpoint in `directory` and the server loads
/// it. So a remote run against `mstar serve` trains and samples exactly as a native one does.
/// The server must read `directory` (the same machine, or a shared file system).
public final class WeightSync: @unchecked Sendable {
    /// Where the served checkpoint is written (replaced atomically at each update).
    public let directory: URL
    let client: RemoteClient
    private let lock = NSLock()
    private var served: UInt64?

    /// Updates through `generator`'s client (so its requests are recorded with the samples').
    public init(generator: RemoteGenerator, directory: URL) {
        self.directory = directory.standardizedFileURL
        client = generator.client
    }

    /// Updates the server's weights to `model`'s unless they are already the ones it serves.
    public func ensureServing(_ model: VisionLanguageModel) throws {
        try lock.withLock {
            let hash = Self.fingerprint(model)
            if served == hash { return }
            served = nil  // until the server confirms, whatever it serves is unknown
            do {
                try Checkpoint.save(model: model, state: TrainingState(), to: directory)
            } catch {
                throw RemoteError("cannot save the weights for the server to \(directory.path): \(Checkpoint.describe(error))")
            }
            try update()
            served = hash
        }
    }

    /// The pause / update / resume exchange; resumes even when the update fails.
    private func update() throws { try Self.update(client, path: directory.path) }

    /// Makes the server at `client` load the weights at `path` (pause, update, resume).
    static func update(_ client: RemoteClient, path: String) throws {
        let root = client.settings.root
        func post(_ name: String, _ body: [String: Any]) throws {
            let data = try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])
            _ = try client.send(root.appendingPathComponent(name), body: data, record: RequestRecord(endpoint: name, tries: 0, seconds: 0))
        }
        try post("pause", [:])
        do {
            try post("update_weights", ["path": path])
        } catch {
            try? post("resume", [:])
            throw RemoteError("the server did not take the new weights: \(error); check that it can read \(path)")
        }
        try post("resume", [:])
    }

    /// A 64-bit hash of every weight's bits.
    static func fingerprint(_ model: VisionLanguageModel) -> UInt64 {
        var h = FNV1a()
        for (_, t) in model.namedParameters { h.add(t) }
        return h.value
    }
}

/// A remote generator that first makes the server serve `model` (`WeightSync`).
public struct SyncedGenerator: ResponseGenerator {
    /// The generator that samples.
    public let base: RemoteGenerator
    /// The weights the samples must come from.
    public let model: VisionLanguageModel
    /// What puts them on the server.
    public let sync: WeightSync

    /// Samples from `model` through `base`, updating the server first when needed.
    public init(base: RemoteGenerator, model: VisionLanguageModel, sync: WeightSync) {
        self.base = base; self.model = model; self.sync = sync
    }

    public func generate(_ prompts: [SamplePrompt], k: Int, options: SamplingOptions, seed: UInt64,
                         shouldStop: (() -> Bool)?) throws -> [[Rollout]] {
        try sync.ensureServing(model)
        return try base.generate(prompts, k: k, options: options, seed: seed, shouldStop: shouldStop)
    }

    public func generate(_ prompts: [SamplePrompt], k: Int, temperatures: [Float], options: SamplingOptions, seed: UInt64,
                         shouldStop: (() -> Bool)?) throws -> [[[Rollout]]] {
        try sync.ensureServing(model)
        return try base.generate(prompts, k: k, temperatures: temperatures, options: options, seed: seed, shouldStop: shouldStop)
    }
}
