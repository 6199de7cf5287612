import CZMQ
import Foundation
import MSTaRWorkbench

/// The mstar Jupyter kernel: the Jupyter messaging protocol (5.3) over ZeroMQ, running cells of the
/// command language in one workbench session.
///
/// Threads. ZeroMQ sockets are not thread-safe, so one I/O thread owns the five channels: it
/// answers the control channel at once (interrupt, shutdown, kernel_info: they must work while a
/// cell runs) and queues shell requests for the worker, the thread `run()` is called on, which
/// owns the session and runs one request at a time, in order, as Jupyter expects. The worker's
/// replies and publications go back to the I/O thread through an inproc socket. The heartbeat
/// echoes on a thread of its own, so a long `evolve` never looks like a dead kernel.
public final class Kernel: @unchecked Sendable {
    /// What the kernel reports about itself in kernel_info_reply.
    public struct Identity: Sendable {
        /// mstar's version.
        public var version: String
        /// The banner Jupyter console shows.
        public var banner: String

        /// An identity.
        public init(version: String, banner: String) {
            self.version = version
            self.banner = banner
        }
    }

    enum Channel: UInt8 { case shell = 0, iopub = 1, control = 2, stdin = 3, done = 255 }
    private enum Job { case shell([Data]), stop }

    let session: Session
    let wire: Wire
    let identity: Identity
    private let connection: ConnectionInfo
    private let context: ZMQContext
    // Owned by the I/O thread.
    private let shell, control, stdin, iopub, outboxIn: ZMQSocket
    private let heartbeat: ZMQSocket
    // Used by the worker (and progress, from whichever thread draws it) under `outboxLock`.
    private let outboxOut: ZMQSocket
    private let outboxLock = NSLock()
    // The shell queue, under `queue`'s lock.
    private let queue = NSCondition()
    private var jobs: [Job] = []
    // Shutdown, read by the I/O thread.
    private let stateLock = NSLock()
    private var shutdownDeadline: Double?
    private var workerDone = false
    /// Touched only by the worker.
    var executionCount = 0
    /// The request the worker is running (progress displays answer it), under `stateLock`.
    private var runningRequest: KernelMessage?
    private var progressDisplay: String?

    /// Binds the five channels the connection file names. Nothing runs until `run()`.
    public init(connection: ConnectionInfo, session: Session, identity: Identity) throws(KernelError) {
        self.connection = connection
        self.session = session
        self.identity = identity
        wire = Wire(signer: MessageSigner(key: connection.key), session: UUID().uuidString.lowercased())
        context = try ZMQContext()
        shell = try ZMQSocket(context, type: ZMQ_ROUTER)
        control = try ZMQSocket(context, type: ZMQ_ROUTER)
        stdin = try ZMQSocket(context, type: ZMQ_ROUTER)
        iopub = try ZMQSocket(context, type: ZMQ_PUB)
        heartbeat = try ZMQSocket(context, type: ZMQ_REP)
        outboxIn = try ZMQSocket(context, type: ZMQ_PULL)
        outboxOut = try ZMQSocket(context, type: ZMQ_PUSH)
        let ipv6 = connection.transport == "tcp" && connection.ip.contains(":")
        for (socket, port) in [(shell, connection.shellPort), (control, connection.controlPort), (stdin, connection.stdinPort),
                               (iopub, connection.iopubPort), (heartbeat, connection.hbPort)] {
            if ipv6 { socket.setOption(ZMQ_IPV6, 1) }
            try socket.bind(connection.endpoint(port))
        }
        let inproc = "inproc://mstar-kernel-outbox"
        try outboxIn.bind(inproc)
        try outboxOut.connect(inproc)
    }

    /// Serves until a shutdown request (or the parent process, when Jupyter named it, going
    /// away); returns on the I/O thread's `exit`, so in practice never.
    public func run() -> Never {
        Interrupt.install()  // a kernelspec with interrupt_mode signal sends SIGINT, as Ctrl-C at the REPL
        session.progressStyle = .bar
        session.progressWriter = { [unowned self] text in self.progress(text) }
        session.logWriter = { [unowned self] text in self.log(stream: text) }
        let hb = Thread { [heartbeat] in
            while true {
                if ZMQSocket.poll([heartbeat], timeoutMS: 1000)[0], let frames = heartbeat.receive() { heartbeat.send(frames) }
            }
        }
        hb.name = "mstar-kernel-heartbeat"
        hb.start()
        let io = Thread { [unowned self] in self.serveChannels() }
        io.name = "mstar-kernel-io"
        io.stackSize = 1 << 22
        io.start()
        workLoop()
        post(.done, [])
        while true { sleep(60) }  // the I/O thread ends the process once the last replies are out
    }

