import CZMQ
import Foundation

/// A ZeroMQ context: owns the I/O threads of every socket made from it.
final class ZMQContext: @unchecked Sendable {
    let raw: UnsafeMutableRawPointer

    init() throws(KernelError) {
        guard let c = zmq_ctx_new() else { throw KernelError("cannot start ZeroMQ: \(ZMQSocket.lastError())") }
        raw = c
    }
}

/// One ZeroMQ socket. A socket is used by one thread at a time (ZeroMQ's rule): the kernel's I/O
/// thread owns the channels; the worker reaches them through an inproc PUSH socket under a lock.
final class ZMQSocket: @unchecked Sendable {
    let raw: UnsafeMutableRawPointer
    /// Frames per message past which a message is dropped (a Jupyter message has six plus buffers).
    static let maxFrames = 1024
    /// Bytes per frame past which ZeroMQ drops the peer (cells, completions and replies are far smaller).
    static let maxFrameBytes: Int64 = 64 << 20

    init(_ context: ZMQContext, type: Int32) throws(KernelError) {
        guard let s = zmq_socket(context.raw, type) else { throw KernelError("cannot make a ZeroMQ socket: \(ZMQSocket.lastError())") }
        raw = s
        // Pending messages are given a short while to leave at close, so a last reply is not lost
        // and a peer that went away cannot hold the process at exit.
        setOption(ZMQ_LINGER, Int32(500))
        var limit = ZMQSocket.maxFrameBytes
        zmq_setsockopt(raw, ZMQ_MAXMSGSIZE, &limit, MemoryLayout<Int64>.size)
    }

    func setOption(_ option: Int32, _ value: Int32) {
        var v = value
        zmq_setsockopt(raw, option, &v, MemoryLayout<Int32>.size)
    }

    func bind(_ endpoint: String) throws(KernelError) {
        guard zmq_bind(raw, endpoint) == 0 else { throw KernelError("cannot listen on \(endpoint): \(ZMQSocket.lastError()); is another kernel using the port?") }
    }

    func connect(_ endpoint: String) throws(KernelError) {
        guard zmq_connect(raw, endpoint) == 0 else { throw KernelError("cannot connect to \(endpoint): \(ZMQSocket.lastError())") }
    }

    /// Sends the frames as one multipart message (blocking; interrupted system calls are retried).
    func send(_ frames: [Data]) {
        for (i, frame) in frames.enumerated() {
            let flags = i == frames.count - 1 ? Int32(0) : ZMQ_SNDMORE
            while true {
                let rc = frame.withUnsafeBytes { zmq_send(raw, $0.baseAddress, frame.count, flags) }
                if rc >= 0 || zmq_errno() != EINTR { break }
            }
        }
    }

    /// Receives one multipart message without waiting; nil when none is ready. A message with
    /// more than `maxFrames` frames is read to its end and dropped.
    func receive() -> [Data]? {
        let msg = UnsafeMutablePointer<zmq_msg_t>.allocate(capacity: 1)
        defer { msg.deallocate() }
        var frames: [Data] = []
        var dropped = false
        while true {
            zmq_msg_init(msg)
            var n = zmq_msg_recv(msg, raw, ZMQ_DONTWAIT)
            while n < 0 && zmq_errno() == EINTR { n = zmq_msg_recv(msg, raw, ZMQ_DONTWAIT) }
            if n < 0 {
                zmq_msg_close(msg)
                // EAGAIN before the first frame: nothing to read. Later frames of a multipart
                // message are delivered together, so a failure there ends the message.
                return frames.isEmpty || dropped ? nil : frames
            }
            if frames.count < ZMQSocket.maxFrames {
                frames.append(Data(bytes: zmq_msg_data(msg), count: zmq_msg_size(msg)))
            } else {
                dropped = true
            }
            let more = zmq_msg_more(msg) != 0
            zmq_msg_close(msg)
            if !more { return dropped ? nil : frames }
        }
    }

    func close() { zmq_close(raw) }

    /// Waits up to `timeoutMS` for any of `sockets` to be readable; the readable ones, by index.
    static func poll(_ sockets: [ZMQSocket], timeoutMS: Int) -> [Bool] {
        var items = sockets.map { zmq_pollitem_t(socket: $0.raw, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0) }
        let rc = zmq_poll(&items, Int32(items.count), timeoutMS)
        if rc <= 0 { return Array(repeating: false, count: sockets.count) }  // timeout, or EINTR (a signal)
        return items.map { $0.revents & Int16(ZMQ_POLLIN) != 0 }
    }

    static func lastError() -> String { String(cString: zmq_strerror(zmq_errno())) }
}
