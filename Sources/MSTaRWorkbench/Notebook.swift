import Foundation
import MSTaRTensor

/// Jupyter notebooks (nbformat 4.5): export of a script with its outputs (markdown cells, code cells,
/// outputs as `NotebookOutput` defines them) and, in NotebookReader.swift, reading one as a script.
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
                let outputs = Self.outputs(cell.commands, runDirectory)
                if text.isEmpty && outputs.isEmpty { continue }
                let hasCommand = !cell.commands.isEmpty
                if hasCommand { count += 1 }
                cells.append(["cell_type": "code", "id": "cell-\(cells.count + 1)", "metadata": [String: Any](),
                              "execution_count": hasCommand ? count as Any : NSNull(),
                              "source": sourceLines(text), "outputs": outputs])
            }
        }
        let notebook: [String: Any] = [
            "cells": cells,
            // The mstar kernel's spec, so Jupyter runs the notebook with it where it is installed.
            "metadata": [
                "kernelspec": ["name": "mstar", "display_name": "mstar", "language": "mstar"],
                "language_info": ["name": "mstar", "file_extension": ".mstar", "mimetype": "text/x-mstar",
                                  "codemirror_mode": "shell", "pygments_lexer": "bash"],
            ],
            "nbformat": 4,
            "nbformat_minor": 5,
        ]
        return try JSONSerialization.data(withJSONObject: notebook, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    }

    /// The outputs of a cell's commands in order, in the format `NotebookOutput` defines; adjacent
    /// streams are merged into one, as Jupyter shows them.
    static func outputs(_ commands: [Script.Command], _ runDirectory: String) -> [[String: Any]] {
        var result: [[String: Any]] = []
        for output in commands.flatMap({ NotebookOutput.outputs(for: $0.outputs, runDirectory: runDirectory) }) {
            if output["output_type"] as? String == "stream", let last = result.last, last["output_type"] as? String == "stream",
               let a = last["text"] as? [String], let b = output["text"] as? [String] {
                result[result.count - 1]["text"] = a + b
            } else {
                result.append(output)
            }
        }
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
