import Testing
import MSTaRWorkbench

@Suite struct ScriptTests {
    static let sample = """
    # header comment before any cell
    # %% [markdown]
    # # Quickstart
    #
    # Seeds, then *data*.

    # %% Setup
    seed 0
    #> seed = 0
    evolve 3 \\
      --k 16
    #> evolved 3 steps
    #>
    #>~ 12.5 s
    # a comment
    #> stray output after a comment

    # %%
    plot greedy_acc --title "two
    lines"
    #> [plot: plots/greedy_acc.png]
    """

    @Test func parsesCellsCommandsAndOutputs() {
        let s = Script.parse(Self.sample)
        #expect(s.cells.count == 4)
        #expect(s.cells[0].marker == nil)
        #expect(s.cells[1].kind == .markdown)
        #expect(s.cells[1].markdown == "# Quickstart\n\nSeeds, then *data*.")
        #expect(s.cells[2].kind == .code)
        #expect(s.cells[2].marker == "# %% Setup")
        let cmds = s.cells[2].commands
        #expect(cmds.map(\.text) == ["seed 0", "evolve 3 \\\n  --k 16"])
        #expect(cmds.map(\.line) == [8, 10])
        #expect(cmds[1].outputs.map(\.text) == ["evolved 3 steps", "", "12.5 s"])
        #expect(cmds[1].outputs.map(\.volatile) == [false, false, true])
        #expect(s.cells[2].items.contains(.other("#> stray output after a comment")))
        #expect(s.cells[3].commands[0].lines == ["plot greedy_acc --title \"two", "lines\""])
        #expect(s.cells[3].commands[0].outputs[0].image?.path == "plots/greedy_acc.png")
        #expect(s.cells[3].commands[0].outputs[0].image?.kind == .plot)
        #expect(s.cells[2].source == "seed 0\nevolve 3 \\\n  --k 16\n# a comment")
        #expect(s.commands.count == 3)
    }

    @Test func roundTripsByteForByte() {
        let inputs = [
            Self.sample, Self.sample + "\n", "", "\n", "\n\n", "seed 1", "seed 1\n", "# %%\n", "# %%",
            "#> orphan\nseed 2\n#>x\n#>  two spaces  \n", "a\r\n#> b\r\n", "x \\\n", "say \"unterminated\n\n# %%\nseed 3\n",
            "# %% [markdown]\n#no space\n\n\n# %%\n\n\n",
        ]
        for text in inputs {
            #expect(Script.parse(text).render() == text, "\(text.debugDescription)")
        }
    }

    @Test func outputLinesDropTrailingSpaceAndMarkVolatile() {
        #expect(OutputLine(text: "acc 0.5  ", volatile: false).raw == "#> acc 0.5")
        #expect(OutputLine(text: "", volatile: false).raw == "#>")
        #expect(OutputLine(text: "3.2 s", volatile: true).raw == "#>~ 3.2 s")
        #expect(OutputLine(raw: "#>~ 3.2 s").text == "3.2 s")
        #expect(OutputLine(raw: "#>   indented").text == "  indented")
        #expect(OutputLine(raw: "#> [image: x/y.png]").image?.kind == .image)
        #expect(OutputLine(raw: "#> [plot: a.png] trailing").image == nil)
    }

    @Test func replacingOutputsKeepsEverythingElse() {
        var s = Script.parse(Self.sample)
        guard case .command(var c) = s.cells[2].items[0] else { Issue.record("no command"); return }
        c.outputs = [OutputLine(text: "seed = 1", volatile: false)]
        s.cells[2].items[0] = .command(c)
        #expect(s.render() == Self.sample.replacingOccurrences(of: "#> seed = 0", with: "#> seed = 1"))
    }
}
