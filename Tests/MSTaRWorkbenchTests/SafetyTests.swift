import Foundation
import MSTaRModel
import MSTaRWorkbench
import Testing

/// A shared script must be as safe to replay as it is to read: nothing it says runs a program,
/// writes outside its run directory, or replaces the journal.
@Suite struct SafetyTests {
    /// Strings that gnuplot would run or expand inside double quotes, or that end its command line.
    static let injections = [
        "`touch PWNED`", "$(touch PWNED)", "a\nsystem 'touch PWNED'", "a\rsystem 'touch PWNED'",
        "x' ; system('touch PWNED') ; '", "@PWNED", "\\\"; system \"touch PWNED\"", "a\u{2028}b",
    ]

    /// Every file under `dir`, relative to it.
    static func files(_ dir: String) -> [String] {
        (FileManager.default.enumerator(atPath: dir)?.allObjects as? [String] ?? []).sorted()
    }

    @Test(.enabled(if: Fixture.hasGnuplot)) func titlesAndLabelsNeverRunAsGnuplotCommands() throws {
        let s = try Fixture.session("safety-plot")
        let base = (s.runDirectory as NSString).deletingLastPathComponent
        try Fixture.writeDynamics(s.inputPath("dyn.jsonl"))
        // gnuplot runs in this process's working directory: that is where a `touch` would land.
        let cwd = FileManager.default.currentDirectoryPath
        for (i, text) in Self.injections.enumerated() {
            for option in ["title", "ylabel"] {
                let ex = s.execute("plot greedy_acc --from dyn.jsonl --out p\(i)-\(option).png --\(option) \(Lexer.quoteIfNeeded(text))")
                if text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control || $0 == "\u{2028}" }) {
                    #expect(ex.status == .failed && ex.error!.contains("control character"), "\(text): \(ex.error ?? "ran")")
                } else {
                    #expect(ex.status == .completed, "\(text): \(ex.error ?? "")")
                }
            }
        }
        #expect(!Self.files(base).contains { $0.contains("PWNED") }, "\(Self.files(base))")
        #expect(!FileManager.default.fileExists(atPath: cwd + "/PWNED"))
        // What gnuplot was given is the text itself, as one single-quoted literal.
        let plot = Plot(title: "it's `id`", xLabel: "x", yLabel: "y", series: [PlotSeries("a'b", x: [0], y: [1])])
        let script = try Gnuplot.script(plot, terminal: .dumb(columns: 60, rows: 15))
        #expect(script.contains("set title 'it''s `id`'\n") && script.contains("title 'a''b'"))
        let art = try Gnuplot.render(plot, terminal: .dumb(columns: 60, rows: 15))
        #expect(art.contains("it's `id`"))
    }

    @Test(.enabled(if: Fixture.hasGnuplot)) func plotFileNamesStayPlainFilesInTheRunDirectory() throws {
        let s = try Fixture.session("safety-out")
        let base = (s.runDirectory as NSString).deletingLastPathComponent
        try Fixture.writeDynamics(s.inputPath("dyn.jsonl"))
        func refusal(_ out: String) -> String? {
            let ex = s.execute("plot greedy_acc --from dyn.jsonl --out \(Lexer.quoteIfNeeded(out))")
            return ex.status == .failed ? ex.error : nil
        }
        #expect(refusal("../x.png")?.contains("outside the run directory") == true)
        #expect(refusal(base + "/y.png")?.contains("outside the run directory") == true)
        #expect(refusal("a\nsystem 'touch PWNED'\n.png")?.contains("control character") == true)
        #expect(refusal("sub/../../z.png")?.contains("outside the run directory") == true)
        // A link inside the run directory that points out of it leads nowhere.
        try FileManager.default.createDirectory(atPath: s.runDirectory, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: s.runDirectory + "/out", withDestinationPath: base)
        #expect(refusal("out/w.png")?.contains("outside the run directory") == true)
        try FileManager.default.createSymbolicLink(atPath: s.runDirectory + "/l.png", withDestinationPath: base + "/target.png")
        #expect(refusal("l.png")?.contains("symbolic link") == true)
        #expect(mkfifo(s.runDirectory + "/f.png", 0o644) == 0)
        #expect(refusal("f.png")?.contains("not a plain file") == true)
        #expect(refusal("`touch PWNED`.png") == nil, "backquotes are plain characters of a file name")
        #expect(!Self.files(base).contains { $0.contains("PWNED") && !$0.hasPrefix("run/") })
        #expect(!FileManager.default.fileExists(atPath: base + "/x.png") && !FileManager.default.fileExists(atPath: base + "/y.png"))
        // Allowed outside with writeAnywhere, as `mstar --write-anywhere` sets it.
        s.writeAnywhere = true
        #expect(refusal("../x.png") == nil)
        #expect(FileManager.default.fileExists(atPath: base + "/x.png"))
    }

    @Test func theJournalAndTheRunDirectoryCannotBeWrittenOver() throws {
        let s = try Fixture.session("safety-journal")
        #expect(Fixture.run(s, "seed 3") == ["seed = 3"])
        let journal = s.runDirectory + "/" + Session.journalName
        let before = try String(contentsOfFile: journal, encoding: .utf8)
        for command in ["save session session.mstar", "save session ./session.mstar", "save session dynamics.jsonl",
                        "save session .", "save session ..", "save session sub/../session.mstar"] {
            let ex = s.execute(command)
            #expect(ex.status == .failed, "\(command) ran")
        }
        #expect(try String(contentsOfFile: journal, encoding: .utf8) == before)
        // The session goes on journaling.
        #expect(Fixture.run(s, "seed 4") == ["seed = 4"])
        #expect(try String(contentsOfFile: journal, encoding: .utf8).contains("seed 4\n#> seed = 4"))
    }

    @Test func aRunDirectoryMustBeNewEmptyOrAnEarlierRun() throws {
        let dir = try Fixture.tempDir("safety-rundir")
        try Session.checkRunDirectory(dir + "/new")
        try Session.checkRunDirectory(dir)  // empty
        try Data("notes".utf8).write(to: URL(fileURLWithPath: dir + "/notes.txt"))
        #expect(throws: WorkbenchError.self) { try Session.checkRunDirectory(dir) }
        #expect(throws: WorkbenchError.self) { try Session.checkRunDirectory(dir + "/notes.txt") }
        let s = Session(runDirectory: dir + "/run")
        Fixture.run(s, "seed 1")
        try Session.checkRunDirectory(dir + "/run")
    }

    @Test func recordedOutputNeverHoldsALineBreak() throws {
        for text in ["a\nb", "a\r\nb", "a\rb", "a\u{2028}b", "\u{1B}[2J"] {
            let line = OutputLine(text: text, volatile: false)
            #expect(!line.raw.unicodeScalars.contains { $0.properties.generalCategory == .control || $0 == "\u{2028}" }, "\(line.raw)")
            #expect(Script.parse(line.raw + "\n").render() == line.raw + "\n")
        }
        // Values with line breaks are journaled on one line and read back unchanged.
        for text in ["a\r\nb", "x\ry", "tab\there"] {
            let quoted = Lexer.quoteIfNeeded(text)
            #expect(!quoted.contains("\n") && !quoted.contains("\r"))
            guard case .words(let words) = Lexer.split("set k " + quoted) else { Issue.record("\(quoted) is incomplete"); continue }
            #expect(words.map(\.text) == ["set", "k", text])
        }
    }

    @Test func scriptsWithWindowsLineEndingsReadAsWritten() throws {
        let text = "seed 2\r\n#> seed = 2\r\n\r\n# %%\r\nset plot_width 640\r\n#> plot_width = 640\r\n"
        let script = Script.parse(text)
        #expect(script.render() == text)
        #expect(script.commands.map { $0.command.text.trimmingCharacters(in: .whitespaces) } == ["seed 2\r", "set plot_width 640\r"].map { $0.trimmingCharacters(in: .whitespaces) })
        let s = try Fixture.session("safety-crlf")
        _ = try Replay(script: script, file: "crlf.mstar").run(in: s, verify: true)
        #expect(s.settings.int("plot_width") == 640)
    }
}

