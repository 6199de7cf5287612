import Foundation
import Hummingbird
import Logging
import MSTaR
import MSTaRModel
import MSTaRTasks

/// Loads what `mstar serve` serves and runs the HTTP server.
public enum ServeServer {
    /// The state for serving the policy in `checkpoint` as `name` (default: the folder's last path
    /// component), with the PRM in `prm` for `/pooling` and local images from `allowedMediaPath`.
    /// Both checkpoints go through the checked loader.
    public static func load(checkpoint: String, name: String? = nil, prm: String? = nil, stepTag: String? = nil, allowedMediaPath: String? = nil,
                            limits: ServeLimits = .standard) throws -> ServeState {
        let vocab = Tokenizer.standard.vocabSize
        let policy = try Checkpoint.load(from: URL(fileURLWithPath: checkpoint), vocab: vocab).model
        let prmModel = try prm.map { ProcessRewardModel(model: try Checkpoint.load(from: URL(fileURLWithPath: $0), vocab: vocab).model) }
        let folder = URL(fileURLWithPath: checkpoint).standardizedFileURL.lastPathComponent
        let served = ServedModel(name: name ?? folder, config: policy.config, created: Int(Date().timeIntervalSince1970))
        let validator = RequestValidator(model: served, media: try MediaPolicy(allowedFolder: allowedMediaPath, maxImageBytes: limits.maxImageBytes),
                                         limits: limits)
        return ServeState(validator: validator, queue: GenerationQueue(policy: policy, prm: prmModel, limits: limits), stepTag: stepTag)
    }

    /// Serves `state` on `host`:`port` until SIGINT or SIGTERM; `onRunning` is called once the
    /// socket listens.
    public static func run(_ state: ServeState, host: String, port: Int, onRunning: @escaping @Sendable () -> Void = {}) async throws {
        var logger = Logger(label: "mstar-serve")
        logger.logLevel = .warning  // one line per start and per problem, none per request
        // A connection idle for a minute between requests is closed, so idle clients cannot pile up.
        let app = Application(router: ServeRoutes.router(state), server: .http1(configuration: .init(idleTimeout: .seconds(60))),
                              configuration: .init(address: .hostname(host, port: port), serverName: "mstar"),
                              onServerRunning: { _ in onRunning() }, logger: logger)
        try await app.runService()
    }
}
