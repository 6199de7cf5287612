import Foundation
import MSTaR
import MSTaRModel
import MSTaRTasks
import MSTaRTensor
import MSTaRWorkbench
import Testing

/// The method's commands in a real session, on a tiny policy and a small suite.
@Suite struct EngineCommandsTests {
    /// A tiny policy saved as a checkpoint, for `load`.
    static let checkpoint: String = {
        var c = ModelConfig(vocab: Tokenizer.standard.vocabSize)
        c.visionDim = 16; c.visionLayers = 1; c.visionHeads = 2; c.visionMLP = 32
        c.dModel = 32; c.layers = 1; c.heads = 2; c.mlpHidden = 64; c.stemChannels = [4, 8]
        var rng = RNG(seed: 8)
        let model = try! VisionLanguageModel(c, rng: &rng)
        let dir = try! Fixture.tempDir("engine-policy") + "/tiny"
        try! Checkpoint.save(model: model, state: TrainingState(), to: URL(fileURLWithPath: dir))
        return dir
    }()

    static let setup = [
        "data generate --fraction 0.02", "load \(checkpoint)", "recipe mstar",
        "set prompts 8", "set k 4", "set max_tokens 16", "set dynamics_prompts 4", "set dynamics_k 4",
        "set temperature_prompts 2", "set temperature_min 0.5", "set temperature_max 1", "set temperature_step 0.5",
        "set prm_prompts 4", "set prm_samples 2", "set prm_rollouts 2", "set prm_epochs 1", "set batch_size 4",
    ]

    func session(_ name: String) throws -> Session {
        let s = try Fixture.engineSession(name)
        for line in Self.setup {
            let e = s.execute(line)
            #expect(e.status == .completed, "\(line): \(e.error ?? "")")
        }
        return s
    }

    @Test func stepReportsAndLogsDynamics() throws {
        try Runtime.withThreads(1) {
        let s = try session("engine-step")
        let out = Fixture.run(s, "step")
        #expect(out.contains { $0.hasPrefix("temperature search (Reward-Pass@2): 0.5 ") && $0.contains(" -> ") })
        #expect(out.contains { $0.hasPrefix("step 1 (continuous, T ") && $0.contains("2 prompts, 8 samples") })
        #expect(out.contains { $0.hasPrefix("validation (4 prompts, K 4): greedy ") && $0.contains("(prm)") })
        let lines = try String(contentsOfFile: s.outputPath("dynamics.jsonl"), encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 1 && lines[0].contains("\"reward_pass_at_2\""))
        let table = Fixture.run(s, "dynamics")
        #expect(table.count == 2 && table[0].contains("RP@2") && table[1].hasPrefix("  1 "))
        let sample = Fixture.run(s, "sample --prompt 1 --show 2")
        #expect(sample.contains { $0.hasPrefix("question: ") } && sample.contains { $0.contains("4 responses") })
        #expect(sample.contains { $0.hasPrefix("    steps (oracle, PRM): ") })
        let bad = s.execute("sample --prompt 9")
        #expect(bad.status == .failed && bad.error!.contains("--prompt takes 0 to 1"))
        }
    }

    /// `sample --split` judges with the step's own reward and selection: with the step checks on it
    /// rewards no more than the right answers, and the `oracle-steps` rule works there too.
    @Test func sampleFromASplitJudgesAsAStepDoes() throws {
        try Runtime.withThreads(1) {
        let s = try session("engine-sample-split")
        for line in ["set selection oracle-steps", "set step_check on", "set reading_vote on"] {
            #expect(s.execute(line).status == .completed, "\(line)")
        }
        let out = Fixture.run(s, "sample --split labelled --index 0 --k 4 --show 4")
        let summary = try #require(out.first { $0.hasSuffix(" selected") && $0.contains(" responses, ") })
        let numbers = summary.split(separator: " ").compactMap { Int($0) }
        #expect(numbers.count == 3 && numbers[0] == 4 && numbers[2] <= numbers[1], "\(summary)")
        let kept = out.filter { $0.contains("] kept ") }.count, right = out.filter { $0.contains("] right ") }.count
        #expect(kept == numbers[2] && kept + right == numbers[1], "\(out)")
        }
    }

    /// Every setting of the engine's table is a session setting: `set` takes a value in its range,
    /// `show settings` lists it as changed, and `recipe` puts it back.
    @Test func everyEngineSettingGoesThroughSetAndShowSettings() throws {
        let s = try Fixture.engineSession("engine-settings-table")
        let defaults = EvolutionSettings()
        for d in EvolutionSettings.table {
            let text = d.value(in: defaults)
            let other: String
            switch d.kind {
            case .int(let r): other = String(Int(text)! < r.upperBound ? Int(text)! + 1 : r.lowerBound)
            case .real(let r, _): other = formatNumber(Double(Float(Double(text)! == r.upperBound ? r.lowerBound + (r.upperBound - r.lowerBound) / 2 : r.upperBound)))
            case .choice(let names): other = names.first { $0 != text }!
            case .flag: other = text == "on" ? "off" : "on"
            }
            if d.name == "temperature_min" { continue }  // above temperature_max, refused on its own (tested elsewhere)
            let e = s.execute("set \(d.name) \(other)")
            #expect(e.status == .completed, "\(d.name) \(other): \(e.error ?? "")")
            let row = try #require(Fixture.run(s, "show settings").first { $0.hasPrefix("* \(d.name) ") }, "\(d.name) not shown as changed")
            let shown = row.split(separator: " ", omittingEmptySubsequences: true)[2]
            #expect(String(shown) == other, "\(row)")  // one format: the session shows the engine's text
            #expect(s.execute("recipe continuous").status == .completed)
        }
    }

