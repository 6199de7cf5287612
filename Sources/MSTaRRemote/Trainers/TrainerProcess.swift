import Foundation
import MSTaRTensor

/// Runs a trainer as a child process in its own process group, streaming its output lines.
///
/// A trainer is often a tree of processes (`accelerate launch`, `torchrun`, DataLoader workers),
/// so a stop or a timeout signals the whole group: SIGINT first (Python's KeyboardInterrupt, which
/// the HF Trainer handles), SIGTERM after a grace period, then SIGKILL. stdout and stderr are read
/// on their own threads, so a chatty trainer never stalls on a full pipe.
public enum TrainerProcess {
    /// How the trainer ended.
    public enum Outcome: Sendable, Equatable {
        /// It exited with this status.
        case exited(Int32)
        /// A signal ended it.
        case signalled(Int32)
        /// It was stopped on request (`shouldStop`).
        case stopped
        /// It ran past its time limit and was stopped.
        case timedOut
    }

    /// What the run gave back.
    public struct Result: Sendable {
        /// How it ended.
        public var outcome: Outcome
        /// Its standard output, line by line (at most the last `keepLines`).
        public var stdout: [String]
        /// The last lines of its standard error.
        public var stderrTail: [String]
        /// Wall-clock seconds.
        public var seconds: Double
    }

    static let keepLines = 20_000
    static let grace = 10.0

    /// Runs `argv` (the program is looked up on PATH when it has no `/`) with `environment` added to
    /// mstar's, in `directory`; every line of its output (stdout and stderr) goes to `line` and, in
    /// full, to `log`. `shouldStop` is asked every 0.1 s.
    ///
    /// `starter: true` is for a command that starts a long-lived process and returns (a server
    /// restart): its output goes to `log` directly (the server it starts keeps writing there, and
    /// no pipe of mstar's is held open by it), and what it started is not stopped when it exits.
    public static func run(_ argv: [String], environment: [String: String], directory: URL, log: URL?,
                           timeout: Double? = nil, line: ((String) -> Void)? = nil, shouldStop: (() -> Bool)? = nil,
                           starter: Bool = false) throws -> Result {
        guard let program = argv.first else { throw TrainerError("the trainer's command is empty") }
        let start = Date()
        guard let executable = resolve(program) else {
            throw TrainerError("cannot find the trainer program \(program) on PATH; install it, or name it by its full path in the trainer configuration")
        }
        signal(SIGPIPE, SIG_IGN)
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        // Python trainers print as they go only when unbuffered.
        env["PYTHONUNBUFFERED"] = env["PYTHONUNBUFFERED"] ?? "1"

        var outPipe: [Int32] = [-1, -1], errPipe: [Int32] = [-1, -1]
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        if starter {
            posix_spawn_file_actions_addopen(&actions, 1, log?.path ?? "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0o644)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        } else {
            guard pipe(&outPipe) == 0, pipe(&errPipe) == 0 else { throw TrainerError("cannot make a pipe for the trainer: \(String(cString: strerror(errno)))") }
            posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
            posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
            for fd in outPipe + errPipe { posix_spawn_file_actions_addclose(&actions, fd) }
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Its own process group, so that a stop reaches every process it starts, and signals
        // that the terminal sends mstar's group (Ctrl-C) are mstar's to pass on.
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        posix_spawnattr_setpgroup(&attributes, 0)
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none); sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)

        // The child starts in `directory` (mstar's own working directory is the whole process's).
        guard let addchdir = Self.addchdir, addchdir(&actions, directory.path) == 0 else {
            throw TrainerError("cannot start the trainer in \(directory.path): this C library has no posix_spawn_file_actions_addchdir_np (glibc 2.29 or later has it)")
        }
        var pid: pid_t = 0
        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        let spawned = posix_spawn(&pid, executable, &actions, &attributes, cArgs, cEnv)
        for p in cArgs + cEnv { free(p) }
        for fd in [outPipe[1], errPipe[1]] where fd >= 0 { close(fd) }
        guard spawned == 0 else {
            for fd in [outPipe[0], errPipe[0]] where fd >= 0 { close(fd) }
            throw TrainerError("cannot start \(program): \(String(cString: strerror(spawned)))")
        }

        let sink = LineSink(log: starter ? nil : log, line: line)
        let group = DispatchGroup()
        if !starter {
            for (fd, isOut) in [(outPipe[0], true), (errPipe[0], false)] {
                DispatchQueue.global().async(group: group) { sink.drain(fd, isStdout: isOut); close(fd) }
            }
        }

        var outcome: Outcome?
        var status: Int32 = 0
        var signalled = false, killAt: Date?, termAt: Date?
        while true {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { break }
            if r < 0 && errno != EINTR { break }
            if !signalled {
                if shouldStop?() == true { outcome = .stopped }
                else if let t = timeout, Date().timeIntervalSince(start) > t { outcome = .timedOut }
                if outcome != nil {
                    signalled = true
                    kill(-pid, SIGINT)
                    termAt = Date().addingTimeInterval(grace)
                    killAt = Date().addingTimeInterval(2 * grace)
                }
            } else if let t = termAt, Date() > t {
                kill(-pid, SIGTERM); termAt = nil
            } else if let k = killAt, termAt == nil, Date() > k {
                kill(-pid, SIGKILL); killAt = nil
            }
            usleep(100_000)
        }
        // Children left in the group (workers of a trainer that exited) must not outlive it; what a
        // starter started is meant to.
        if !starter || outcome != nil { kill(-pid, SIGKILL) }
        group.wait()
        sink.finish()
        let code = status & 0x7f
        let final: Outcome = outcome ?? (code == 0 ? .exited((status >> 8) & 0xff) : .signalled(code))
        var tail = sink.stderrTail
        if starter, let log, let text = try? InputFile.text(log.path, limit: 64 << 20) {
            tail = Array(text.split(separator: "\n").suffix(50).map(String.init))
        }
        return Result(outcome: final, stdout: sink.stdoutLines, stderrTail: tail, seconds: Date().timeIntervalSince(start))
    }

