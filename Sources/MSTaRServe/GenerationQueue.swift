import Foundation
import MSTaR
import MSTaRModel
import MSTaRTasks
import MSTaRTensor

/// Owns the policy and the PRM and runs them one call at a time on one serial queue.
///
/// Chat requests wait their turn; when the model frees up, every request that arrived meanwhile is
/// taken at once and those that can share one `Sampler.generate` call are batched into one
/// (`batchPlan`). The queue's thread is not one of Swift concurrency's few cooperative threads,
/// so a long call never starves the HTTP server; handlers `await` their results.
///
/// Pausing for a weight update: `pause()` refuses new generation requests (503) and returns once
/// the queue has finished everything accepted before; `updateWeights` swaps the policy only while
/// paused; `resume()` accepts requests again.
public final class GenerationQueue: @unchecked Sendable {
    private struct Job {
        let request: GenerationRequest
        let done: @Sendable (Result<[Rollout], any Error>) -> Void
    }

    private let lock = NSLock()
    // Under `lock`:
    private var pending: [Job] = []
    private var paused = false
    private var calls: [Int] = []
    // Touched only on `worker`:
    private var sampler: Sampler
    private let prm: ProcessRewardModel?

    private let worker = DispatchQueue(label: "mstar.serve.model", qos: .userInitiated)
    /// The bounds (`maxBatchSamples` sizes a call).
    public let limits: ServeLimits

    /// A queue over `policy` and, for `/pooling`, `prm`.
    public init(policy: VisionLanguageModel, prm: ProcessRewardModel? = nil, limits: ServeLimits = .standard) {
        sampler = Sampler(model: policy)
        self.prm = prm
        self.limits = limits
    }

    /// Whether a PRM is loaded (`--prm`).
    public var hasPRM: Bool { prm != nil }

    /// Whether new generation requests are refused for a weight update.
    public var isPaused: Bool { lock.withLock { paused } }

    /// Requests per `Sampler.generate` call, the last 4,096 calls in order (the tests read it to see batching).
    public var callSizes: [Int] { lock.withLock { calls } }

    /// Requests accepted and not yet taken by the model.
    public var waiting: Int { lock.withLock { pending.count } }

    /// Holds the model's queue, after the work queued before, until the returned closure is
    /// called; the requests that arrive meanwhile are then batched together (tests make a batch
    /// on purpose with it).
    public func hold() -> @Sendable () -> Void {
        let gate = DispatchSemaphore(value: 0)
        worker.async { gate.wait() }
        return { gate.signal() }
    }

