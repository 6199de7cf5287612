import Foundation
import Testing
import MSTaRWorkbench

@Suite struct SessionTests {
    @Test func helpIsGeneratedFromTheDeclarations() throws {
        let s = try engineLikeSession("session-help")
        let overview = Fixture.run(s, "help")
        #expect(overview.first == "commands (help COMMAND for its options):")
        #expect(overview.contains("  eval           evaluate the policy"))
        #expect(overview.contains("method:"))
        #expect(overview.firstIndex(of: "session:")! < overview.firstIndex(of: "method:")!)
        #expect(Fixture.run(s, "help evolve") == [
            "evolve: run N evolution steps",
            "usage: evolve N [--k N]",
            "  N      steps (required)",
            "  --k N  samples per prompt (default 16)",
        ])
        #expect(Fixture.run(s, "help eval").contains("  --temperature X             temperature (default: setting temperature, now 1)"))
        #expect(Fixture.run(s, "help data").first == "data commands (help data SUBCOMMAND for its options):")
        #expect(Fixture.run(s, "help stpe") == ["error: unknown command 'stpe'; did you mean 'step'?"])
    }

    @Test func badCommandLeavesTheSessionUsable() throws {
        let s = try engineLikeSession("session-bad")
        let bad = s.execute("stpe")
        #expect(bad.status == .failed)
        #expect(bad.error == "unknown command 'stpe'; did you mean 'step'?")
        let good = s.execute("step")
        #expect(good.status == .completed)
        #expect(good.output.recordedLines.map(\.text) == ["stepped"])
        #expect(s.history == ["step"], "only completed commands are history")
    }

    @Test func journalRecordsResolvedCommandsOnDiskAtOnce() throws {
        let s = try engineLikeSession("session-journal")
        Fixture.run(s, "eval --k 4")
        let path = s.runDirectory + "/session.mstar"
        // Flushed before execute returns: the file already holds the command.
        let afterOne = try String(contentsOfFile: path, encoding: .utf8)
        #expect(afterOne.hasSuffix("# %%\neval --split test --k 4 --temperature 1\n#> eval test k=4 T=1\n"))
        Fixture.run(s, "evolve 2")
        Fixture.run(s, "stpe")  // failed: not journaled
        s.journal.beginCell()
        Fixture.run(s, "seed 9")
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text == Journal.header.joined(separator: "\n") + """

        
        # %%
        eval --split test --k 4 --temperature 1
        #> eval test k=4 T=1
        evolve 2 --k 16
        #> evolved 2 steps, k 16

        # %%
        seed 9
        #> seed = 9

        """)
        #expect(text == s.journal.text)
        #expect(s.journal.entries == 3)
        #expect(Fixture.run(s, "history") == ["1  eval --k 4", "2  evolve 2", "3  seed 9"])
        #expect(Fixture.run(s, "history --resolved") == [
            "1  eval --split test --k 4 --temperature 1", "2  evolve 2 --k 16", "3  seed 9", "4  history",
        ])
    }

    @Test func theJournalReplaysToTheSameOutputs() throws {
        let s = try engineLikeSession("session-journal-replay")
        for line in ["set temperature 0.5", "eval", "evolve 1 --k 2", "seed 3"] { Fixture.run(s, line) }
        let again = try engineLikeSession("session-journal-replay-2")
        let script = Script.parse(s.journal.text)
        let replayed = try Replay(script: script, file: "session.mstar").run(in: again, verify: true)
        #expect(replayed.render() == s.journal.text)
        #expect(again.settings.double("temperature") == 0.5)
        #expect(again.seed == 3)
    }

    @Test func includeRunsAFileRelativeToTheIncluder() throws {
        let dir = try Fixture.tempDir("session-include")
        try FileManager.default.createDirectory(atPath: dir + "/sub", withIntermediateDirectories: true)
        try "seed 5\n#> seed = 5\nevolve 2\n".write(toFile: dir + "/sub/inner.mstar", atomically: true, encoding: .utf8)
        try "include inner.mstar\nstep\n".write(toFile: dir + "/sub/outer.mstar", atomically: true, encoding: .utf8)
        try "step\nstpe\n".write(toFile: dir + "/broken.mstar", atomically: true, encoding: .utf8)
        let s = try engineLikeSession("session-include-run")
        let session = Session(runDirectory: dir + "/run", inputDirectory: dir)
        session.register(s.registry.spec("evolve")!)
        session.register(s.registry.spec("step")!)
        #expect(Fixture.run(session, "include sub/outer.mstar") == ["seed = 5", "evolved 2 steps, k 16", "stepped"])
        #expect(session.seed == 5)
        #expect(session.resolvedHistory == ["seed 5", "evolve 2 --k 16", "step"], "include itself is not journaled")
        #expect(session.journal.text.contains("# include sub/outer.mstar\n# include inner.mstar\nseed 5\n"))
        #expect(Fixture.run(session, "include broken.mstar") == ["stepped", "error: broken.mstar:2: unknown command 'stpe'; did you mean 'step'?"])
        #expect(Fixture.run(session, "include missing.mstar") == ["error: cannot include missing.mstar: cannot read \(dir)/missing.mstar: No such file or directory"])
    }

    @Test func includeRefusesEndlessRecursion() throws {
        let dir = try Fixture.tempDir("session-include-loop")
        try "include self.mstar\n".write(toFile: dir + "/self.mstar", atomically: true, encoding: .utf8)
        let s = Session(runDirectory: dir + "/run", inputDirectory: dir)
        let out = Fixture.run(s, "include self.mstar")
        #expect(out.count == 1)
        #expect(out[0].hasSuffix("include nests more than 16 deep (does self.mstar include itself?)"))
    }

    @Test func saveSessionWritesTheJournalSoFar() throws {
        let s = try engineLikeSession("session-save")
        Fixture.run(s, "step")
        Fixture.run(s, "evolve 1")
        #expect(Fixture.run(s, "save session copies/mine.mstar") == ["saved 2 commands to copies/mine.mstar"])
        let saved = try String(contentsOfFile: s.runDirectory + "/copies/mine.mstar", encoding: .utf8)
        #expect(saved.hasSuffix("step\n#> stepped\nevolve 1 --k 16\n#> evolved 1 steps, k 16\n"))
        #expect(Script.parse(saved).commands.map(\.command.text) == ["step", "evolve 1 --k 16"])
    }

    @Test func quitEndsWithoutBeingJournaled() throws {
        let s = try engineLikeSession("session-quit")
        let q = s.execute("quit")
        #expect(q.quit)
        #expect(s.journal.entries == 0)
        #expect(s.execute("# just a comment").status == .empty)
        #expect(s.execute("step \"open").error == "incomplete command: a quote is still open")
    }

    @Test func handlerErrorsAreReportedAndStateIsKept() throws {
        let s = try engineLikeSession("session-throw")
        s.register(CommandSpec("boom", group: "test", summary: "fails") { _, session in
            session.values["touched"] = true
            throw WorkbenchError("it broke; try again")
        })
        let r = s.execute("boom")
        #expect(r.status == .failed)
        #expect(r.recordedLines.map(\.raw) == ["#> error: it broke; try again"])
        #expect(s.journal.entries == 0)
    }

    @Test func pathsResolveAgainstRunAndInputDirectories() throws {
        let s = Session(runDirectory: "/tmp/run-x", inputDirectory: "/data/in")
        #expect(s.outputPath("plots/a.png") == "/tmp/run-x/plots/a.png")
        #expect(s.outputPath("/abs/b.png") == "/abs/b.png")
        #expect(s.inputPath("x.mstar") == "/data/in/x.mstar")
    }

    @Test func namedValuesAndVocabularies() throws {
        let s = try engineLikeSession("session-vocab")
        s.register(recipe: NamedEntry("mstar", summary: "the final recipe"))
        s.register(metric: MetricSpec("acc_counting", label: "counting accuracy", summary: "per family"))
        #expect(s.words(.recipe) == ["mstar"])
        #expect(s.words(.metric).contains("acc_counting"))
        #expect(s.words(.setting) == ["plot_height", "plot_width", "seed", "temperature"])
        #expect(s.words(.command).contains("data show"))
        s.values["policy"] = 3
        #expect(s.values["policy"] as? Int == 3)
    }
}
