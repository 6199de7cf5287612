import Foundation
import Testing
@testable import MSTaRWorkbench

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
        #expect(outs[1]["name"] as? String == "stderr")
        let plotOuts = try #require(cells[2]["outputs"] as? [[String: Any]])
        #expect(plotOuts.map { $0["output_type"] as? String } == ["stream", "display_data"])
        let data = try #require(plotOuts[1]["data"] as? [String: Any])
        #expect(data["image/png"] as? String == Data([137, 80, 78, 71, 13, 10, 26, 10, 1, 2, 3]).base64EncodedString())
        #expect(data["text/plain"] as? [String] == ["[plot: plots/p.png]"])
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

@Suite struct CompleterTests {
    func complete(_ s: Session, _ line: String) -> [String] { Completer.complete(line, session: s).candidates }

    @Test func commandNamesAndSubcommands() throws {
        let s = try engineLikeSession("complete-commands")
        #expect(complete(s, "") .contains("data"))
        #expect(complete(s, "se") == ["seed", "set"])
        #expect(complete(s, "ev") == ["eval", "evolve"])
        #expect(complete(s, "data ") == ["export", "generate", "load", "show"])
        #expect(complete(s, "data sh") == ["show"])
        #expect(complete(s, "show ") == ["settings"])
        #expect(complete(s, "help da") == ["data"])
        #expect(complete(s, "help data g") == ["generate"])
        #expect(Completer.complete("data sh", session: s).start == 5)
    }

    @Test func optionsAndTheirValues() throws {
        let s = try engineLikeSession("complete-options")
        #expect(complete(s, "eval --") == ["--families", "--k", "--split", "--temperature", "--verbose"])
        #expect(complete(s, "eval --t") == ["--temperature"])
        #expect(complete(s, "eval --split ") == ["ood", "test", "validation"])
        #expect(complete(s, "eval --split=v") == ["--split=validation"])
        #expect(complete(s, "data show --split te") == ["test", "text"])
        #expect(complete(s, "eval --k ").isEmpty, "numbers have no completions")
    }

    @Test func settingKeysMetricsRecipesAndSettingValues() throws {
        let s = try engineLikeSession("complete-names")
        s.register(setting: SettingSpec("method", .choice(["rft", "rest_em", "continuous"]), default: .string("continuous"), summary: "m"))
        s.register(recipe: NamedEntry("mstar", summary: "final"))
        s.register(recipe: NamedEntry("mstar-no-prm", summary: "ablation"))
        s.register(CommandSpec("recipe", group: "method", summary: "apply a recipe",
                               arguments: [ArgumentSpec("name", .name(.recipe), help: "recipe")]) { _, _ in CommandOutput() })
        #expect(complete(s, "set te") == ["temperature"])
        #expect(complete(s, "set method ") == ["continuous", "rest_em", "rft"])
        #expect(complete(s, "recipe ms") == ["mstar", "mstar-no-prm"])
        #expect(complete(s, "plot gr") == ["greedy_acc"])
        #expect(complete(s, "plot greedy_acc pass") == ["pass_at_k"])
        #expect(Completer.commonPrefix(["mstar", "mstar-no-prm"]) == "mstar")
    }

    @Test func filePaths() throws {
        let dir = try Fixture.tempDir("complete-paths")
        try FileManager.default.createDirectory(atPath: dir + "/notebooks", withIntermediateDirectories: true)
        try "".write(toFile: dir + "/notebooks/quickstart.mstar", atomically: true, encoding: .utf8)
        try "".write(toFile: dir + "/notes.txt", atomically: true, encoding: .utf8)
        try "".write(toFile: dir + "/.hidden", atomically: true, encoding: .utf8)
        let s = Session(runDirectory: dir + "/run", inputDirectory: dir)
        #expect(complete(s, "include no") == ["notebooks/", "notes.txt"])
        #expect(complete(s, "include notebooks/q") == ["notebooks/quickstart.mstar"])
        #expect(complete(s, "plot greedy_acc --from notebooks/") == ["notebooks/quickstart.mstar"])
        #expect(complete(s, "plot greedy_acc --from notes.txt,noteb") == ["notes.txt,notebooks/"])
        #expect(!complete(s, "include ").contains(".hidden"))
    }
}

@Suite struct ProgressTests {
    @Test func plainLinesAtEveryTenthWithRateAndTimeLeft() {
        var written: [String] = []
        var now = 0.0
        let p = Progress("evolve", total: 20, unit: "step", style: .lines, write: { written.append($0) }, clock: { now })
        for _ in 0..<20 { now += 0.5; p.advance() }
        p.finish()
        #expect(written.count == 10)
        #expect(written[0] == "evolve 2/20 steps (10%), 2.00 steps/s, 9s left\n")
        #expect(written[9] == "evolve 20/20 steps (100%), 2.00 steps/s, 10s\n")
    }

