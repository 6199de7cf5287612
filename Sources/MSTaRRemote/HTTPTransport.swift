import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Blocking HTTP requests over one URLSession, each with a wall-clock deadline and a bound on its
/// body: whatever a server sends (nothing, slowly, or without end), `send` returns by the deadline
/// with at most `maxBytes` of body.
final class HTTPTransport: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    /// What came back: a status and a body, or a failure.
    enum Outcome {
        case response(status: Int, body: Data, headers: [String: String])
        /// No answer: connection refused, reset, DNS, …
        case failed(String)
        /// Nothing complete by the deadline.
        case timedOut
        /// The body grew past the limit.
        case tooLarge
        /// `cancelAll` stopped it (an interrupt).
        case cancelled
    }

    private final class Pending {
        var body = Data()
        var response: HTTPURLResponse?
        var error: (any Error)?
        var tooLarge = false
        let done = DispatchSemaphore(value: 0)
    }

    private let lock = NSLock()
    private var pending: [Int: Pending] = [:]
    private var tasks: [Int: URLSessionTask] = [:]
    private var cancelled = false
    private let maxBytes: Int
    private var session: URLSession!

    init(maxBytes: Int, timeout: Double) {
        self.maxBytes = maxBytes
        super.init()
        let config = URLSessionConfiguration.ephemeral
        // The deadline in `send` is the limit; these only keep URLSession from giving up first.
        config.timeoutIntervalForRequest = timeout + 5
        config.timeoutIntervalForResource = timeout + 5
        config.httpMaximumConnectionsPerHost = 64
        config.requestCachePolicy = .reloadIgnoringLocalCacheData
        let queue = OperationQueue()
        queue.maxConcurrentOperationCount = 1
        session = URLSession(configuration: config, delegate: self, delegateQueue: queue)
    }

    deinit { session?.invalidateAndCancel() }

    /// Sends `request` and waits for its whole answer, at most `timeout` seconds.
    func send(_ request: URLRequest, timeout: Double) -> Outcome {
        let p = Pending()
        let task = session.dataTask(with: request)
        let refused = lock.withLock { () -> Bool in
            if cancelled { return true }
            pending[task.taskIdentifier] = p; tasks[task.taskIdentifier] = task
            return false
        }
        if refused { return .cancelled }
        task.resume()
        var timedOut = false
        if p.done.wait(timeout: .now() + timeout) == .timedOut {
            timedOut = true
            task.cancel()
            _ = p.done.wait(timeout: .now() + 5)
        }
        let stopped = lock.withLock { () -> Bool in
            pending[task.taskIdentifier] = nil; tasks[task.taskIdentifier] = nil
            return cancelled
        }
        return lock.withLock {
            if p.tooLarge { return .tooLarge }
            if timedOut { return stopped ? .cancelled : .timedOut }
            if let e = p.error {
                if stopped { return .cancelled }
                return .failed(Self.describe(e))
            }
            guard let r = p.response else { return .failed("no HTTP response") }
            var headers: [String: String] = [:]
            for (k, v) in r.allHeaderFields { if let k = k as? String, let v = v as? String { headers[k.lowercased()] = v } }
            return .response(status: r.statusCode, body: p.body, headers: headers)
        }
    }

    /// Cancels every request in flight and refuses new ones (an interrupt).
    func cancelAll() {
        let all = lock.withLock { () -> [URLSessionTask] in cancelled = true; return Array(tasks.values) }
        for t in all { t.cancel() }
    }

    /// Accepts requests again after `cancelAll`.
    func reset() { lock.withLock { cancelled = false } }

    static func describe(_ e: any Error) -> String {
        let ns = e as NSError
        return ns.localizedDescription.isEmpty ? "\(e)" : ns.localizedDescription
    }

    // MARK: URLSessionDataDelegate (on the session's serial queue)

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping (URLSession.ResponseDisposition) -> Void) {
        lock.withLock { pending[dataTask.taskIdentifier]?.response = response as? HTTPURLResponse }
        completionHandler(.allow)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        let over = lock.withLock { () -> Bool in
            guard let p = pending[dataTask.taskIdentifier], !p.tooLarge else { return false }
            if p.body.count + data.count > maxBytes { p.tooLarge = true; return true }
            p.body.append(data)
            return false
        }
        if over { dataTask.cancel() }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: (any Error)?) {
        let p = lock.withLock { () -> Pending? in
            let p = pending[task.taskIdentifier]
            p?.error = error
            if p?.response == nil { p?.response = task.response as? HTTPURLResponse }
            return p
        }
        p?.done.signal()
    }
}