    /// The `n` choices of `request`: samples 0..<n of its prompt (`ServeSampling`).
    public func generate(_ request: GenerationRequest) async throws -> [Rollout] {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<[Rollout], any Error>) in
            let job = Job(request: request) { c.resume(with: $0) }
            let refusal = lock.withLock { () -> APIError? in
                if paused { return APIError(status: 503, "paused for a weight update; retry after /resume", type: "service_unavailable") }
                if pending.count >= limits.maxWaiting {
                    return APIError(status: 503, "\(pending.count) requests are waiting for the model; retry later", type: "service_unavailable")
                }
                pending.append(job)
                // Scheduled under the lock, so a `pause()` that follows is queued after this drain.
                worker.async { self.drain() }
                return nil
            }
            if let refusal { c.resume(throwing: refusal) }
        }
    }

    /// Runs every pending request, batched.
    private func drain() {
        let jobs = lock.withLock { () -> [Job] in
            defer { pending = [] }
            return pending
        }
        for batch in Self.batchPlan(jobs.map(\.request), maxSamples: limits.maxBatchSamples) {
            lock.withLock {
                calls.append(batch.count)
                if calls.count > 4096 { calls.removeFirst(calls.count - 4096) }  // a long-running server keeps the recent ones
            }
            do {
                let out = try Self.sample(batch.map { jobs[$0].request }, with: sampler)
                for (i, rollouts) in zip(batch, out) { jobs[i].done(.success(rollouts)) }
            } catch {
                for i in batch { jobs[i].done(.failure(error)) }
            }
        }
    }

    /// What must agree for two requests to share one `Sampler.generate` call and still get exactly
    /// the samples each gets alone: the call's k, temperature, top-p and token limit, and the prompt
    /// length, since a chunk's token limit follows its longest prefix (`decodeChunk`).
    struct BatchKey: Hashable {
        var n: Int, temperature: Float, topP: Float, maxTokens: Int, promptLength: Int
        init(_ r: GenerationRequest) {
            n = r.n; temperature = r.options.temperature; topP = r.options.topP; maxTokens = r.options.maxTokens
            promptLength = r.prompt.prompt.count
        }
    }

    /// Requests grouped into calls (indices into `requests`): requests with the same `BatchKey`, in
    /// order of arrival, at most `maxSamples` samples a call (a request larger than that alone).
    public static func batchPlan(_ requests: [GenerationRequest], maxSamples: Int) -> [[Int]] {
        var groups: [[Int]] = [], open: [BatchKey: Int] = [:], samples: [Int] = []
        for (i, r) in requests.enumerated() {
            let key = BatchKey(r)
            if let g = open[key], samples[g] + r.n <= maxSamples {
                groups[g].append(i); samples[g] += r.n
            } else {
                open[key] = groups.count; groups.append([i]); samples.append(r.n)
            }
        }
        return groups
    }

    /// One `Sampler.generate` call for requests with one `BatchKey`: each request's prompt is its
    /// own stream (its seed), and the call's seed is `ServeSampling.callSeed`.
    public static func sample(_ requests: [GenerationRequest], with sampler: Sampler) throws -> [[Rollout]] {
        guard let first = requests.first else { return [] }
        precondition(requests.allSatisfy { BatchKey($0) == BatchKey(first) }, "a batch mixes requests that cannot share a call")
        return try sampler.generate(requests.map(\.prompt), k: first.n, options: first.options, seed: ServeSampling.callSeed)
    }

    /// The PRM's score of each step of `response` (ids, ending with `<eos>`) to `question` about `image`.
    public func stepScores(question: String, image: Canvas?, response: [Int]) async throws -> [Float] {
        guard prm != nil else { throw APIError(status: 404, "no PRM is loaded: start the server with --prm DIR", code: "prm_not_loaded") }
        return try await onWorker {
            // The PRM reads the example's id (to share a scene), question and image only.
            let example = Example(id: "request", family: .arithmetic, level: .one, kind: .caption, question: question, image: image,
                                  answer: nil, chain: "", annotation: .none, facts: SceneFacts(reads: []))
            return try self.prm!.stepScores([(example, response)]).first ?? []
        }
    }

    /// Refuses new generation requests and returns once those accepted before have finished.
    public func pause() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            lock.withLock {
                paused = true
                worker.async { c.resume() }
            }
        }
    }

    /// Accepts generation requests again.
    public func resume() {
        lock.withLock { paused = false }
    }

    /// Loads the policy in checkpoint folder `path` (config.json, state.json, model.safetensors,
    /// read by the checked loader) in place of the current one. Only while paused (else 409); a
    /// path that is not a checkpoint, or one of another shape, is a 400 and the old weights stay.
    public func updateWeights(path: String) async throws {
        guard isPaused else {
            throw APIError(status: 409, "not paused: POST /pause first, then /update_weights, then /resume", code: "not_paused")
        }
        guard !path.isEmpty, path.utf8.count <= 4096, !path.utf8.contains(0) else {
            throw APIError.badRequest("path must be 1 to 4096 bytes without NUL", param: "path")
        }
        try await onWorker {
            let loaded: Checkpoint.Loaded
            do { loaded = try Checkpoint.load(from: URL(fileURLWithPath: path), vocab: Tokenizer.standard.vocabSize) } catch {
                throw APIError.badRequest("cannot load \(quoted(path)): \(error); the old weights stay", param: "path")
            }
            guard loaded.model.config == self.sampler.model.config else {
                throw APIError.badRequest("\(quoted(path)) has another model shape than the served policy; the old weights stay", param: "path")
            }
            self.sampler = Sampler(model: loaded.model)
        }
    }

    /// Runs `body` on the model's queue, after everything queued before it.
    private func onWorker<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, any Error>) in
            worker.async { c.resume(with: Result { try body() }) }
        }
    }
}
