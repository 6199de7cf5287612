import Foundation

extension Notebook {
    /// Reads a Jupyter notebook (nbformat 4) as a script, to replay and verify it: each cell becomes
    /// one script cell, in order (so "cell N" is the notebook's Nth cell). A markdown cell keeps its
    /// text; a code cell holds its source with the lines its outputs record (`NotebookOutput`)
    /// attached to its last command; a raw cell becomes an empty markdown cell. The notebook is input
    /// from anywhere: any shape but nbformat 4's is an error naming `file` and the cell, never a crash.
    public static func read(_ data: Data, file: String) throws -> Script {
        let hint = "give a notebook saved by Jupyter (nbformat 4) or written by mstar run --ipynb"
        guard let json = try? JSONSerialization.jsonObject(with: data), let notebook = json as? [String: Any] else {
            throw WorkbenchError("\(file) is not a Jupyter notebook (not a JSON object); \(hint)")
        }
        guard let format = notebook["nbformat"] as? Int else { throw WorkbenchError("\(file) has no nbformat number; \(hint)") }
        guard format == 4 else {
            throw WorkbenchError("\(file) is nbformat \(format); mstar reads nbformat 4: convert it with jupyter nbconvert --to notebook --nbformat 4")
        }
        guard let cells = notebook["cells"] as? [Any] else { throw WorkbenchError("\(file): cells is not a list; \(hint)") }

        var script = Script()
        var line = 1  // where each line would be in the script as rendered
        for (i, value) in cells.enumerated() {
            let at = "\(file) cell \(i + 1)"
            guard let cell = value as? [String: Any] else { throw WorkbenchError("\(at) is not a JSON object; \(hint)") }
            guard let source = NotebookOutput.multiline(cell["source"] ?? "") else {
                throw WorkbenchError("\(at): source is not text (a string or a list of strings); \(hint)")
            }
            var lines = Script.lines(source)
            if source.unicodeScalars.last == "\n" || source.isEmpty { lines.removeLast() }  // by scalar: "\r\n" is one Character
            var scriptCell: Script.Cell
            switch cell["cell_type"] as? String {
            case "markdown":
                scriptCell = Script.Cell(kind: .markdown, marker: "# %% [markdown]", line: line,
                                         items: lines.map { .other($0.isEmpty ? "#" : "# " + $0) })
            case "raw":
                // Not mstar's to run or show; kept as an empty cell so the cells keep their numbers.
                scriptCell = Script.Cell(kind: .markdown, marker: "# %% [markdown]", line: line, items: [])
            case "code":
                guard let dicts = (cell["outputs"] ?? [Any]()) as? [[String: Any]] else {
                    throw WorkbenchError("\(at): outputs is not a list of objects; \(hint)")
                }
                scriptCell = codeCell(lines, recorded: NotebookOutput.recordedLines(from: dicts), line: line)
            default:
                throw WorkbenchError("\(at): cell_type is not code, markdown or raw; \(hint)")
            }
            // A blank line between cells, as a script is written.
            if i + 1 < cells.count { scriptCell.items.append(.other("")) }
            line += 1 + scriptCell.items.reduce(0) { n, item in
                if case .command(let c) = item { return n + c.lines.count + c.outputs.count } else { return n + 1 }
            }
            script.cells.append(scriptCell)
        }
        return script
    }

    /// A code cell of `lines` as `Script.parse` reads a cell's lines (commands, their continuation
    /// lines, comments, `#>` lines after a command), with `recorded` attached to its last command.
    /// Built here rather than parsed from text: a source line like `# %%` must not start a cell, and
    /// the outputs belong to the last command even after a trailing comment or an unfinished line.
    static func codeCell(_ lines: [String], recorded: [OutputLine], line first: Int) -> Script.Cell {
        var cell = Script.Cell(kind: .code, marker: Script.cellMarker, line: first, items: [])
        var assembler = LineAssembler()
        for (k, line) in lines.enumerated() { cell.append(line, number: first + 1 + k, assembler: &assembler) }
        if let last = cell.items.lastIndex(where: { if case .command = $0 { true } else { false } }),
           case .command(var c) = cell.items[last] {
            c.outputs += recorded
            cell.items[last] = .command(c)
        } else {
            cell.items += recorded.map { .other($0.raw) }
        }
        return cell
    }
}
