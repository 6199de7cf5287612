import Foundation
import Testing
import MSTaRWorkbench

/// Replays, interrupts and partial work. Tests that press Ctrl-C do it on a private flag
/// (`Interrupt.withPrivateFlag`), so tests running at the same time are not interrupted.
@Suite struct ReplayTests {
    static let script = """
    # %% [markdown]
    # # A short session

    # %%
    seed 0
    #> seed = 0
    set temperature 0.5
    #> temperature = 0.5
    eval --k 4
    #> eval test k=4 T=0.5

    # %%
    evolve 2
    #> evolved 2 steps, k 16
    #>~ took 1.23 s
    stpe
    #> error: unknown command 'stpe'; did you mean 'step'?
    """

    func session(_ name: String) throws -> Session {
        let s = try engineLikeSession(name)
        s.register(CommandSpec("evolve", group: "method", summary: "steps",
                               arguments: [ArgumentSpec("n", .int, help: "steps")],
                               options: [OptionSpec("k", .int, default: .value(.int(16)), help: "k")]) { cmd, _ in
            var out = CommandOutput(lines: ["evolved \(cmd.int("n")) steps, k \(cmd.int("k"))"])
            out.volatile("took 0.01 s")  // a timing: recorded, never compared
            return out
        })
        return s
    }