/// The method's commands on files from outside: a bad checkpoint is an error and the session goes
/// on; `save` writes only over what mstar saved; settings that contradict each other are refused.
@Suite struct EngineSafetyTests {
    func session(_ name: String) throws -> Session { try Fixture.engineSession(name) }

    @Test func aCheckpointThatWouldCrashTheLoaderIsAnErrorAtThePrompt() throws {
        let s = try session("safety-load")
        let bad = (s.runDirectory as NSString).deletingLastPathComponent + "/bad"
        try FileManager.default.createDirectory(atPath: bad, withIntermediateDirectories: true)
        let good = EngineCommandsTests.checkpoint
        for name in ["model.safetensors", "state.json"] {
            try FileManager.default.copyItem(atPath: good + "/" + name, toPath: bad + "/" + name)
        }
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: good + "/config.json"))) as! [String: Any]
        for (key, value) in [("heads", 0 as Any), ("patch", 0), ("dModel", -32), ("layers", 1_000_000_000), ("vocab", 300)] {
            var c = config
            c[key] = value
            try JSONSerialization.data(withJSONObject: c).write(to: URL(fileURLWithPath: bad + "/config.json"))
            let ex = s.execute("load \(bad)")
            #expect(ex.status == .failed && ex.error!.contains("config.json"), "\(key): \(ex.error ?? "loaded")")
        }
        #expect(Fixture.run(s, "load \(good)").first?.hasPrefix("policy ") == true, "the session goes on")
    }

    @Test func saveRefusesSomeonesFolderAndReplacesItsOwnCheckpoint() throws {
        let s = try session("safety-save")
        #expect(Fixture.run(s, "load \(EngineCommandsTests.checkpoint)").first?.hasPrefix("policy ") == true)
        let notes = s.runDirectory + "/notes"
        try FileManager.default.createDirectory(atPath: notes, withIntermediateDirectories: true)
        try Data("precious".utf8).write(to: URL(fileURLWithPath: notes + "/a.txt"))
        try Data("a file".utf8).write(to: URL(fileURLWithPath: s.runDirectory + "/file"))
        #expect(Fixture.run(s, "save notes").first?.contains("not a checkpoint mstar wrote") == true)
        #expect(Fixture.run(s, "save file").first?.contains("is a file") == true)
        #expect(try String(contentsOfFile: notes + "/a.txt", encoding: .utf8) == "precious")
        #expect(Fixture.run(s, "save mine") == ["saved policy to mine"])
        #expect(Fixture.run(s, "save mine") == ["saved policy to mine"])
        #expect(FileManager.default.fileExists(atPath: s.runDirectory + "/mine/" + Checkpoint.markerName))
    }

    @Test func numbersThatWouldExhaustMemoryAreRefusedAsTheCommandIsRead() throws {
        let s = try session("safety-ranges")
        #expect(Fixture.run(s, "data show --split test --index 0 --scale 100000 --png a.png")
                == ["error: --scale of 'data show' must be from 1 to 32; got 100000"])
        #expect(Fixture.run(s, "eval --split test --k 1000000000") == ["error: --k of 'eval' must be from 0 to 1024; got 1000000000"])
        #expect(Fixture.run(s, "evolve -1") == ["error: N of 'evolve' must be from 0 to 1000000; got -1"])
        #expect(Fixture.run(s, "data generate --fraction 1e9") == ["error: --fraction of 'data generate' must be from 0 to 100; got 1e9"])
        #expect(s.journal.entries == 0, "refused commands are not journaled")
    }

    @Test func temperatureMinAboveMaxIsRefusedAndMessagesNameTheSettingOnce() throws {
        let s = try session("safety-settings")
        #expect(Fixture.run(s, "set temperature_min 2") == ["error: temperature_min 2 would be above temperature_max 1.6; set the other one first"])
        #expect(Fixture.run(s, "set temperature_max 3") == ["temperature_max = 3"])
        #expect(Fixture.run(s, "set temperature_min 2") == ["temperature_min = 2"])
        #expect(Fixture.run(s, "set temperature_max 1") == ["error: temperature_min 2 would be above temperature_max 1; set the other one first"])
        #expect(s.settings.double("temperature_max") == 3, "a refused change leaves the old value")
        #expect(Fixture.run(s, "set k 0") == ["error: k takes a whole number from 1 to 256; got 0"])
        // A recipe sets both at once: its own pair is checked, not the order of its settings.
        #expect(Fixture.run(s, "recipe mstar").first?.hasPrefix("recipe mstar") == true)
        #expect(s.settings.double("temperature_min") <= s.settings.double("temperature_max"))
    }
}
