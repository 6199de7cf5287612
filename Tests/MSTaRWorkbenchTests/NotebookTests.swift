import Foundation
import Testing
import MSTaRWorkbench

@Suite struct NotebookTests {
    static let script = """
    # %% [markdown]
    # # Title
    # Some *markdown*.

    # %%
    seed 0
    #> seed = 0
    data show --split text --index 5
    #> id: text-000005
    #> (text only)
    hlep
    #> error: unknown command 'hlep'; did you mean 'help'?

    # %%
    plot pass_at_k
    #> Pass@K: 3 points
    #> [plot: plots/p.png]
    """

    func notebook(_ dir: String) throws -> [String: Any] {
        try FileManager.default.createDirectory(atPath: dir + "/plots", withIntermediateDirectories: true)
        // A tiny valid PNG (the 1x1 grey image the task suite's encoder writes).
        try Data([137, 80, 78, 71, 13, 10, 26, 10, 1, 2, 3]).write(to: URL(fileURLWithPath: dir + "/plots/p.png"))
        let data = try Notebook.make(Script.parse(Self.script), runDirectory: dir)
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    @Test func cellsStreamsAndImages() throws {
        let nb = try notebook(try Fixture.tempDir("nb-structure"))
        #expect(nb["nbformat"] as? Int == 4)
        #expect(nb["nbformat_minor"] as? Int == 5)
        let cells = try #require(nb["cells"] as? [[String: Any]])
        #expect(cells.map { $0["cell_type"] as? String } == ["markdown", "code", "code"])
        #expect(cells.map { $0["id"] as? String } == ["cell-1", "cell-2", "cell-3"])
        #expect(cells[0]["source"] as? [String] == ["# Title\n", "Some *markdown*."])
        #expect(cells[1]["source"] as? [String] == ["seed 0\n", "data show --split text --index 5\n", "hlep"])
        #expect(cells[1]["execution_count"] as? Int == 1)
        let outs = try #require(cells[1]["outputs"] as? [[String: Any]])
        #expect(outs.count == 2)
        #expect(outs[0]["output_type"] as? String == "stream")
        #expect(outs[0]["name"] as? String == "stdout")
        #expect(outs[0]["text"] as? [String] == ["seed = 0\n", "id: text-000005\n", "(text only)\n"])
        #expect(outs[1]["output_type"] as? String == "error")
        #expect(outs[1]["evalue"] as? String == "unknown command 'hlep'; did you mean 'help'?")
        let plotOuts = try #require(cells[2]["outputs"] as? [[String: Any]])
        #expect(plotOuts.map { $0["output_type"] as? String } == ["stream", "display_data"])
        let data = try #require(plotOuts[1]["data"] as? [String: Any])
        #expect(data["image/png"] as? String == Data([137, 80, 78, 71, 13, 10, 26, 10, 1, 2, 3]).base64EncodedString())
        #expect(data["text/plain"] as? String == "[plot: plots/p.png]")
        let meta = try #require(nb["metadata"] as? [String: Any])
        #expect((meta["kernelspec"] as? [String: String])?["name"] == "mstar")
    }

    @Test(.enabled(if: Fixture.hasNbformat && Fixture.hasGnuplot)) func nbformatValidatesARealReplay() throws {
        let dir = try Fixture.tempDir("nb-validate")
        try Fixture.writeDynamics(dir + "/dyn.jsonl")
        let s = Session(runDirectory: dir + "/run", inputDirectory: dir)
        let text = "# %% [markdown]\n# # Replay\n\n# %%\nseed 0\nplot greedy_acc --from dyn.jsonl\nhlep\n#> error: x\n"
        let replayed = try Replay(script: Script.parse(text), file: "t.mstar").run(in: s, verify: false)
        let path = dir + "/t.ipynb"
        try Notebook.make(replayed, runDirectory: s.runDirectory).write(to: URL(fileURLWithPath: path))
        let check = """
        import nbformat, base64, sys
        nb = nbformat.read(sys.argv[1], as_version=4)
        nbformat.validate(nb)
        png = [o for c in nb.cells if c.cell_type == 'code' for o in c.outputs if o.output_type == 'display_data']
        data = base64.b64decode(png[0]['data']['image/png'])
        print(nb.nbformat, nb.nbformat_minor, len(nb.cells), data[:4] == b'\\x89PNG', len(data) > 5000)
        """
        let r = try #require(Fixture.run("python3", ["-c", check, path]))
        #expect(r.0 == 0, "\(r.2)")
        #expect(r.1 == "4 5 2 True True\n")
    }
}
