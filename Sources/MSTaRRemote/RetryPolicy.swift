import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Which failures are worth another try and how long to wait before it.
///
/// Transient: no answer at all (connection refused or reset: a server restarting), 429 (rate
/// limited) and 500/502/503/504 (overloaded, paused for a weight update, a proxy between). Not
/// retried: other 4xx (the request is wrong and will stay wrong), a timeout (the request is still
/// running on the server; sending it again adds load; raise `--timeout` instead), a body past the
/// size limit, and a malformed answer.
public struct RetryPolicy: Sendable, Equatable {
    /// Most tries of one request (at least 1).
    public var maxTries: Int
    /// The first retry's wait in seconds.
    public var backoff: Double
    /// The longest wait in seconds.
    public var maxBackoff: Double

    /// A policy from its fields.
    public init(maxTries: Int, backoff: Double, maxBackoff: Double) {
        self.maxTries = max(1, maxTries); self.backoff = backoff; self.maxBackoff = maxBackoff
    }

    /// Statuses that are retried.
    public static let transientStatuses: Set<Int> = [429, 500, 502, 503, 504]

    /// Whether an answer with `status` (nil: no answer) is retried.
    public static func isTransient(status: Int?) -> Bool {
        guard let status else { return true }
        return transientStatuses.contains(status)
    }

    /// Seconds to wait after failed try `attempt` (1 for the first): backoff · 2^(attempt-1), at
    /// most `maxBackoff`; a server's `Retry-After` of at most `maxBackoff` seconds is honoured when longer.
    public func delay(afterTry attempt: Int, retryAfter: String? = nil) -> Double {
        var d = min(maxBackoff, backoff * pow(2, Double(max(0, attempt - 1))))
        if let r = retryAfter.flatMap(Double.init), r.isFinite, r > d { d = min(r, maxBackoff) }
        return max(0, d)
    }
}

/// Sends JSON requests with retries and records each one; shared by the generator and the scorer.
final class RemoteClient: @unchecked Sendable {
    let settings: RemoteSettings
    let retry: RetryPolicy
    let transport: HTTPTransport
    private let lock = NSLock()
    private var log: [RequestRecord] = []

    init(_ settings: RemoteSettings) {
        self.settings = settings
        retry = RetryPolicy(maxTries: settings.maxTries, backoff: settings.backoff, maxBackoff: settings.maxBackoff)
        transport = HTTPTransport(maxBytes: settings.maxResponseBytes, timeout: settings.timeout)
    }

    /// Every request recorded since the last `drainRecords`, in the order they finished.
    func drainRecords() -> [RequestRecord] { lock.withLock { defer { log = [] }; return log } }
    var records: [RequestRecord] { lock.withLock { log } }

    func record(_ r: RequestRecord) {
        lock.withLock {
            log.append(r)
            if log.count > 1_000_000 { log.removeFirst(log.count - 1_000_000) }  // a caller that never drains
        }
    }

    /// The 2xx body of `body` sent to `url` (GET when nil), after retries; `record` is filled with
    /// status, tries and seconds and kept. Throws a one-line `RemoteError` otherwise;
    /// `Interrupted` when `cancelAll` stopped it.
    func send(_ url: URL, body: Data?, record template: RequestRecord, shouldStop: () -> Bool = { false }) throws -> Data {
        try send(url, body: body, record: template, shouldStop: shouldStop) { ($0, nil) }
    }

    /// `send`, with the 2xx body read by `parse` (which gives the value and the count of choices
    /// or scores to record); a parse error is recorded as the request's error and rethrown.
    func send<T>(_ url: URL, body: Data?, record template: RequestRecord, shouldStop: () -> Bool = { false },
                 parse: (Data) throws -> (T, Int?)) throws -> T {
        var rec = template
        let start = Date()
        defer { rec.seconds = Date().timeIntervalSince(start); record(rec) }
        let data = try exchange(url, body: body, rec: &rec, shouldStop: shouldStop)
        do {
            let (value, count) = try parse(data)
            rec.choices = count
            return value
        } catch {
            rec.error = "\(error)"
            throw error
        }
    }

    private func exchange(_ url: URL, body: Data?, rec: inout RequestRecord, shouldStop: () -> Bool) throws -> Data {
        var request = URLRequest(url: url)
        request.httpMethod = body == nil ? "GET" : "POST"
        request.httpBody = body
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        if let key = settings.apiKey { request.setValue("Bearer \(key)", forHTTPHeaderField: "Authorization") }
        var attempt = 0
        while true {
            attempt += 1
            rec.tries = attempt
            let outcome = transport.send(request, timeout: settings.timeout)
            var transient = false, retryAfter: String?
            let failure: RemoteError
            var advice = ""
            switch outcome {
            case .response(let status, let data, let headers):
                rec.status = status
                if (200..<300).contains(status) { rec.error = nil; return data }
                transient = RetryPolicy.isTransient(status: status)
                retryAfter = headers["retry-after"]
                failure = RemoteError("\(url.absoluteString) answered \(status): \(Self.message(data))")
            case .failed(let why):
                transient = true
                failure = RemoteError("cannot reach \(url.absoluteString): \(why)", unreachable: true)
                advice = "; is the server running (mstar serve, vllm serve)? or use backend native"
            case .timedOut:
                failure = RemoteError("\(url.absoluteString) did not answer within \(formatSeconds(settings.timeout)) s; raise --timeout or check the server")
            case .tooLarge:
                failure = RemoteError("\(url.absoluteString) sent more than \(settings.maxResponseBytes) bytes; refused")
            case .cancelled:
                rec.error = "interrupted"
                throw RemoteInterrupted()
            }
            rec.error = failure.description
            guard transient, attempt < retry.maxTries, !shouldStop() else {
                let tries = transient && attempt > 1 ? " (after \(attempt) tries)" : ""
                rec.error = failure.description + tries
                throw RemoteError(failure.description + tries + advice, unreachable: failure.unreachable)
            }
            // Waits in short slices so that an interrupt does not wait out the backoff.
            let until = Date().addingTimeInterval(retry.delay(afterTry: attempt, retryAfter: retryAfter))
            while Date() < until {
                if shouldStop() { rec.error = "interrupted"; throw RemoteInterrupted() }
                Thread.sleep(forTimeInterval: min(0.02, max(0, until.timeIntervalSinceNow)))
            }
        }
    }

    /// The `error.message` of an OpenAI-style error body, or its first 200 bytes, on one line.
    static func message(_ data: Data) -> String {
        if let o = try? JSONSerialization.jsonObject(with: data.prefix(1 << 16)) as? [String: Any],
           let e = o["error"] as? [String: Any], let m = e["message"] as? String {
            return oneLine(m)
        }
        if let o = try? JSONSerialization.jsonObject(with: data.prefix(1 << 16)) as? [String: Any], let m = o["detail"] as? String {
            return oneLine(m)  // FastAPI's errors
        }
        let text = oneLine(String(decoding: data.prefix(200), as: UTF8.self))
        return text.isEmpty ? "(empty body)" : text
    }
}

/// An interrupt cut a remote call short.
struct RemoteInterrupted: Error {}

/// `text` on one line, at most 300 characters.
func oneLine(_ text: String) -> String {
    let flat = text.map { $0.isNewline || $0 == "\t" ? " " : $0 }
    let s = String(flat)
    return s.count > 300 ? String(s.prefix(297)) + "..." : s
}

func formatSeconds(_ s: Double) -> String { s == s.rounded() ? String(Int(s)) : String(format: "%.2f", s) }
