import Foundation
import MSTaRTensor

/// The one format a command's recorded lines take as Jupyter outputs, shared by the mstar kernel,
/// `mstar run --ipynb` and the notebook reader, so that a notebook executed anywhere replays and
/// verifies with `mstar run NB.ipynb --verify`.
///
/// - Non-volatile text lines: one `stream` (stdout) per run of consecutive lines.
/// - A volatile `#>~` line: `display_data` with its text, the raw line in `metadata.mstar.recorded`.
/// - A `[plot: PATH]` / `[image: PATH]` line whose PNG or SVG file is readable: `display_data` with the
///   image, the raw line in `metadata.mstar.recorded`; without the file, a text line like any other.
/// - `error: ...` to the end: an `error` output (ename `Error`); a final `interrupted`: ename `Interrupted`.
///
/// Reading takes back exactly those lines; stderr streams (live diagnostics) and display data
/// without mstar metadata are not recorded output and are ignored.
public enum NotebookOutput {
    /// The metadata key under which display data carries its recorded lines.
    public static let metadataKey = "mstar"

    /// Jupyter outputs (nbformat 4 output dicts, in order) for one command's recorded lines.
    /// `plotText`: the text/plain to show for an image line instead of its `[plot: PATH]` line, by
    /// PATH as recorded (the kernel passes the gnuplot text rendering). Images are read from
    /// `runDirectory` (paths relative to it unless absolute).
    public static func outputs(for lines: [OutputLine], runDirectory: String, plotText: [String: String] = [:]) -> [[String: Any]] {
        var body = lines[...]
        var tail: [[String: Any]] = []
        if let last = body.last, !last.volatile, last.text == "interrupted" {
            body = body.dropLast()
            tail.append(["output_type": "error", "ename": "Interrupted", "evalue": "interrupted", "traceback": ["interrupted"]])
        }
        // The error runs from its `error: ` line to the end; only plain text can follow it there
        // (continuation lines of a multi-line message), else the lines stay ordinary output.
        if let start = body.firstIndex(where: { !$0.volatile && $0.text.hasPrefix("error: ") }),
           body[start...].allSatisfy({ !$0.volatile }) {
            let texts = body[start...].map(\.text)
            let message = ([String(texts[0].dropFirst("error: ".count))] + texts.dropFirst()).joined(separator: "\n")
            tail.insert(["output_type": "error", "ename": "Error", "evalue": message, "traceback": texts], at: 0)
            body = body[..<start]
        }

        var result: [[String: Any]] = []
        var stream: [String] = []
        func flush() {
            if !stream.isEmpty {
                result.append(["output_type": "stream", "name": "stdout", "text": Notebook.sourceLines(stream.joined(separator: "\n") + "\n")])
            }
            stream = []
        }
        for line in body {
            if line.volatile {
                flush()
                result.append(display(["text/plain": line.text], line))
            } else if let (kind, path) = line.image, let picture = Self.image(path, runDirectory) {
                flush()
                result.append(display([picture.mime: picture.payload, "text/plain": plotText[path] ?? "[\(kind.rawValue): \(path)]"], line))
            } else {
                stream.append(line.text)
            }
        }
        flush()
        return result + tail
    }

    /// The recorded lines held by a code cell's outputs (the inverse of `outputs(for:)`). Entries
    /// of other shapes are skipped: a notebook is input from anywhere.
    public static func recordedLines(from outputs: [[String: Any]]) -> [OutputLine] {
        var lines: [OutputLine] = []
        // Consecutive stdout text, joined before it is split: a kernel may send a line in pieces.
        var text = ""
        func flush() {
            if text.isEmpty { return }
            var parts = Script.lines(text)
            if text.unicodeScalars.last == "\n" { parts.removeLast() }  // by scalar: "\r\n" is one Character
            for p in parts { lines.append(OutputLine(text: p.hasSuffix("\r") ? String(p.dropLast()) : p, volatile: false)) }
            text = ""
        }
        for output in outputs {
            switch output["output_type"] as? String {
            case "stream":
                // stderr holds live diagnostics (a trainer's log), never recorded output.
                if output["name"] as? String == "stdout", let t = multiline(output["text"]) { text += t }
            case "display_data", "execute_result":
                guard let meta = output["metadata"] as? [String: Any], let mstar = meta[metadataKey] as? [String: Any],
                      let recorded = mstar["recorded"] as? [Any] else { continue }
                flush()
                for case let raw as String in recorded where OutputLine.isOutput(raw) {
                    // Rebuilt from its text: a line break inside would otherwise start a line of its own.
                    let line = OutputLine(raw: raw)
                    lines.append(OutputLine(text: line.text, volatile: line.volatile))
                }
            case "error":
                flush()
                if output["ename"] as? String == "Interrupted" {
                    lines.append(OutputLine(text: "interrupted", volatile: false))
                } else {
                    let message = output["evalue"] as? String ?? ""
                    lines += Script.lines(message).enumerated().map {
                        OutputLine(text: ($0.offset == 0 ? "error: " : "") + $0.element, volatile: false)
                    }
                }
            default:
                continue
            }
        }
        flush()
        return lines
    }

    /// Jupyter's multi-line string: a string, or a list of strings joined; nil for anything else.
    static func multiline(_ value: Any?) -> String? {
        if let s = value as? String { return s }
        guard let list = value as? [Any] else { return nil }
        var text = ""
        for item in list {
            guard let s = item as? String else { return nil }
            text += s
        }
        return text
    }

    /// A display_data output carrying `line` as recorded.
    static func display(_ data: [String: Any], _ line: OutputLine) -> [String: Any] {
        ["output_type": "display_data", "data": data, "metadata": [metadataKey: ["recorded": [line.raw]]]]
    }

    /// The image at `path` as a MIME type and payload (base64 PNG or SVG text), nil when it is not
    /// a PNG or SVG or cannot be read within the image limit.
    static func image(_ path: String, _ runDirectory: String) -> (mime: String, payload: String)? {
        let lower = path.lowercased()
        guard lower.hasSuffix(".png") || lower.hasSuffix(".svg") else { return nil }
        let file = path.hasPrefix("/") ? path : (runDirectory as NSString).appendingPathComponent(path)
        guard let data = try? InputFile.read(file, limit: InputFile.imageLimit) else { return nil }
        return lower.hasSuffix(".png") ? ("image/png", data.base64EncodedString()) : ("image/svg+xml", String(decoding: data, as: UTF8.self))
    }
}
