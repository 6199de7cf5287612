import Foundation
import MSTaRWorkbench

/// The session-script reader: `Script.parse`, its byte-exact `render`, and the notebook export.
public enum ScriptHarness {
    /// Notebook export reads `[image: PATH]` outputs relative to it; it stays empty.
    static let runDirectory = scratchDirectory("script")

    /// Reads `data` as a script: it must render back to the same bytes, and export as a notebook
    /// without trapping.
    public static func run(_ data: Data) {
        let text = String(decoding: data, as: UTF8.self)
        let script = Script.parse(text)
        // String == compares canonical equivalence; the promise is the same bytes.
        let rendered = script.render()
        if !rendered.utf8.elementsEqual(text.utf8) {
            fatalError("Script.parse(text).render() differs from text: \(rendered.debugDescription) vs \(text.debugDescription)")
        }
        _ = try? Notebook.make(script, runDirectory: runDirectory)
    }
}