    // MARK: the I/O thread

    private func serveChannels() {
        iopub.send(wire.publication("status", content: ["execution_state": "starting"], parent: nil))
        let parentPID = ProcessInfo.processInfo.environment["JPY_PARENT_PID"].flatMap { Int32($0) }
        let sockets = [outboxIn, control, shell, stdin]
        while true {
            let ready = ZMQSocket.poll(sockets, timeoutMS: 100)
            if ready[0] { while let frames = outboxIn.receive() { forward(frames) } }
            if ready[1] { while let frames = control.receive() { handleControl(frames) } }
            if ready[2] { while let frames = shell.receive() { enqueue(.shell(frames)) } }
            if ready[3] { while stdin.receive() != nil {} }  // no command asks for input
            let (deadline, done) = stateLock.withLock { (shutdownDeadline, workerDone) }
            if let deadline, done || now() > deadline { finish(status: 0) }
            // Jupyter names its process; a kernel whose server died would otherwise run on alone.
            if let parentPID, parentPID > 1, getppid() != parentPID { finish(status: 0) }
        }
    }

    private func forward(_ frames: [Data]) {
        guard let first = frames.first, first.count == 1, let channel = Channel(rawValue: first[0]) else { return }
        let rest = Array(frames.dropFirst())
        switch channel {
        case .shell: shell.send(rest)
        case .iopub: iopub.send(rest)
        case .control: control.send(rest)
        case .stdin: stdin.send(rest)
        case .done: stateLock.withLock { workerDone = true }
        }
    }

    /// Closes the channels, gives the last messages a moment to leave, and ends the process.
    private func finish(status: Int32) -> Never {
        while let frames = outboxIn.receive() { forward(frames) }
        for s in [shell, control, stdin, iopub] { s.close() }
        usleep(100_000)
        exit(status)
    }

    private func handleControl(_ frames: [Data]) {
        let message: KernelMessage
        do { message = try wire.decode(frames) } catch {
            log("dropped a message on the control channel: \(error)")
            return
        }
        iopub.send(wire.publication("status", content: ["execution_state": "busy"], parent: message))
        switch message.type {
        case "kernel_info_request":
            control.send(wire.encode("kernel_info_reply", content: kernelInfo(), parent: message))
        case "interrupt_request":
            Interrupt.request()
            control.send(wire.encode("interrupt_reply", content: ["status": "ok"], parent: message))
        case "shutdown_request":
            let restart = message.content["restart"] as? Bool ?? false
            control.send(wire.encode("shutdown_reply", content: ["status": "ok", "restart": restart], parent: message))
            beginShutdown()
        default:
            // debug_request and the like: answered with an error so the client does not wait.
            if message.type.hasSuffix("_request") {
                control.send(wire.encode(Kernel.replyType(message), content: ["status": "error", "ename": "NotImplemented",
                                                          "evalue": "the mstar kernel does not answer \(message.type)", "traceback": [String]()],
                                         parent: message))
            }
        }
        iopub.send(wire.publication("status", content: ["execution_state": "idle"], parent: message))
    }

    /// Stops the running command at its next safe point, drops queued cells, and gives the
    /// worker a few seconds to finish before the process ends (the journal holds every completed command).
    private func beginShutdown() {
        Interrupt.request()
        queue.withLock {
            jobs = [.stop]
            queue.signal()
        }
        stateLock.withLock { shutdownDeadline = now() + 3 }
    }

    private func enqueue(_ job: Job) {
        queue.withLock {
            jobs.append(job)
            queue.signal()
        }
    }

    // MARK: the worker

    private func workLoop() {
        while true {
            let job: Job = queue.withLock {
                while jobs.isEmpty { queue.wait() }
                return jobs.removeFirst()
            }
            guard case .shell(let frames) = job else { return }
            let message: KernelMessage
            do { message = try wire.decode(frames) } catch {
                log("dropped a message on the shell channel: \(error)")
                continue
            }
            publish("status", ["execution_state": "busy"], parent: message)
            handleShell(message)
            publish("status", ["execution_state": "idle"], parent: message)
        }
    }