    @Test func replayChecksEveryOutput() throws {
        let s = try session("replay-all")
        var echoed: [String] = []
        let result = try Replay(script: Script.parse(Self.script), file: "short.mstar").run(in: s, verify: true) { echoed.append($0) }
        let outputs = result.commands.map { $0.command.outputs.map(\.raw) }
        #expect(outputs == [
            ["#> seed = 0"], ["#> temperature = 0.5"], ["#> eval test k=4 T=0.5"],
            ["#> evolved 2 steps, k 16", "#>~ took 0.01 s"],
            ["#> error: unknown command 'stpe'; did you mean 'step'?"],
        ])
        #expect(echoed.joined(separator: "\n") == result.render())
        #expect(result.render() == Self.script.replacingOccurrences(of: "took 1.23 s", with: "took 0.01 s"))
        // The journal mirrors the code cells, resolved; the failed command is not in it.
        #expect(s.journal.text.hasSuffix("""
        # %%
        seed 0
        #> seed = 0
        set temperature 0.5
        #> temperature = 0.5
        eval --split test --k 4 --temperature 0.5
        #> eval test k=4 T=0.5

        # %%
        evolve 2 --k 16
        #> evolved 2 steps, k 16
        #>~ took 0.01 s

        """))
    }

    @Test func verifyCatchesAChangedNumberAndNamesIt() throws {
        let changed = Self.script.replacingOccurrences(of: "#> eval test k=4 T=0.5", with: "#> eval test k=4 T=0.6")
        let s = try session("replay-verify")
        #expect(throws: Replay.Failure.mismatch(location: "short.mstar:10", command: "eval --k 4",
                                                expected: "#> eval test k=4 T=0.6", actual: "#> eval test k=4 T=0.5")) {
            try Replay(script: Script.parse(changed), file: "short.mstar").run(in: s, verify: true)
        }
        let message = Replay.Failure.mismatch(location: "short.mstar:10", command: "eval --k 4",
                                              expected: "#> eval test k=4 T=0.6", actual: "#> eval test k=4 T=0.5").description
        #expect(message == "short.mstar:10: output of 'eval --k 4' differs\n  expected: #> eval test k=4 T=0.6\n  actual:   #> eval test k=4 T=0.5")
    }

    @Test func verifyCatchesMissingAndExtraLines() throws {
        let missing = Self.script.replacingOccurrences(of: "#> temperature = 0.5\n", with: "")
        #expect(throws: Replay.Failure.mismatch(location: "short.mstar:8", command: "set temperature 0.5",
                                                expected: "(no more output)", actual: "#> temperature = 0.5")) {
            try Replay(script: Script.parse(missing), file: "short.mstar").run(in: try session("replay-missing"), verify: true)
        }
        let extra = Self.script.replacingOccurrences(of: "#> seed = 0\n", with: "#> seed = 0\n#> surprise\n")
        #expect(throws: Replay.Failure.mismatch(location: "short.mstar:7", command: "seed 0",
                                                expected: "#> surprise", actual: "(no more output)")) {
            try Replay(script: Script.parse(extra), file: "short.mstar").run(in: try session("replay-extra"), verify: true)
        }
    }

    @Test func anUnexpectedFailureStopsTheReplay() throws {
        let broken = Self.script.replacingOccurrences(of: "#> error: unknown command 'stpe'; did you mean 'step'?", with: "")
        #expect(throws: Replay.Failure.commandFailed(location: "short.mstar:16 (cell 3)", command: "stpe",
                                                     message: "unknown command 'stpe'; did you mean 'step'?")) {
            try Replay(script: Script.parse(broken), file: "short.mstar").run(in: try session("replay-broken"), verify: false)
        }
    }

    @Test func updateRewritesRecordedOutputsAtomically() throws {
        let dir = try Fixture.tempDir("replay-update")
        let file = dir + "/s.mstar"
        let stale = Self.script.replacingOccurrences(of: "#> eval test k=4 T=0.5", with: "#> eval test k=4 T=0.9\n#> an old line")
            .replacingOccurrences(of: "set temperature 0.5\n#> temperature = 0.5\n", with: "set temperature 0.5\n")
        try stale.write(toFile: file, atomically: true, encoding: .utf8)
        let result = try Replay(script: Script.parse(stale), file: file).run(in: try session("replay-update-run"), verify: false)
        try Replay.writeAtomically(result.render(), to: file)
        let updated = try String(contentsOfFile: file, encoding: .utf8)
        #expect(updated == Self.script.replacingOccurrences(of: "took 1.23 s", with: "took 0.01 s"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["s.mstar"], "no temporary file is left")
        // And the updated script now verifies.
        _ = try Replay(script: Script.parse(updated), file: file).run(in: try session("replay-update-verify"), verify: true)
    }

    @Test func ctrlCStopsAtTheNextSafePointAndKeepsTheSessionConsistent() throws {
        try Interrupt.withPrivateFlag {
            let s = try session("replay-interrupt")
            var completed = 0
            s.register(CommandSpec("work", group: "test", summary: "ten units, interruptible",
                                   arguments: [ArgumentSpec("stop_after", .int, help: "press Ctrl-C after this many")]) { cmd, session in
                for unit in 0..<10 {
                    if unit == cmd.int("stop_after") { Interrupt.request() }
                    try Interrupt.check()
                    completed += 1
                }
                return CommandOutput(lines: ["done"])
            })
            Interrupt.clear()
            let r = s.execute("work 3")
            #expect(r.status == .interrupted)
            #expect(completed == 3)
            #expect(r.recordedLines.map(\.text) == ["interrupted"])
            #expect(s.journal.entries == 0, "an interrupted command is not journaled")
            Interrupt.clear()
            #expect(!Interrupt.requested)
            #expect(Fixture.run(s, "step") == ["stepped"], "the session goes on")
        }
    }

    @Test func aHandlerThatStopsEarlyJournalsWhatItDid() throws {
        try Interrupt.withPrivateFlag {
            let s = try session("replay-partial")
            s.register(CommandSpec("grow", group: "test", summary: "n steps",
                                   arguments: [ArgumentSpec("n", .int, help: "steps")]) { cmd, session in
                var done = 0
                do {
                    for i in 0..<cmd.int("n") {
                        if i == 2 { Interrupt.request() }
                        try Interrupt.check()
                        done += 1
                    }
                } catch is Interrupted {
                    return CommandOutput(items: [.text("grew \(done) of \(cmd.int("n"))")], journalAs: "grow \(done)", interrupted: true)
                }
                return CommandOutput(lines: ["grew \(done)"])
            })
            Interrupt.clear()
            let r = s.execute("grow 5")
            Interrupt.clear()
            #expect(r.status == .interrupted)
            #expect(s.resolvedHistory == ["grow 2"])
            #expect(s.journal.text.hasSuffix("grow 2\n#> grew 2 of 5\n"))
        }
    }

    @Test func aPendingCtrlCStopsAReplayBeforeTheNextCommand() throws {
        try Interrupt.withPrivateFlag {
            let s = try session("replay-stop")
            Interrupt.request()
            defer { Interrupt.clear() }
            #expect(throws: Interrupted.self) {
                try Replay(script: Script.parse("step\nstep\n"), file: "x").run(in: s, verify: false)
            }
            #expect(s.journal.entries == 0)
        }
    }

    @Test func dataExportWritesFilesAndStopsAtCtrlC() throws {
        try Interrupt.withPrivateFlag {
            let s = try session("replay-export")
            #expect(Fixture.run(s, "data generate --fraction 0.02") == [
                "suite seed 0: captions 80, text 80, seed 6, labelled 80, unlabelled 80, validation 8, test 16, ood 8",
                "handwriting: 1797 images (train 1258, validation 179, test 360)",
            ])
            s.progressStyle = .silent
            #expect(Fixture.run(s, "data export --split test --out exp --count 5 --scale 2") == [
                "wrote 5 examples to exp/data.jsonl and 5 images to exp/images/",
            ])
            let jsonl = try String(contentsOfFile: s.runDirectory + "/exp/data.jsonl", encoding: .utf8)
            #expect(jsonl.split(separator: "\n").count == 5)
            #expect(jsonl.hasPrefix("{\"answer\":"))
            let png = try Data(contentsOf: URL(fileURLWithPath: s.runDirectory + "/exp/images/test-000000.png"))
            #expect(Fixture.pngSize(Array(png))! == (96, 64))
            Interrupt.request()
            let r = s.execute("data export --split labelled --out big")
            Interrupt.clear()
            #expect(r.status == .interrupted)
            #expect(!FileManager.default.fileExists(atPath: s.runDirectory + "/big/data.jsonl"))
        }
    }
}
