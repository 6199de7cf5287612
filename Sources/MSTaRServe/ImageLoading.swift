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
        // Not following a link: one swapped in since the check above is not read.
        do { return [UInt8](try InputFile.read(resolved, limit: maxImageBytes, followLinks: false)) } catch {
            throw APIError.badRequest("cannot read the image \(quoted(url)): \(error)", param: param)
        }
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
        // The exact pixels a client sent beside the 8-bit image (`PNG.encode(exactPixels:)`): the
        // scene as the client's model sees it, not rounded to 8 bits.
        if img.width == width, let exact = img.exact { return try Canvas(height: height, width: width, pixels: exact) }
        return try PNG.averagedDown(img, height: height, width: width)
    }
}

/// `text` in double quotes, cut to 80 characters and with control characters escaped, for messages.
func quoted(_ text: String) -> String {
    let cut = text.count > 80 ? String(text.prefix(77)) + "..." : text
    return "\"" + cut.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? "\\u{\(String($0.value, radix: 16))}" : String($0) }.joined() + "\""
}
