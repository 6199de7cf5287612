import Foundation
import MSTaRTasks
import MSTaRTensor

/// Where a request's image may come from, and how large it may be.
///
/// `data:image/png;base64,…` URLs are always accepted. Local files (an absolute path, a path
/// relative to the allowed folder, or a `file://` URL) only with `--allowed-local-media-path`: the
/// path is resolved with every link followed, and must then lie inside that folder and name a
/// regular file of at most `maxImageBytes`. Remote URLs are never fetched.
public struct MediaPolicy: Sendable {
    /// The folder local images may be read from (links resolved), or nil: no local images.
    public let allowedFolder: String?
    /// Most bytes of one PNG file, before decoding.
    public let maxImageBytes: Int

    /// A policy reading local images under `allowedFolder` (nil: none).
    public init(allowedFolder: String?, maxImageBytes: Int = ServeLimits.standard.maxImageBytes) throws {
        if let allowedFolder {
            guard let real = realpath(allowedFolder, nil) else {
                throw TensorError.invalid("--allowed-local-media-path \(allowedFolder): \(String(cString: strerror(errno)))")
            }
            defer { free(real) }
            var isDir: ObjCBool = false
            let path = String(cString: real)
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue else {
                throw TensorError.invalid("--allowed-local-media-path \(allowedFolder) is not a folder")
            }
            self.allowedFolder = path
        } else {
            self.allowedFolder = nil
        }
        self.maxImageBytes = maxImageBytes
    }

    /// The PNG bytes `url` names.
    public func bytes(of url: String) throws -> [UInt8] {
        let param = "messages[0].content.image_url.url"
        if url.hasPrefix("data:") {
            let prefix = "data:image/png;base64,"
            guard url.hasPrefix(prefix) else {
                throw APIError.badRequest("the image must be a PNG sent as data:image/png;base64,…", param: param)
            }
            let text = url.utf8.dropFirst(prefix.utf8.count)
            // Base64 is 4 characters per 3 bytes: refuse before decoding anything too large.
            guard text.count <= (maxImageBytes + 2) / 3 * 4 else {
                throw APIError.badRequest("the image is over \(maxImageBytes) bytes", param: param)
            }
            guard let data = Data(base64Encoded: String(decoding: text, as: UTF8.self), options: .ignoreUnknownCharacters) else {
                throw APIError.badRequest("the image's data: URL is not valid base64", param: param)
            }
            return [UInt8](data)
        }
        if url.hasPrefix("http://") || url.hasPrefix("https://") {
            throw APIError.badRequest("remote images are not fetched: send the PNG as a data:image/png;base64 URL", param: param)
        }
        guard let allowedFolder else {
            throw APIError.badRequest("local images are off: start the server with --allowed-local-media-path DIR, or send a data: URL",
                                      param: param)
        }
        var path = url
        if path.hasPrefix("file://") {
            guard let u = URL(string: path), u.isFileURL, u.host == nil || u.host == "" || u.host == "localhost" else {
                throw APIError.badRequest("cannot read the file:// URL \(quoted(url))", param: param)
            }
            path = u.path
        }
        guard !path.isEmpty, path.utf8.count <= 4096, !path.utf8.contains(0) else {
            throw APIError.badRequest("the image path must be 1 to 4096 bytes without NUL", param: param)
        }
        if !path.hasPrefix("/") { path = allowedFolder + "/" + path }
        // Every link resolved first, so that no link, `..` or mount leads outside the folder.
        guard let real = realpath(path, nil) else {
            throw APIError.badRequest("cannot read the image \(quoted(url)) under the allowed media folder", param: param)
        }
        let resolved = String(cString: real)
        free(real)
        guard resolved.hasPrefix(allowedFolder.hasSuffix("/") ? allowedFolder : allowedFolder + "/") else {
            throw APIError.badRequest("the image \(quoted(url)) is outside the allowed media folder --allowed-local-media-path",
                                      param: param)
        }
        return try readRegularFile(resolved, shownAs: url, param: param)
    }

    /// The file's bytes; O_NOFOLLOW and O_NONBLOCK so that neither a link swapped in since the
    /// check nor a FIFO is read.
    private func readRegularFile(_ path: String, shownAs url: String, param: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw APIError.badRequest("cannot read the image \(quoted(url)): \(String(cString: strerror(errno)))", param: param) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            throw APIError.badRequest("the image \(quoted(url)) is not a regular file", param: param)
        }
        guard Int(st.st_size) <= maxImageBytes else {
            throw APIError.badRequest("the image \(quoted(url)) is over \(maxImageBytes) bytes", param: param)
        }
        var out = [UInt8](repeating: 0, count: maxImageBytes + 1)
        var done = 0
        while done < out.count {
            let n = out.withUnsafeMutableBytes { read(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw APIError.badRequest("cannot read the image \(quoted(url)): \(String(cString: strerror(errno)))", param: param) }
            if n == 0 { break }
            done += n
        }
        guard done <= maxImageBytes else { throw APIError.badRequest("the image \(quoted(url)) is over \(maxImageBytes) bytes", param: param) }
        return Array(out.prefix(done))
    }
}

/// Turns PNG bytes into the model's input canvas.
public enum SceneImage {
    /// The canvas of a PNG of `width` x `height` pixels, or of a whole multiple k of it (as `mstar
    /// data export --scale k` writes), averaged down by k. The size is read from the header before
    /// anything is inflated; the PNG decoder checks the rest.
    public static func canvas(png bytes: [UInt8], height: Int, width: Int) throws -> Canvas {
        let param = "messages[0].content.image_url"
        guard bytes.count >= 24, Array(bytes[0..<8]) == PNG.signature, String(decoding: bytes[12..<16], as: UTF8.self) == "IHDR" else {
            throw APIError.badRequest("the image is not a PNG file", param: param)
        }
        let w = bytes[16..<20].reduce(0) { $0 << 8 | Int($1) }, h = bytes[20..<24].reduce(0) { $0 << 8 | Int($1) }
        guard w > 0, h > 0, w % width == 0, h % height == 0, w / width == h / height, w / width <= 16 else {
            throw APIError.badRequest("the image is \(w)x\(h) pixels; this model reads \(width)x\(height) PNGs (width x height, or a whole multiple up to 16x)",
                                      param: param)
        }
        let img: PNG.Image
        do { img = try PNG.decode(bytes) } catch { throw APIError.badRequest("the image is not a valid PNG: \(error)", param: param) }
        let k = img.width / width
        // The exact pixels a client sent beside the 8-bit image (`PNG.encode(exactPixels:)`): the
        // scene as the client's model sees it, not rounded to 8 bits.
        if k == 1, let exact = img.exact { return try Canvas(height: height, width: width, pixels: exact) }
        var pixels = [Float](repeating: 0, count: height * width)
        for y in 0..<height {
            for x in 0..<width {
                var sum = 0
                for dy in 0..<k { for dx in 0..<k { sum += Int(img.grey[(y * k + dy) * img.width + x * k + dx]) } }
                pixels[y * width + x] = Float(sum) / Float(255 * k * k)
            }
        }
        return try Canvas(height: height, width: width, pixels: pixels)
    }
}

/// `text` in double quotes, cut to 80 characters and with control characters escaped, for messages.
func quoted(_ text: String) -> String {
    let cut = text.count > 80 ? String(text.prefix(77)) + "..." : text
    return "\"" + cut.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? "\\u{\(String($0.value, radix: 16))}" : String($0) }.joined() + "\""
}