    /// `warmup` trains on the seed chains (with replayed pretraining examples when asked) and nothing
    /// else: no vision phase runs first; `pretrain --vision 0` is the caption-and-text phase alone.
    @Test func warmupAndPretrainRunOnlyTheirPhases() throws {
        try Runtime.withThreads(1) {
        let s = try session("engine-warmup")
        let seeds = try DataCommands.suite(s).sizes.seed
        let plain = Fixture.run(s, "warmup --epochs 1 --batch 8")
        #expect(plain[0].hasPrefix("warm-up: \(seeds) examples, \((seeds + 7) / 8) updates"), "\(plain)")
        let replayed = Fixture.run(s, "warmup --epochs 2 --batch 8 --replay 10")
        #expect(replayed[0].hasPrefix("warm-up: \(seeds + 10) examples, \(2 * ((seeds + 17) / 8)) updates"), "\(replayed)")
        let pretrain = Fixture.run(s, "pretrain --epochs 1 --batch 64 --vision 0")
        #expect(pretrain[0].hasPrefix("pretrain: 160 examples, 3 updates"), "\(pretrain)")
        // Each phase reports its line and its timing line; a vision phase would add two more.
        for out in [plain, replayed, pretrain] { #expect(out.count == 2 && !out.contains { $0.hasPrefix("vision") }, "\(out)") }
        #expect(s.execute("pretrain --replay 3").status == .failed)
        }
    }

    @Test func settingsAndRecipesCheckTheirValues() throws {
        try Runtime.withThreads(1) {
        let s = try session("engine-settings")
        #expect(Fixture.run(s, "set interval 0.5") == ["interval = 0.5"])
        let e1 = s.execute("set interval 2")
        #expect(e1.status == .failed && e1.error!.contains("interval takes a number"))
        let e2 = s.execute("recipe mstr")
        #expect(e2.status == .failed && e2.error!.contains("did you mean 'mstar'"))
        let e3 = s.execute("set selection best")
        #expect(e3.status == .failed && e3.error!.contains("prm-top"))
        #expect(Fixture.run(s, "recipe rest-em") == ["recipe rest-em: method rest-em, interval 1"])
        }
    }

    /// A session saved and loaded mid-run writes the same dynamics as one that ran through.
    @Test func saveAndLoadContinueTheRun() throws {
        try Runtime.withThreads(1) {
        let whole = try session("engine-whole")
        #expect(whole.execute("evolve 2").status == .completed)
        let first = try session("engine-first")
        #expect(first.execute("step").status == .completed)
        #expect(Fixture.run(first, "save checkpoints/run") == ["saved run after 1 iterations to checkpoints/run"])
        let second = try Fixture.session("engine-second")
        EngineCommands.register(in: second)
        for line in Self.setup.prefix(2) { _ = second.execute(line) }  // data generate, load
        let loaded = Fixture.run(second, "load \(first.outputPath("checkpoints/run"))")
        #expect(loaded.first?.hasPrefix("run ") == true && loaded.first!.contains("1 iterations done"))
        #expect(second.execute("step").status == .completed)
        let a = try String(contentsOfFile: whole.outputPath("dynamics.jsonl"), encoding: .utf8)
        let b = try String(contentsOfFile: second.outputPath("dynamics.jsonl"), encoding: .utf8)
        #expect(a == b)
        }
    }

    /// eval, Pass@k against k, and the PRM's calibration plot come from the commands' results.
    @Test func evalAndPRMCommands() throws {
        try Runtime.withThreads(1) {
        let s = try session("engine-eval")
        let out = Fixture.run(s, "eval --split validation --k 4 --limit 4")
        #expect(out.first?.hasPrefix("validation (4 prompts, K 4, T 1): greedy ") == true && out.filter { $0.hasPrefix("  ") }.count == 5)
        let prm = Fixture.run(s, "prm train")
        #expect(prm.first?.hasPrefix("PRM: ") == true)
        let scored = Fixture.run(s, "prm score --index 1 --k 4 --show 2")
        #expect(scored.contains { $0.hasPrefix("    steps (oracle, PRM): ") } && scored.contains { $0.hasPrefix("[0] ") && $0.contains("PRM ") })
        let cal = Fixture.run(s, "prm calibration --prompts 2 --k 2")
        #expect(cal.first?.contains("PRM step accuracy against the oracle") == true)
        if Fixture.hasGnuplot {
            let plot = Fixture.run(s, "plot pass_at_k_curve --out plots/k.png")
            #expect(plot.first?.contains("4 points, x 1..4") == true)
            #expect(FileManager.default.fileExists(atPath: s.outputPath("plots/k.png")))
        }
        // Paired against the starting policy: with no step run the two are one policy.
        let paired = Fixture.run(s, "eval --split validation --k 0 --limit 8 --paired")
        #expect(paired.contains("vs the starting policy (greedy \(paired.first!.split(separator: " ")[8].dropLast())): +0.0 points [+0.0, +0.0], McNemar p 1.000; 0 prompts gained, 0 lost (not significant)"), "\(paired)")
        }
    }
}
