import Foundation
import MSTaRModel
import MSTaRTasks

/// A `ResponseGenerator` over an OpenAI-compatible server (vLLM, SGLang, `mstar serve`): one
/// chat-completion request per prompt with `n` = k, all the prompts of a call at once with at most
/// `maxInFlight` in flight, transient failures retried (`RetryPolicy`), every request recorded.
///
/// Faithful to the engine's sampler against `mstar serve` of the same policy (docs/remote.md):
/// - each request's `seed` is `SeedMapping.requestSeed(seed:stream:)`, so the server draws the
///   sampler's random numbers;
/// - each prompt's `max_tokens` is what its chunk would allow in the sampler (prompts in chunks of
///   `options.chunk / k`, each capped by the room its longest prompt leaves in `max_model_len`);
/// - the scene travels with its exact pixels, and `mstar serve` returns the mean entropy.
///
/// A server that returns fewer choices than `n` (HF `transformers serve` ignores `n`) is noticed
/// on the first answer: from then on every sample is its own request with a derived seed
/// (`SeedMapping.fallbackSeed`), and `usesPerSampleRequests` says so.
public final class RemoteGenerator: ResponseGenerator, @unchecked Sendable {
    /// Where and how it sends.
    public let settings: RemoteSettings
    /// Encodes prompts' questions back to text and responses to ids.
    public let tokenizer: Tokenizer
    let client: RemoteClient
    private let lock = NSLock()
    private var fallback = false
    private var omitted: Set<String> = []
    private var modelLength: Int?? = .none
    private var served: String?

    /// The model name requests carry: `settings.model`, or what a reload switched to (a LoRA
    /// adapter's name, a model directory's path for a server that loads models by path).
    public var requestModel: String {
        get { lock.withLock { served ?? settings.model } }
        set { lock.withLock { served = newValue == settings.model ? nil : newValue } }
    }

    /// Whether `GET /v1/models` must list `settings.model` (false for servers that load a model
    /// directory named in the request, which list only what they have loaded).
    public let requireListed: Bool

    /// A generator for the model `settings.model` at `settings.url`.
    public init(settings: RemoteSettings, tokenizer: Tokenizer = .standard, requireListed: Bool = true) {
        self.settings = settings
        self.requireListed = requireListed
        self.tokenizer = tokenizer
        client = RemoteClient(settings)
    }

    /// Whether the server was found to ignore `n`, so that samples are asked one by one.
    public var usesPerSampleRequests: Bool { lock.withLock { fallback } }

    /// The optional fields the server refused, which free-text requests no longer send.
    public var omittedFields: Set<String> { lock.withLock { omitted } }

    /// Every request since the last `drainRecords` (what `requests.jsonl` gets).
    public func drainRecords() -> [RequestRecord] { client.drainRecords() }
    /// Every request not yet drained.
    public var records: [RequestRecord] { client.records }

    /// The served model's `max_model_len` from `GET /v1/models` (nil when the server does not
    /// say), asked once. Throws a one-line error when the server cannot be reached or does not
    /// serve `settings.model`.
    public func maxModelLength() throws -> Int? {
        if let known = lock.withLock({ modelLength }) { return known }
        if !requireListed {
            // A server that loads models by path lists what it has cached, not what it can load.
            _ = try client.send(settings.endpoint("/models"), body: nil, record: RequestRecord(endpoint: "models", tries: 0, seconds: 0))
            lock.withLock { modelLength = .some(nil) }
            return nil
        }
        let data = try client.send(settings.endpoint("/models"), body: nil, record: RequestRecord(endpoint: "models", tries: 0, seconds: 0))
        guard let o = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let list = o["data"] as? [[String: Any]] else {
            throw RemoteError("\(settings.endpoint("/models").absoluteString) did not answer a model list")
        }
        guard let card = list.first(where: { ($0["id"] as? String) == settings.model }) else {
            let names = list.compactMap { $0["id"] as? String }.prefix(5).map { "\"\($0)\"" }.joined(separator: ", ")
            throw RemoteError("the server does not serve \"\(settings.model)\" (it serves \(names.isEmpty ? "none" : names)); give --model one of them")
        }
        let length = (card["max_model_len"] as? Int).flatMap { $0 > 0 ? $0 : nil }
        lock.withLock { modelLength = .some(length) }
        return length
    }

    /// The `max_tokens` each prompt is sent: what its chunk allows in `Sampler.generate`.
    public static func maxTokens(for prompts: [SamplePrompt], k: Int, options: SamplingOptions, maxModelLength: Int?) -> [Int] {
        guard let length = maxModelLength else { return prompts.map { _ in options.maxTokens } }
        let perChunk = max(1, options.chunk / k)
        var out: [Int] = []
        var start = 0
        while start < prompts.count {
            let end = min(prompts.count, start + perChunk)
            let longest = prompts[start..<end].map(\.prompt.count).max()!
            let chunkLimit = max(1, min(options.maxTokens, length - longest))
            for p in prompts[start..<end] { out.append(max(1, min(chunkLimit, length - p.prompt.count))) }
            start = end
        }
        return out
    }

