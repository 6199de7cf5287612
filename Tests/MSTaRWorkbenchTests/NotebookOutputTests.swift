import Foundation
import Testing
import MSTaRWorkbench

/// The Jupyter output format shared with the mstar kernel, notebooks read as scripts, and their
/// replay verified cell by cell.
@Suite struct NotebookOutputTests {
    static let png = Data([137, 80, 78, 71, 13, 10, 26, 10, 1, 2, 3])

    func text(_ s: String) -> OutputLine { OutputLine(text: s, volatile: false) }
    func volatile(_ s: String) -> OutputLine { OutputLine(text: s, volatile: true) }

    /// `outputs` as a saved notebook holds them: through JSON and back.
    func saved(_ outputs: [[String: Any]]) throws -> [[String: Any]] {
        let data = try JSONSerialization.data(withJSONObject: outputs)
        return try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
    }

    @Test func linesRoundTripThroughOutputs() throws {
        let dir = try Fixture.tempDir("nbout-roundtrip")
        try FileManager.default.createDirectory(atPath: dir + "/plots", withIntermediateDirectories: true)
        try Self.png.write(to: URL(fileURLWithPath: dir + "/plots/p.png"))
        try Data("<svg/>".utf8).write(to: URL(fileURLWithPath: dir + "/plots/q.svg"))
        let cases: [[OutputLine]] = [
            [],
            [text("seed = 0")],
            [text("a"), text(""), text("b"), text("")],
            [text("evolved 2 steps"), volatile("took 3.20 s"), text("greedy 0.5"), volatile("")],
            [text("points 4"), text("[plot: plots/p.png]"), text("[image: plots/q.svg]"), text("[plot: plots/missing.png]"),
             text("[image: notes.txt]"), text("after")],
            [text("partial"), text("error: no policy loaded;"), text("load one first"), text("  indented")],
            [text("error: unknown command 'stpe'")],
            [text("step 1 of 3"), volatile("0.4 s"), text("interrupted")],
            [text("error: stopped"), text("interrupted")],
            [text("interrupted")],
            [volatile("only volatile")],
            // An error line followed by volatile output stays text: the error output ends the command's outputs.
            [text("error: odd"), volatile("1 s"), text("interrupted")],
            [text("tab\there"), text("escaped \\u{a} break"), text("ünïcödé ✓")],
        ]
        for lines in cases {
            let outputs = NotebookOutput.outputs(for: lines, runDirectory: dir)
            #expect(NotebookOutput.recordedLines(from: try saved(outputs)) == lines, "\(lines.map(\.raw))")
        }
    }

    @Test func theOutputsTakeTheAgreedShapes() throws {
        let dir = try Fixture.tempDir("nbout-shapes")
        try FileManager.default.createDirectory(atPath: dir + "/plots", withIntermediateDirectories: true)
        try Self.png.write(to: URL(fileURLWithPath: dir + "/plots/p.png"))
        let lines = [text("a"), text("b"), volatile("took 3.20 s"), text("[plot: plots/p.png]"), text("[plot: plots/none.png]"),
                     text("error: bad"), text("second line"), text("interrupted")]
        let outs = NotebookOutput.outputs(for: lines, runDirectory: dir, plotText: ["plots/p.png": "ascii art"])
        #expect(outs.map { $0["output_type"] as? String } == ["stream", "display_data", "display_data", "stream", "error", "error"])
        #expect(outs[0]["name"] as? String == "stdout")
        #expect(outs[0]["text"] as? [String] == ["a\n", "b\n"])
        #expect((outs[1]["data"] as? [String: String])?["text/plain"] == "took 3.20 s")
        let meta = try #require((outs[1]["metadata"] as? [String: Any])?["mstar"] as? [String: Any])
        #expect(meta["recorded"] as? [String] == ["#>~ took 3.20 s"])
        let image = try #require(outs[2]["data"] as? [String: String])
        #expect(image == ["image/png": Self.png.base64EncodedString(), "text/plain": "ascii art"])
        #expect(outs[3]["text"] as? [String] == ["[plot: plots/none.png]\n"])
        #expect(outs[4]["ename"] as? String == "Error")
        #expect(outs[4]["evalue"] as? String == "bad\nsecond line")
        #expect(outs[4]["traceback"] as? [String] == ["error: bad", "second line"])
        #expect(outs[5]["ename"] as? String == "Interrupted")
        #expect(outs[5]["traceback"] as? [String] == ["interrupted"])
    }