    /// glibc's `posix_spawn_file_actions_addchdir_np` (2.29 and later), looked up at run time:
    /// Swift's Glibc module does not declare it.
    static let addchdir: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32)? = {
        guard let f = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addchdir_np") else { return nil }
        return unsafeBitCast(f, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32).self)
    }()

    /// The executable for `program`: itself when it has a `/`, else the first match on PATH.
    static func resolve(_ program: String) -> String? {
        if program.contains("/") { return access(program, X_OK) == 0 ? program : nil }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/\(program)"
            var st = stat()
            if access(candidate, X_OK) == 0, stat(candidate, &st) == 0, st.st_mode & S_IFMT == S_IFREG { return candidate }
        }
        return nil
    }
}

/// Collects a child's output lines from two threads: all to the log file and the callback, the
/// stdout lines and the stderr tail kept.
private final class LineSink: @unchecked Sendable {
    private let lock = NSLock()
    private let log: FileHandle?
    private let line: ((String) -> Void)?
    private(set) var stdoutLines: [String] = []
    private(set) var stderrTail: [String] = []

    init(log: URL?, line: ((String) -> Void)?) {
        if let log {
            FileManager.default.createFile(atPath: log.path, contents: nil)
            self.log = FileHandle(forWritingAtPath: log.path)
        } else {
            self.log = nil
        }
        self.line = line
    }

    func drain(_ fd: Int32, isStdout: Bool) {
        var pending = Data()
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = read(fd, &buffer, buffer.count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            pending.append(contentsOf: buffer[0..<n])
            // Progress bars redraw with \r: each redraw counts as a line.
            while let i = pending.firstIndex(where: { $0 == 10 || $0 == 13 }) {
                emit(String(decoding: pending[pending.startIndex..<i], as: UTF8.self), isStdout)
                pending.removeSubrange(pending.startIndex...i)
            }
            // A line without an end that grows past a limit is cut, so memory stays bounded.
            if pending.count > 1 << 20 { emit(String(decoding: pending, as: UTF8.self), isStdout); pending.removeAll() }
        }
        if !pending.isEmpty { emit(String(decoding: pending, as: UTF8.self), isStdout) }
    }

    private func emit(_ text: String, _ isStdout: Bool) {
        guard !text.isEmpty else { return }
        lock.withLock {
            try? log?.write(contentsOf: Data((text + "\n").utf8))
            if isStdout {
                stdoutLines.append(text)
                if stdoutLines.count > TrainerProcess.keepLines { stdoutLines.removeFirst(stdoutLines.count - TrainerProcess.keepLines) }
            } else {
                stderrTail.append(text)
                if stderrTail.count > 50 { stderrTail.removeFirst(stderrTail.count - 50) }
            }
            line?(text)
        }
    }

    func finish() { try? log?.close() }
}
