import Foundation

/// Makes the server sample from a trainer's model directory, by the mechanism `backend remote
/// --reload` names (`WeightReload`), and remembers what it serves so that asking again is free.
///
/// π0, the directory the run starts from, is what the server was started with: it is requested
/// under `--model`, and a server that loads weights gets π0's directory back when a run returns to it.
public final class ServedModel: @unchecked Sendable {
    /// The mechanism.
    public let reload: WeightReload
    /// The generator whose requests sample the served model.
    public let generator: RemoteGenerator
    /// π0's directory.
    public let initialModel: String
    /// `--reload restart`'s command template (`{model}`), with the trainer's environment.
    let restart: CommandTemplate?
    let environment: [String: String]
    /// Where the restart command and the server it starts write (the run directory's `trainer/restart.log`).
    public var restartLog: URL?
    private let lock = NSLock()
    private var current: String?
    private var adapters: Set<String> = []

    /// A switch for `generator`'s server; `restartCommand` is required by `.restart`.
    public init(reload: WeightReload, generator: RemoteGenerator, initialModel: String, restartCommand: String?, environment: [String: String] = [:]) throws {
        guard reload != .none else {
            throw TrainerError("a trainer needs --reload so that the server samples what it trained: by-path, update-weights, lora or restart (docs/remote.md)")
        }
        if reload == .restart {
            guard let r = restartCommand else { throw TrainerError("--reload restart needs \"restart_command\" in the trainer configuration, e.g. \"scripts/serve-again {model}\"") }
            restart = try CommandTemplate(r, allowed: ["model"], what: "\"restart_command\"")
        } else {
            restart = nil
        }
        self.reload = reload; self.generator = generator; self.initialModel = initialModel; self.environment = environment
        current = initialModel  // the server was started on π0
    }

    /// The directory served now (nil: unknown, after a failed switch).
    public var serving: String? { lock.withLock { current } }

    /// Makes the server sample from the model directory `model`; `name` names it where the
    /// mechanism needs a name (a LoRA adapter).
    public func serve(_ model: String, name: String) throws {
        if lock.withLock({ current == model }) {
            applyName(model, name: name)
            return
        }
        lock.withLock { current = nil }  // until the switch completes, what the server has is unknown
        switch reload {
        case .byPath, .none:
            break
        case .updateWeights:
            try WeightSync.update(generator.client, path: model)
        case .lora:
            if model != initialModel, !lock.withLock({ adapters.contains(name) }) {
                let body = try JSONSerialization.data(withJSONObject: ["lora_name": name, "lora_path": model], options: [.sortedKeys])
                _ = try generator.client.send(generator.settings.endpoint("/load_lora_adapter"), body: body,
                                              record: RequestRecord(endpoint: "load_lora_adapter", tries: 0, seconds: 0))
                lock.withLock { _ = adapters.insert(name) }
            }
        case .restart:
            try restartServer(on: model)
        }
        applyName(model, name: name)
        lock.withLock { current = model }
    }

    /// Forgets what is served, so that the next `serve` switches for certain.
    public func invalidate() { lock.withLock { current = nil } }

    private func applyName(_ model: String, name: String) {
        switch reload {
        case .byPath: generator.requestModel = model == initialModel ? generator.settings.model : model
        case .lora: generator.requestModel = model == initialModel ? generator.settings.model : name
        default: generator.requestModel = generator.settings.model
        }
    }

    /// Runs the restart command and waits until the server answers `GET /v1/models` again.
    private func restartServer(on model: String) throws {
        let command = restart!.render(["model": model])
        // The command starts the server and returns; the server lives on, writing to the log.
        if let log = restartLog { try? FileManager.default.createDirectory(at: log.deletingLastPathComponent(), withIntermediateDirectories: true) }
        let r = try TrainerProcess.run(["/bin/sh", "-c", command], environment: environment,
                                       directory: URL(fileURLWithPath: FileManager.default.currentDirectoryPath), log: restartLog,
                                       timeout: generator.settings.timeout, starter: true)
        guard r.outcome == .exited(0) else {
            throw TrainerError("the restart command failed (\(r.outcome)): \(r.stderrTail.last ?? "no output")\(restartLog.map { "; see \($0.path)" } ?? ""); the server may be down")
        }
        let deadline = Date().addingTimeInterval(generator.settings.timeout)
        var last = ""
        while Date() < deadline {
            do {
                _ = try generator.client.send(generator.settings.endpoint("/models"), body: nil, record: RequestRecord(endpoint: "models", tries: 0, seconds: 0))
                return
            } catch {
                last = "\(error)"
                usleep(500_000)
            }
        }
        throw TrainerError("the server did not answer within \(Int(generator.settings.timeout)) s of the restart command: \(last)")
    }
}