    @Test func barFitsTheWidth() {
        var written: [String] = []
        var now = 0.0
        let p = Progress("eval", total: 100, unit: "prompt", style: .bar, width: 80, write: { written.append($0) }, clock: { now })
        now = 2
        p.advance(by: 25)
        #expect(written.last == "\reval [##########..............................] 25/100 12 prompts/s, 6s left   ")
        #expect(written.last!.count == 80, "\\r and 79 columns")
        p.finish()
        #expect(written.last!.hasSuffix("\n"))
        #expect(Progress.duration(42) == "42s")
        #expect(Progress.duration(185) == "3m05s")
        #expect(Progress.duration(3720) == "1h02m")
    }

    @Test func historyPathFollowsTheEnvironment() {
        #expect(LineEditor.defaultHistoryPath(environment: ["MSTAR_HISTORY": "/x/h", "HOME": "/home/u"]) == "/x/h")
        #expect(LineEditor.defaultHistoryPath(environment: ["XDG_DATA_HOME": "/d", "HOME": "/home/u"]) == "/d/mstar/history")
        #expect(LineEditor.defaultHistoryPath(environment: ["HOME": "/home/u"]) == "/home/u/.local/share/mstar/history")
    }
}

@Suite struct DataCommandTests {
    @Test func showPrintsTheExampleAndWritesItsPNG() throws {
        let s = try Fixture.session("data-show")
        let out = Fixture.run(s, "data show --split text --index 5")
        #expect(out == [
            "id: text-000005   family: counting   level: 2   annotation: chain",
            "(text only)",
            "question: given 8 7 8 6 8 9 how many digits are less than 8 ?",
            "answer:   2",
            "chain:    read 8 7 8 6 8 9 ; keep 7 6 ; count 2 ; answer 2",
            "facts:    reads [[8, 7, 8, 6, 8, 9]]",
        ])
        let scene = Fixture.run(s, "data show --split test --index 7 --png scenes/t7.png")
        #expect(scene.count == 32 + 2 + 5 + 1)
        #expect(scene[0] == "id: test-000007   family: chart   level: 2   annotation: chain")
        #expect(scene[1] == "+" + String(repeating: "-", count: 96) + "+")
        #expect(scene.suffix(5).first == "question: what is the total height of bars labelled below 5 ?")
        #expect(scene.last == "[image: scenes/t7.png]")
        let png = Array(try Data(contentsOf: URL(fileURLWithPath: s.runDirectory + "/scenes/t7.png")))
        #expect(Fixture.pngSize(png)! == (192, 128))
        #expect(Fixture.run(s, "data show --split test --index 800") == ["error: --index 800 is outside test: use 0 to 799"])
        #expect(Fixture.run(s, "data show --split test --index 1 --family chart").first == "id: test-000007   family: chart   level: 2   annotation: chain")
        #expect(Fixture.run(s, "data show --split text --index 0 --png x.png") == ["error: text-000000 is text only: it has no image for --png"])
    }

    @Test func loadReadsJSONLAndNamesBadLines() throws {
        let s = try Fixture.session("data-load")
        s.progressStyle = .silent
        Fixture.run(s, "data generate --fraction 0.01")
        #expect(Fixture.run(s, "data export --split seed --out seedset") == ["wrote 3 examples to seedset/data.jsonl and 3 images to seedset/images/"])
        let path = s.runDirectory + "/seedset/data.jsonl"
        try (String(contentsOfFile: path, encoding: .utf8) + "{not json\n").write(toFile: path, atomically: true, encoding: .utf8)
        #expect(Fixture.run(s, "data load \(path) --as mine") == [
            "skipped \(path):4: not valid JSON",
            "mine: 3 examples (arithmetic 1, counting 1, comparison 1, chart 0); 1 bad lines skipped",
        ])
        #expect(DataCommands.dataset(s, "mine")?.map(\.id) == ["seed-000000", "seed-000001", "seed-000002"])
    }

    @Test func generateUsesTheSessionSeedAndIsJournaledResolved() throws {
        let s = try Fixture.session("data-generate")
        Fixture.run(s, "seed 4")
        #expect(Fixture.run(s, "data generate --fraction 0.5").first
                == "suite seed 4: captions 2000, text 2000, seed 150, labelled 2000, unlabelled 2000, validation 200, test 400, ood 200")
        #expect(s.resolvedHistory.last == "data generate --seed 4 --fraction 0.5")
        #expect(Fixture.run(s, "data generate --fraction 0") == ["error: --fraction must be above 0; got 0.0"])
    }
}
