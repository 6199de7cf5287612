import Foundation

/// Reads files that come from outside (scripts, checkpoints, datasets, images) with a size limit.
///
/// A path in a shared script may name anything: a FIFO or /dev/stdin that never ends, /dev/zero that
/// never stops, or a file too large to hold. Only regular files are read, and only when they fit the
/// limit, so such a path is an error instead of a hang or an exhausted machine.
public enum InputFile {
    /// Limits by kind of file, in bytes.
    public static let scriptLimit = 16 << 20
    public static let jsonLimit = 16 << 20
    public static let datasetLimit = 256 << 20
    public static let imageLimit = 16 << 20
    /// Jupyter notebooks: larger than scripts, as they carry their plots as base64 PNGs.
    public static let notebookLimit = 64 << 20
    public static let tensorLimit = 1 << 30

    /// The bytes of the regular file at `path`, which must be at most `limit` bytes. Symbolic links
    /// are followed (reading from anywhere is allowed) unless `followLinks` is false (a caller that
    /// resolved and checked the path itself, so a link swapped in since is not read); devices, FIFOs,
    /// sockets and folders are refused.
    public static func read(_ path: String, limit: Int, followLinks: Bool = true) throws -> Data {
        // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused just below.
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | (followLinks ? 0 : O_NOFOLLOW))
        guard fd >= 0 else { throw TensorError.invalid("cannot read \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw TensorError.invalid("cannot read \(path): \(String(cString: strerror(errno)))") }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw TensorError.invalid("cannot read \(path): \((st.st_mode & S_IFMT) == S_IFDIR ? "it is a folder, not a regular file" : "not a regular file")")
        }
        let size = Int(st.st_size)
        guard size <= limit else {
            throw TensorError.invalid("\(path) is \(size) bytes; mstar reads at most \(limit) bytes from a file of this kind")
        }
        // Read to the end, not to the size stat gave: files under /proc say 0 and have more.
        var data = Data(count: Swift.max(size, 4096))
        var done = 0
        while true {
            if done == data.count {
                guard data.count <= limit else {
                    throw TensorError.invalid("\(path) is over \(limit) bytes; mstar reads at most \(limit) bytes from a file of this kind")
                }
                data.count = Swift.min(2 * data.count, limit + 1)
            }
            let n = data.withUnsafeMutableBytes { raw in Foundation.read(fd, raw.baseAddress! + done, raw.count - done) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw TensorError.invalid("cannot read \(path): \(String(cString: strerror(errno)))") }
            if n == 0 { break }
            done += n
        }
        guard done <= limit else {
            throw TensorError.invalid("\(path) is over \(limit) bytes; mstar reads at most \(limit) bytes from a file of this kind")
        }
        data.count = done
        return data
    }

    /// The file at `path` as UTF-8 text (invalid bytes become U+FFFD), at most `limit` bytes.
    public static func text(_ path: String, limit: Int) throws -> String {
        String(decoding: try read(path, limit: limit), as: UTF8.self)
    }

    /// The lines of `text`, split at LF with a CR before it dropped, so files written on Windows
    /// read as written. (Swift treats CR LF as one Character, so splitting a String on "\n" misses it.)
    public static func lines(_ text: String) -> [Substring] {
        text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }).map {
            $0.hasSuffix("\r") ? $0.dropLast() : $0
        }
    }
}
