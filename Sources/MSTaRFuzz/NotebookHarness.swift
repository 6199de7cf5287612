import Foundation
import MSTaRWorkbench

/// The notebook reader (`mstar run NB.ipynb`): `Notebook.read`, then the export of what it read.
public enum NotebookHarness {
    /// Export reads `[plot: PATH]` images relative to it; it stays empty.
    static let runDirectory = scratchDirectory("notebook")

    /// Reads `data` as an .ipynb: it may be refused (an error), never trap; a notebook it reads
    /// exports again, and that export reads back to the same commands and recorded lines.
    public static func run(_ data: Data) {
        guard let script = try? Notebook.read(data, file: "fuzz.ipynb") else { return }
        guard let exported = try? Notebook.make(script, runDirectory: runDirectory) else { return }
        guard let again = try? Notebook.read(exported, file: "export.ipynb") else {
            fatalError("a notebook Notebook.make wrote does not read back")
        }
        let commands = { (s: Script) in s.commands.map { $0.command.text } }
        if commands(again) != commands(script) {
            fatalError("commands differ after export and read: \(commands(script)) vs \(commands(again))")
        }
    }
}
