import Foundation
import MSTaRTensor
import MSTaRWorkbench
import Testing

/// The numerics mode is part of a recording: journals pin it, and `--verify` of a recording whose
/// numbers came from a CPU's own kernels says so instead of reporting a wrong number.
@Suite struct NumericsReplayTests {
    func session(_ name: String) throws -> Session { try Fixture.engineSession(name) }

    @Test func journalsPinTheNumericsMode() throws {
        let s = try session("numerics-pin")
        #expect(Fixture.run(s, "seed 1") == ["seed = 1"])
        let journal = try String(contentsOfFile: s.runDirectory + "/" + Session.journalName, encoding: .utf8)
        #expect(journal.contains("set numerics portable\n#> numerics = portable\n"))
        #expect(Numerics.mode == .portable)
    }

    @Test func aJournalFromBeforeTheSettingSaysSoWhereItDiffers() throws {
        let old = Journal.header.joined(separator: "\n") + "\n\n# %% pinned settings\nset threads 2\n#> threads = 2\n\n# %%\nseed 1\n#> seed = 2\n"
        do {
            _ = try Replay(script: Script.parse(old), file: "old.mstar").run(in: try session("numerics-old"), verify: true)
            Issue.record("a changed output verified")
        } catch let f as Replay.Failure {
            #expect(f == .numerics(location: "old.mstar:10", command: "seed 1", recorded: nil))
            #expect(f.description.contains("recorded before the numerics setting") && !f.description.contains("\n"))
        }
        // A script that is not a journal and sets no numerics gets the plain difference.
        do {
            _ = try Replay(script: Script.parse("seed 1\n#> seed = 2\n"), file: "s.mstar").run(in: try session("numerics-plain"), verify: true)
        } catch let f as Replay.Failure {
            #expect(f == .mismatch(location: "s.mstar:2", command: "seed 1", expected: "#> seed = 2", actual: "#> seed = 1"))
        }
    }

    @Test func aRecordingInOpenBLASNumericsNamesItsMode() throws {
        // The setting without the engine's hook: switching the process to OpenBLAS would change the
        // bits of tests running beside this one.
        let s = try Fixture.session("numerics-openblas")
        s.register(setting: SettingSpec(Session.numericsSetting, .choice(["portable", "openblas"]), default: .string("portable"), summary: "mode"))
        do {
            _ = try Replay(script: Script.parse("set numerics openblas\n#> numerics = openblas\nseed 1\n#> seed = 2\n"), file: "o.mstar")
                .run(in: s, verify: true)
            Issue.record("a changed output verified")
        } catch let f as Replay.Failure {
            #expect(f == .numerics(location: "o.mstar:4", command: "seed 1", recorded: "openblas"))
        }
    }
}
