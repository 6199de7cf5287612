import Foundation
import Synchronization

/// Thrown at a safe point after Ctrl-C: the command stops, the session stays as it was after the
/// last completed unit of work, and the REPL prints `interrupted`.
public struct Interrupted: Error, Sendable, Equatable, CustomStringConvertible {
    /// An interruption.
    public init() {}
    public var description: String { "interrupted" }
}

/// A Ctrl-C flag: a count of presses not yet acted on.
public final class InterruptFlag: Sendable {
    let presses = Atomic<Int>(0)

    /// A flag with nothing pending.
    public init() {}
}

/// Ctrl-C as a flag that long-running work polls at safe points (between batches, between steps).
///
/// The SIGINT handler only sets the flag; work calls `Interrupt.check()` where stopping leaves
/// consistent state. A third Ctrl-C before anything polls ends the process (a command that never polls).
public enum Interrupt {
    private static let global = InterruptFlag()
    private static let installed = Atomic<Bool>(false)
    @TaskLocal private static var local: InterruptFlag?

    /// The flag this task sees: the process-wide one that SIGINT sets, unless a private one is bound.
    private static var current: InterruptFlag { local ?? global }

    /// Installs the SIGINT handler (idempotent).
    public static func install() {
        guard !installed.exchange(true, ordering: .relaxed) else { return }
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in
            let n = Interrupt.global.presses.add(1, ordering: .relaxed).newValue
            if n >= 3 {
                let msg = "\nmstar: interrupted three times without reaching a safe point; exiting\n"
                _ = msg.withCString { write(2, $0, strlen($0)) }
                _exit(130)
            }
        }
        sigemptyset(&action.sa_mask)
        action.sa_flags = SA_RESTART  // reads in progress resume; the flag is what work looks at
        sigaction(SIGINT, &action, nil)
    }

    /// True when Ctrl-C was pressed since the last `clear()`.
    public static var requested: Bool { current.presses.load(ordering: .relaxed) > 0 }

    /// Throws `Interrupted` when Ctrl-C was pressed: call between units of work.
    public static func check() throws(Interrupted) {
        if requested { throw Interrupted() }
    }

    /// Forgets a pending Ctrl-C (before each command starts).
    public static func clear() { current.presses.store(0, ordering: .relaxed) }

    /// Sets the flag as Ctrl-C would (tests, and callers that cancel programmatically).
    public static func request() { current.presses.add(1, ordering: .relaxed) }

    /// Runs `body` with a flag of its own, so concurrent tests cannot interrupt each other.
    public static func withPrivateFlag<T>(_ body: () throws -> T) rethrows -> T {
        try $local.withValue(InterruptFlag()) { try body() }
    }
}