    @Test func theReaderTakesAKernelsOutputs() throws {
        let outputs: [[String: Any]] = [
            ["output_type": "stream", "name": "stdout", "text": "seed = 0\nline "],  // a plain string, a line in two pieces
            ["output_type": "stream", "name": "stderr", "text": "trainer: epoch 1 loss 0.3\n"],
            ["output_type": "stream", "name": "stdout", "text": ["split\n", "last\r\n"]],
            ["output_type": "display_data", "data": ["text/plain": "a widget"], "metadata": [String: Any]()],
            ["output_type": "execute_result", "data": ["text/plain": "3 s"], "execution_count": 1,
             "metadata": ["mstar": ["recorded": ["#>~ 3 s", "not a recorded line", 7, "#> two\nlines"]]]],
            ["output_type": "error", "ename": "Error", "evalue": "bad\nthing", "traceback": [String]()],
            ["output_type": "unknown"],
        ]
        #expect(NotebookOutput.recordedLines(from: outputs).map(\.raw) == [
            "#> seed = 0", "#> line split", "#> last", "#>~ 3 s", "#> two\\u{a}lines", "#> error: bad", "#> thing",
        ])
    }

    static let notebook = """
    {"nbformat": 4, "nbformat_minor": 5, "metadata": {},
     "cells": [
      {"cell_type": "markdown", "metadata": {}, "source": ["# Title\\n", "\\n", "Some text."]},
      {"cell_type": "code", "metadata": {}, "execution_count": 1, "source": "seed 0\\n# a comment\\nset temperature 0.5",
       "outputs": [{"output_type": "stream", "name": "stdout", "text": "seed = 0\\ntemperature = 0.5\\n"},
                   {"output_type": "stream", "name": "stderr", "text": "a live log line\\n"}]},
      {"cell_type": "raw", "metadata": {}, "source": "raw text"},
      {"cell_type": "code", "metadata": {}, "execution_count": 2, "source": ["seed 1\\n", "stpe\\n", "seed 2\\n"],
       "outputs": [{"output_type": "stream", "name": "stdout", "text": ["seed = 1\\n"]},
                   {"output_type": "error", "ename": "Error", "evalue": "unknown command 'stpe'; did you mean 'step'?",
                    "traceback": ["error: unknown command 'stpe'; did you mean 'step'?"]}]},
      {"cell_type": "code", "metadata": {}, "execution_count": 3, "source": "eval --k 4\\n# %% not a cell\\n",
       "outputs": [{"output_type": "stream", "name": "stdout", "text": "eval test k=4 T=0.5\\n"}]}
     ]}
    """

    @Test func aNotebookReadsAsAScript() throws {
        let script = try Notebook.read(Data(Self.notebook.utf8), file: "nb.ipynb")
        #expect(script.cells.map(\.kind) == [.markdown, .code, .markdown, .code, .code])
        #expect(script.cells[0].markdown == "# Title\n\nSome text.")
        #expect(script.cells[2].markdown == "")
        #expect(script.cells[1].commands.map(\.text) == ["seed 0", "set temperature 0.5"])
        #expect(script.cells[1].commands.map { $0.outputs.map(\.raw) } == [[], ["#> seed = 0", "#> temperature = 0.5"]])
        #expect(script.cells[1].source == "seed 0\n# a comment\nset temperature 0.5")
        #expect(script.cells[3].commands.last?.outputs.map(\.raw)
            == ["#> seed = 1", "#> error: unknown command 'stpe'; did you mean 'step'?"])
        // A source line like a cell marker is a comment in its cell, not a new cell.
        #expect(script.cells[4].commands.map(\.text) == ["eval --k 4"])
        #expect(script.cells[4].source == "eval --k 4\n# %% not a cell")
        // Windows line ends: the line ends where Jupyter's would.
        let crlf = try Notebook.read(Data(#"{"nbformat": 4, "cells": [{"cell_type": "code", "source": "seed 0\r\n", "outputs": []}]}"#.utf8), file: "w.ipynb")
        #expect(crlf.cells[0].items.count == 1)
        // The script as rendered reads back to the same commands and outputs.
        let again = Script.parse(script.render())
        #expect(again.commands.map(\.command.text) == script.commands.map(\.command.text))
        #expect(again.commands.map(\.command.outputs) == script.commands.map(\.command.outputs))
    }

    @Test func malformedNotebooksAreErrorsNotCrashes() throws {
        func message(_ json: String) -> String? {
            do { _ = try Notebook.read(Data(json.utf8), file: "x.ipynb"); return nil } catch { return "\(error)" }
        }
        #expect(message("not json")?.hasPrefix("x.ipynb is not a Jupyter notebook") == true)
        #expect(message("[1, 2]")?.hasPrefix("x.ipynb is not a Jupyter notebook") == true)
        #expect(message(#"{"nbformat": 3, "worksheets": []}"#)?.hasPrefix("x.ipynb is nbformat 3; mstar reads nbformat 4") == true)
        #expect(message(#"{"nbformat": "4", "cells": []}"#)?.hasPrefix("x.ipynb has no nbformat number") == true)
        #expect(message(#"{"nbformat": 4, "cells": {"a": 1}}"#)?.hasPrefix("x.ipynb: cells is not a list") == true)
        #expect(message(#"{"nbformat": 4, "cells": [{"cell_type": "markdown", "source": ""}, 5]}"#)?
            .hasPrefix("x.ipynb cell 2 is not a JSON object") == true)
        #expect(message(#"{"nbformat": 4, "cells": [{"cell_type": "code", "source": 12, "outputs": []}]}"#)?
            .hasPrefix("x.ipynb cell 1: source is not text") == true)
        #expect(message(#"{"nbformat": 4, "cells": [{"cell_type": "code", "source": ["a", 1], "outputs": []}]}"#)?
            .hasPrefix("x.ipynb cell 1: source is not text") == true)
        #expect(message(#"{"nbformat": 4, "cells": [{"cell_type": "code", "source": "seed 0", "outputs": "x"}]}"#)?
            .hasPrefix("x.ipynb cell 1: outputs is not a list of objects") == true)
        #expect(message(#"{"nbformat": 4, "cells": [{"cell_type": "code", "source": "seed 0", "outputs": [null]}]}"#)?
            .hasPrefix("x.ipynb cell 1: outputs is not a list of objects") == true)
        #expect(message(#"{"nbformat": 4, "cells": [{"cell_type": "heading", "source": ""}]}"#)?
            .hasPrefix("x.ipynb cell 1: cell_type is not code, markdown or raw") == true)
        #expect(message(String(repeating: "[", count: 100_000)) != nil)
        for m in [message("not json"), message(#"{"nbformat": 3}"#), message(#"{"nbformat": 4, "cells": [{"cell_type": "x\ny"}]}"#)] {
            #expect(m?.contains("\n") == false, "one line: \(m ?? "")")
        }
        // Odd but well-formed shapes read: outputs of unknown types, recorded entries that are not lines.
        #expect(message(#"{"nbformat": 4, "cells": [{"cell_type": "code", "source": "seed 0", "outputs": [{"output_type": 3}, {"output_type": "display_data", "metadata": {"mstar": {"recorded": "x"}}}]}]}"#) == nil)
    }

    func replay(_ json: String, _ name: String) throws -> Script {
        var replay = Replay(script: try Notebook.read(Data(json.utf8), file: "nb.ipynb"), file: "nb.ipynb")
        replay.comparePerCell = true
        return try replay.run(in: try engineLikeSession(name), verify: true)
    }

    @Test func cellsVerifyAsAWhole() throws {
        let result = try replay(Self.notebook, "nb-cells-pass")
        // The failed command ended its cell, as in Jupyter: `seed 2` did not run.
        #expect(result.cells[3].commands.map { $0.outputs.map(\.raw) }
            == [["#> seed = 1"], ["#> error: unknown command 'stpe'; did you mean 'step'?"], []])

        let changed = Self.notebook.replacingOccurrences(of: "temperature = 0.5\\n", with: "temperature = 0.6\\n")
        #expect(throws: Replay.Failure.mismatch(location: "nb.ipynb cell 2", command: "set temperature 0.5",
                                                expected: "#> temperature = 0.6", actual: "#> temperature = 0.5")) {
            try replay(changed, "nb-cells-changed")
        }
        let missing = Self.notebook.replacingOccurrences(of: "eval test k=4 T=0.5\\n", with: "")
        #expect(throws: Replay.Failure.mismatch(location: "nb.ipynb cell 5", command: "eval --k 4",
                                                expected: "(no more output)", actual: "#> eval test k=4 T=0.5")) {
            try replay(missing, "nb-cells-missing")
        }
    }

    @Test func aFailureTheCellDoesNotRecordStopsTheReplay() throws {
        let broken = Self.notebook.replacingOccurrences(of: #""evalue": "unknown command 'stpe'; did you mean 'step'?""#, with: #""evalue": """#)
            .replacingOccurrences(of: #""ename": "Error""#, with: #""ename": "Interrupted""#)
        // The cell now records `interrupted`, not an error: the failure is not what it recorded.
        #expect(throws: Replay.Failure.commandFailed(location: "nb.ipynb cell 4", command: "stpe",
                                                     message: "unknown command 'stpe'; did you mean 'step'?")) {
            try replay(broken, "nb-cells-broken")
        }
    }

    @Test func anExportedNotebookReplaysAndVerifies() throws {
        let script = """
        # %% [markdown]
        # # Export

        # %%
        seed 0
        set temperature 0.5
        eval --k 4

        # %%
        evolve 2
        hlep
        #> error: unknown command 'hlep'; did you mean 'help'?
        """
        let s = try engineLikeSession("nb-export")
        let replayed = try Replay(script: Script.parse(script), file: "e.mstar").run(in: s, verify: false)
        let data = try Notebook.make(replayed, runDirectory: s.runDirectory)
        let result = try replay(String(decoding: data, as: UTF8.self), "nb-export-verify")
        #expect(result.commands.flatMap(\.command.outputs) == replayed.commands.flatMap(\.command.outputs))
    }
}
