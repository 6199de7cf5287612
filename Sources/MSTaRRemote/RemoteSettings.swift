import Foundation

/// Where a remote backend is and how hard the client tries: what `backend remote` sets.
public struct RemoteSettings: Sendable, Equatable {
    /// The OpenAI-compatible base URL, e.g. `http://127.0.0.1:8000/v1` (chat completions and models under it).
    public var url: URL
    /// The served model's name (`model` in every request).
    public var model: String
    /// Sent as `Authorization: Bearer …` when set; read from an environment variable, never journaled.
    public var apiKey: String?
    /// Most requests in flight at once.
    public var maxInFlight: Int
    /// Seconds one request may take, from sending it to its last byte.
    public var timeout: Double
    /// Most tries of one request (the first and its retries).
    public var maxTries: Int
    /// The first retry's wait in seconds; each further retry waits twice as long, up to `maxBackoff`.
    public var backoff: Double
    /// The longest wait between tries, in seconds.
    public var maxBackoff: Double
    /// Most bytes of one response body (a larger one is cut off and is an error).
    public var maxResponseBytes: Int

    /// Settings with the defaults `backend remote` uses.
    public init(url: URL, model: String, apiKey: String? = nil, maxInFlight: Int = 8, timeout: Double = 120,
                maxTries: Int = 4, backoff: Double = 0.25, maxBackoff: Double = 4, maxResponseBytes: Int = 16 << 20) {
        self.url = url; self.model = model; self.apiKey = apiKey; self.maxInFlight = maxInFlight; self.timeout = timeout
        self.maxTries = maxTries; self.backoff = backoff; self.maxBackoff = maxBackoff; self.maxResponseBytes = maxResponseBytes
    }

    /// The server's root: the base URL without a trailing `/v1` (vLLM serves `/pooling` and `/health` there).
    public var root: URL {
        var s = url.absoluteString
        while s.hasSuffix("/") { s.removeLast() }
        if s.hasSuffix("/v1") { s.removeLast(3) }
        return URL(string: s) ?? url
    }

    /// `path` under the base URL.
    func endpoint(_ path: String) -> URL {
        var s = url.absoluteString
        while s.hasSuffix("/") { s.removeLast() }
        return URL(string: s + path) ?? url
    }
}

/// What one request did, as `requests.jsonl` records it: enough to see retries, fallbacks and
/// what the server answered without keeping the bodies.
public struct RequestRecord: Codable, Sendable, Equatable {
    /// `chat/completions`, `pooling` or `models`.
    public var endpoint: String
    /// The model asked for, when it is not `--model` (a trainer's model directory or adapter).
    public var model: String?
    /// The prompt (or scored item) of the call it served, from 0.
    public var prompt: Int?
    /// The sample it asked for alone (the n-fallback), or nil for all `n`.
    public var sample: Int?
    /// Choices asked for.
    public var n: Int?
    /// The seed sent.
    public var seed: UInt64?
    /// The `max_tokens` sent.
    public var max_tokens: Int?
    /// The last HTTP status (nil when no response came).
    public var status: Int?
    /// Tries made (1 when the first one succeeded).
    public var tries: Int
    /// Seconds from the first try to the last answer.
    public var seconds: Double
    /// Choices (or scores) received.
    public var choices: Int?
    /// Why it failed, in one line (nil when it succeeded).
    public var error: String?
    /// True when the server returned fewer choices than `n` and the samples were asked one by one.
    public var fallback: Bool?

    /// One JSON line.
    public func jsonLine() -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return (try? e.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}

/// A remote call that failed for good: one line that says what happened and what to do.
public struct RemoteError: Error, CustomStringConvertible, Sendable {
    /// The line.
    public var description: String
    /// Whether no answer came at all (the server is down or unreachable).
    public var unreachable: Bool
    /// The line as an error.
    public init(_ description: String, unreachable: Bool = false) { self.description = description; self.unreachable = unreachable }
}