    /// `k` rollouts per prompt (the `ResponseGenerator` contract); a stop returns the prompts
    /// finished before it, in order; a failure that outlasts the retries throws one line.
    public func generate(_ prompts: [SamplePrompt], k: Int, options: SamplingOptions, seed: UInt64,
                         shouldStop: (() -> Bool)?) throws -> [[Rollout]] {
        guard k > 0 else { throw RemoteError("k must be at least 1") }
        if prompts.isEmpty || shouldStop?() == true { return [] }
        let limits = Self.maxTokens(for: prompts, k: k, options: options, maxModelLength: try maxModelLength())
        let results = try BoundedRunner.run(count: prompts.count, maxInFlight: settings.maxInFlight, transport: client.transport,
                                            shouldStop: shouldStop) { [self] i, stopped in
            try self.sample(prompts[i], index: i, k: k, options: options, maxTokens: limits[i], seed: seed, stopped: stopped)
        }
        var out: [[Rollout]] = []
        for r in results { guard let r else { break }; out.append(r) }
        return out
    }

    /// The `k` rollouts of one prompt: one request, or `k` when the server ignores `n`.
    func sample(_ p: SamplePrompt, index: Int, k: Int, options: SamplingOptions, maxTokens: Int, seed: UInt64,
                stopped: @escaping () -> Bool) throws -> [Rollout] {
        let (question, prefix) = ChatCompletion.split(p.prompt, tokenizer: tokenizer)
        return try draw(k: k, index: index, requestSeed: SeedMapping.requestSeed(seed: seed, stream: p.stream)) { n, seed, sample in
            let body = ChatCompletion.body(model: requestModel, question: question, image: p.image, n: n, options: options,
                                           maxTokens: maxTokens, seed: seed, responsePrefix: prefix)
            return try request(body, n: n, maxTokens: maxTokens, seed: seed, prompt: index, sample: sample, stopped: stopped) {
                try ChatCompletion.rollouts(from: $0, n: n, maxTokens: maxTokens, tokenizer: tokenizer, stopAtEOS: options.stopAtEOS)
            }
        }
    }

    /// `k` samples of prompt `index` from `ask(n, seed, sample)`: one request with n = k, or, once
    /// the server is known to ignore `n`, one request per sample with a derived seed.
    private func draw<R>(k: Int, index: Int, requestSeed: UInt64, _ ask: (Int, UInt64, Int?) throws -> [R]) throws -> [R] {
        if !usesPerSampleRequests {
            let drawn = try ask(k, requestSeed, nil)
            if drawn.count == k { return drawn }
            guard k > 1, drawn.count < k else { throw RemoteError("the server returned \(drawn.count) choices for n = \(k)") }
            // Fewer choices than n: the server ignores n. Every sample is asked alone from now on
            // (this prompt's too, so that a call's samples do not depend on when it was noticed).
            lock.withLock { fallback = true }
        }
        return try (0..<k).map { j in
            guard let r = try ask(1, SeedMapping.fallbackSeed(requestSeed: requestSeed, sample: j), j).first else {
                throw RemoteError("the server returned no choice for prompt \(index) sample \(j)")
            }
            return r
        }
    }

    /// One chat-completion request, recorded, its answer read by `parse`.
    private func request<R>(_ body: Data, n: Int, maxTokens: Int, seed: UInt64, prompt: Int, sample: Int?, stopped: @escaping () -> Bool,
                            parse: (Data) throws -> [R]) throws -> [R] {
        var rec = RequestRecord(endpoint: "chat/completions", prompt: prompt, sample: sample, n: n, seed: seed, max_tokens: maxTokens,
                                tries: 0, seconds: 0)
        let asked = requestModel
        if asked != settings.model { rec.model = asked }
        if usesPerSampleRequests { rec.fallback = true }
        do {
            return try client.send(settings.endpoint("/chat/completions"), body: body, record: rec, shouldStop: stopped) { data in
                let drawn = try parse(data)
                return (drawn, drawn.count)
            }
        } catch let e as RemoteError {
            throw RemoteError("prompt \(prompt): " + e.description, unreachable: e.unreachable)
        }
    }
}

extension RemoteGenerator: TextGenerator {
    /// Free-text responses to prompts of real datasets, with the concurrency, retries, n-fallback
    /// and records of `generate`. Each prompt gets `options.maxTokens`.
    public func generateText(_ prompts: [TextPrompt], k: Int, options: SamplingOptions, seed: UInt64,
                             shouldStop: (() -> Bool)?) throws -> [[TextRollout]] {
        guard k > 0 else { throw RemoteError("k must be at least 1") }
        if prompts.isEmpty || shouldStop?() == true { return [] }
        let maxTokens = options.maxTokens
        let results = try BoundedRunner.run(count: prompts.count, maxInFlight: settings.maxInFlight, transport: client.transport,
                                            shouldStop: shouldStop) { [self] i, stopped in
            let p = prompts[i]
            return try draw(k: k, index: i, requestSeed: SeedMapping.requestSeed(seed: seed, stream: p.stream)) { n, seed, sample in
                while true {
                    let omitting = omittedFields
                    let body = ChatCompletion.body(model: requestModel, prompt: p, n: n, options: options, maxTokens: maxTokens, seed: seed,
                                                   omitting: omitting)
                    do {
                        return try request(body, n: n, maxTokens: maxTokens, seed: seed, prompt: i, sample: sample, stopped: stopped) {
                            try ChatCompletion.texts(from: $0, n: n)
                        }
                    } catch let e as RemoteError {
                        // A server that refuses fields outside OpenAI's schema is asked again without them.
                        let refused = ChatCompletion.refusedFields(e).subtracting(omitting)
                        guard !refused.isEmpty else { throw e }
                        lock.withLock { omitted.formUnion(refused) }
                    }
                }
            }
        }
        var out: [[TextRollout]] = []
        for r in results { guard let r else { break }; out.append(r) }
        return out
    }
}
