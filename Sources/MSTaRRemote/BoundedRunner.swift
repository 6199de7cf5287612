import Foundation

/// Runs `count` jobs on at most `maxInFlight` threads and waits for them, watching `shouldStop`.
///
/// Each job blocks on its HTTP requests, so plain threads (not Swift concurrency's few cooperative
/// ones) carry them. The first error stops the jobs not yet started and is rethrown once the
/// running ones end; a stop cancels the requests in flight and returns what finished.
enum BoundedRunner {
    /// Each job's result (nil where it did not finish because of a stop); throws the first error.
    static func run<T>(count: Int, maxInFlight: Int, transport: HTTPTransport, shouldStop: (() -> Bool)?,
                       _ job: @escaping @Sendable (Int, @escaping @Sendable () -> Bool) throws -> T) throws -> [T?] {
        guard count > 0 else { return [] }
        let state = RunnerState(count)
        let group = DispatchGroup()
        let stopped: @Sendable () -> Bool = { state.lock.withLock { state.stop || state.error != nil } }
        for _ in 0..<max(1, min(maxInFlight, count)) {
            group.enter()
            let thread = Thread {
                defer { group.leave() }
                while true {
                    let i = state.lock.withLock { () -> Int? in
                        guard !state.stop, state.error == nil, state.next < count else { return nil }
                        defer { state.next += 1 }
                        return state.next
                    }
                    guard let i else { return }
                    do {
                        let r = try job(i, stopped)
                        state.lock.withLock { state.results[i] = r }
                    } catch is RemoteInterrupted {
                        return
                    } catch {
                        // The error of the earliest job is the one reported (the same on every run).
                        state.lock.withLock { if i < state.errorIndex { state.error = error; state.errorIndex = i } }
                        return
                    }
                }
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
        while group.wait(timeout: .now() + 0.02) == .timedOut {
            // An error ends the call as a stop does: the other requests in flight are cancelled.
            let failed = state.lock.withLock { state.error != nil }
            if failed || shouldStop?() == true {
                if !failed { state.lock.withLock { state.stop = true } }
                transport.cancelAll()
                group.wait()
                transport.reset()
                break
            }
        }
        if let e = state.lock.withLock({ state.error }), !state.lock.withLock({ state.stop }) { throw e }
        return state.results.map { $0 as? T }
    }
}

/// The jobs' shared state, under `lock`.
private final class RunnerState: @unchecked Sendable {
    let lock = NSLock()
    var next = 0
    var results: [Any?]
    var error: (any Error)?
    var errorIndex = Int.max
    var stop = false
    init(_ n: Int) { results = Array(repeating: nil, count: n) }
}