    private func handleShell(_ message: KernelMessage) {
        switch message.type {
        case "execute_request":
            let failed = execute(message)
            if failed && (message.content["stop_on_error"] as? Bool ?? true) { abortQueuedCells() }
        case "complete_request": reply(message, content: Introspection.complete(message.content, session: session))
        case "inspect_request": reply(message, content: Introspection.inspect(message.content, session: session))
        case "is_complete_request": reply(message, content: Introspection.isComplete(message.content))
        case "kernel_info_request": reply(message, content: kernelInfo())
        case "history_request": reply(message, content: ["status": "ok", "history": [Any]()])
        case "comm_info_request": reply(message, content: ["status": "ok", "comms": [String: Any]()])
        case "shutdown_request":  // older clients send it on shell
            reply(message, content: ["status": "ok", "restart": message.content["restart"] as? Bool ?? false])
            beginShutdown()
        case "comm_open", "comm_msg", "comm_close": break  // no widgets
        default: log("ignored a \(message.type) on the shell channel")
        }
    }

    /// After a failed cell, the cells queued behind it are not run (Jupyter's "stop on error"):
    /// each gets an `aborted` reply.
    private func abortQueuedCells() {
        let aborted: [KernelMessage] = queue.withLock {
            var kept: [Job] = [], dropped: [KernelMessage] = []
            for job in jobs {
                if case .shell(let frames) = job, let m = try? wire.decode(frames), m.type == "execute_request" { dropped.append(m) } else { kept.append(job) }
            }
            jobs = kept
            return dropped
        }
        for m in aborted {
            publish("status", ["execution_state": "busy"], parent: m)
            reply(m, content: ["status": "aborted", "execution_count": executionCount])
            publish("status", ["execution_state": "idle"], parent: m)
        }
    }

    func kernelInfo() -> [String: Any] {
        [
            "status": "ok",
            "protocol_version": KernelMessage.protocolVersion,
            "implementation": "mstar",
            "implementation_version": identity.version,
            "language_info": [
                "name": "mstar", "version": identity.version, "mimetype": "text/x-mstar", "file_extension": ".mstar",
                // The command language reads like a shell: words, quotes, `#` comments, `\` continuations.
                "pygments_lexer": "bash", "codemirror_mode": "shell",
            ] as [String: Any],
            "banner": identity.banner,
            "help_links": [[String: String]](),
            "debugger": false,
        ]
    }

    // MARK: sending (worker side)

    private func post(_ channel: Channel, _ frames: [Data]) {
        outboxLock.withLock { outboxOut.send([Data([channel.rawValue])] + frames) }
    }

    func publish(_ type: String, _ content: [String: Any], parent: KernelMessage?, metadata: [String: Any] = [:]) {
        post(.iopub, wire.publication(type, content: content, parent: parent, metadata: metadata))
    }

    func reply(_ request: KernelMessage, content: [String: Any]) {
        post(.shell, wire.encode(Kernel.replyType(request), content: content, parent: request))
    }

    /// `kernel_info_request` is answered by `kernel_info_reply`.
    static func replyType(_ request: KernelMessage) -> String {
        (request.type.hasSuffix("_request") ? String(request.type.dropLast("_request".count)) : request.type) + "_reply"
    }

    /// Marks the request whose outputs progress displays belong to (nil when it ends).
    func setRunning(_ message: KernelMessage?) {
        stateLock.withLock {
            runningRequest = message
            progressDisplay = nil
        }
    }

    /// A progress bar's redraw (`\r` then the bar; a final newline when it ends) as a display
    /// updated in place: display_data the first time, update_display_data after.
    private func progress(_ text: String) {
        // The bar is padded to a terminal's width so a shorter redraw covers the last; a display needs no padding.
        let bar = text.trimmingCharacters(in: CharacterSet(charactersIn: "\r\n")).replacingOccurrences(of: " +$", with: "", options: .regularExpression)
        let ended = text.hasSuffix("\n")
        let (parent, display, isNew): (KernelMessage?, String, Bool) = stateLock.withLock {
            let isNew = progressDisplay == nil
            let id = progressDisplay ?? UUID().uuidString.lowercased()
            progressDisplay = ended ? nil : id
            return (runningRequest, id, isNew)
        }
        guard let parent else { return }
        if bar.isEmpty { return }  // the closing newline of a bar stopped early
        let content: [String: Any] = ["data": ["text/plain": bar], "metadata": [NotebookOutput.metadataKey: ["recorded": [String](), "progress": true]],
                                      "transient": ["display_id": display]]
        publish(isNew ? "display_data" : "update_display_data", content, parent: parent)
    }

    /// A live log line (a trainer's output) as the running cell's stderr stream: shown as it comes,
    /// never part of what a replay compares.
    private func log(stream text: String) {
        guard let parent = stateLock.withLock({ runningRequest }) else { return }
        publish("stream", ["name": "stderr", "text": text], parent: parent)
    }

    func log(_ message: String) {
        FileHandle.standardError.write(Data("mstar kernel: \(message)\n".utf8))
    }

    private func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
}
