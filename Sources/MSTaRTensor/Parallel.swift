#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
import Dispatch

/// Lets a non-escaping closure cross into `concurrentPerform`'s @Sendable one. Safe here because
/// every worker writes only its own part of the outputs and the call returns after all finish.
private struct UncheckedSendable<T>: @unchecked Sendable { let value: T }

/// Runs `body(worker)` for 0..<workers concurrently and returns when all are done.
private func runWorkers(_ workers: Int, _ body: (Int) -> Void) {
    withoutActuallyEscaping(body) { body in
        let box = UncheckedSendable(value: body)
        DispatchQueue.concurrentPerform(iterations: workers) { w in box.value(w) }
    }
}

/// Splits 0..<n into contiguous chunks and runs `body(range)` on each, in parallel when the work
/// is large enough to pay for it. Chunk boundaries depend only on `n`, `grain` and
/// `Runtime.threads`, so results are the same bytes run to run.
@inline(__always)
public func parallelFor(_ n: Int, grain: Int = 32_768, _ body: (Range<Int>) -> Void) {
    let workers = Swift.min(Runtime.threads, Swift.max(1, n / Swift.max(grain, 1)))
    if workers <= 1 {
        body(0..<n)
        return
    }
    let chunk = (n + workers - 1) / workers
    runWorkers(workers) { w in
        let lo = w * chunk
        let hi = Swift.min(n, lo + chunk)
        if lo < hi { body(lo..<hi) }
    }
}

/// Runs `body(i)` for i in 0..<n over the runtime's threads, each index on exactly one thread.
/// For independent units of work (attention heads, samples) that write disjoint outputs.
public func parallelEach(_ n: Int, _ body: (Int) -> Void) {
    let workers = Swift.min(Runtime.threads, n)
    if workers <= 1 {
        for i in 0..<n { body(i) }
        return
    }
    runWorkers(workers) { w in
        var i = w
        while i < n { body(i); i += workers }
    }
}

/// Runs `body(job)` for every job in 0..<n, each job whole on one thread, the threads taking the
/// next job as they finish one (jobs may differ a lot in cost). Inside a job the runtime has one
/// thread: nested products and loops stay on it, so a job's results are the bits it has alone.
/// For many small sequential tasks (decoding a chunk of prompts), whose own steps are too short to
/// split well over threads. `stop` is asked before each job is handed out, by one thread at a
/// time; once it says yes no further job starts. Returns when every started job has finished;
/// when jobs threw, throws the error of the lowest-numbered one (what one thread would throw).
public func parallelJobs(_ n: Int, stop: (() -> Bool)? = nil, _ body: (Int) throws -> Void) throws {
    let workers = Swift.min(Runtime.threads, n)
    if workers <= 1 {
        for i in 0..<n {
            if stop?() == true { return }
            try body(i)
        }
        return
    }
    let queue = JobQueue(count: n)
    runWorkers(workers) { _ in
        Runtime.withThreads(1) {
            while let i = queue.next(stop) {
                do { try body(i) } catch { queue.fail(i, error) }
            }
        }
    }
    if let failure = queue.failure { throw failure.error }
}

/// Hands out job numbers 0..<count once each across threads, until a stop.
private final class JobQueue: @unchecked Sendable {
    private var next = 0
    private let count: Int
    private var lock = pthread_mutex_t()
    init(count: Int) {
        self.count = count
        pthread_mutex_init(&lock, nil)
    }
    deinit { pthread_mutex_destroy(&lock) }
    /// The lowest-numbered job that threw, and its error (read after the workers finish).
    private(set) var failure: (job: Int, error: Error)?
    func fail(_ job: Int, _ error: Error) {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        if failure.map({ job < $0.job }) ?? true { failure = (job, error) }
    }
    func next(_ stop: (() -> Bool)?) -> Int? {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        guard next < count else { return nil }
        if stop?() == true {
            next = count
            return nil
        }
        next += 1
        return next - 1
    }
}
