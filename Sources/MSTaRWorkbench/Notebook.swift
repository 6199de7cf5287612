import Foundation
import MSTaRTensor

/// Jupyter notebook (nbformat 4.5) export of a script with its outputs: markdown cells, code cells,
/// text as stdout streams, errors as stderr streams, plots and images as display data.
public enum Notebook {
    /// The notebook JSON for `script`; images are read from `runDirectory`.
    public static func make(_ script: Script, runDirectory: String) throws -> Data {
        var cells: [[String: Any]] = []
        var count = 0
        for cell in script.cells {
            switch cell.kind {
            case .markdown:
                let text = cell.markdown
                if text.isEmpty { continue }
                cells.append(["cell_type": "markdown", "id": "cell-\(cells.count + 1)", "metadata": [String: Any](),
                              "source": sourceLines(text)])
            case .code:
                let text = cell.source
                let outputs = cell.commands.flatMap(\.outputs)
                if text.isEmpty && outputs.isEmpty { continue }
                let hasCommand = !cell.commands.isEmpty
                if hasCommand { count += 1 }
                cells.append(["cell_type": "code", "id": "cell-\(cells.count + 1)", "metadata": [String: Any](),
                              "execution_count": hasCommand ? count as Any : NSNull(),
                              "source": sourceLines(text), "outputs": try self.outputs(outputs, runDirectory)])
            }
        }
        let notebook: [String: Any] = [
            "cells": cells,
            "metadata": ["language_info": ["name": "mstar", "file_extension": ".mstar"]],
            "nbformat": 4,
            "nbformat_minor": 5,
        ]
        return try JSONSerialization.data(withJSONObject: notebook, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    }

    /// Consecutive text lines become one stream; each image becomes display data.
    static func outputs(_ lines: [OutputLine], _ runDirectory: String) throws -> [[String: Any]] {
        var result: [[String: Any]] = []
        var stream: [String] = [], streamName = "stdout"
        func flush() {
            if !stream.isEmpty {
                result.append(["output_type": "stream", "name": streamName, "text": sourceLines(stream.joined(separator: "\n") + "\n")])
            }
            stream = []
        }
        for line in lines {
            if let (kind, path) = line.image {
                let file = path.hasPrefix("/") ? path : (runDirectory as NSString).appendingPathComponent(path)
                let mime = path.lowercased().hasSuffix(".svg") ? "image/svg+xml" : path.lowercased().hasSuffix(".png") ? "image/png" : nil
                if let mime, let data = try? InputFile.read(file, limit: InputFile.imageLimit) {
                    flush()
                    let payload: Any = mime == "image/png" ? data.base64EncodedString() : String(decoding: data, as: UTF8.self)
                    result.append(["output_type": "display_data", "metadata": [String: Any](),
                                   "data": [mime: payload, "text/plain": ["[\(kind.rawValue): \(path)]"]]])
                    continue
                }
            }
            let name = line.text.hasPrefix("error:") ? "stderr" : "stdout"
            if name != streamName { flush(); streamName = name }
            stream.append(line.text)
        }
        flush()
        return result
    }

    /// Jupyter's multi-line string form: lines keeping their newline, the last one without.
    static func sourceLines(_ text: String) -> [String] {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { String($0) + "\n" }
        if let last = lines.last {
            lines[lines.count - 1] = String(last.dropLast())
            if lines[lines.count - 1].isEmpty { lines.removeLast() }
        }
        return lines
    }
}
