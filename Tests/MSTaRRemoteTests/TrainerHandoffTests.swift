import Foundation
import MSTaR
import MSTaRModel
import MSTaRRemote
import MSTaRTasks
import Testing

/// The trainer hand-off: templates quoted for the shell, configurations checked, each method's
/// state rule turned into the trainer's arguments, and whole item steps with a real trainer
/// program (a shell script run by the `command` trainer): what it is given, what is kept, and a
/// run left as it was when the trainer fails or is interrupted.
@Suite struct TrainerHandoffTests {
    static func folder(_ name: String) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("handoff-\(name)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    // MARK: templates and configurations

    @Test func aTemplateQuotesEveryValueForTheShell() throws {
        let dir = try Self.folder("quote")
        defer { try? FileManager.default.removeItem(at: dir) }
        let hostile = "a b'c\"$(touch \(dir.path)/pwned)`touch \(dir.path)/pwned2`; touch \(dir.path)/pwned3 {x} \\"
        let t = try CommandTemplate("printf '%s|' {data} {{literal}}", allowed: ["data"], what: "t")
        let r = try TrainerProcess.run(["/bin/sh", "-c", t.render(["data": hostile])], environment: [:], directory: dir, log: nil)
        #expect(r.outcome == .exited(0))
        #expect(r.stdout == [hostile + "|{literal}|"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)  // nothing ran
        #expect(throws: TrainerError.self) { try CommandTemplate("run {modle}", allowed: ["model"], what: "t") }
        #expect(throws: TrainerError.self) { try CommandTemplate("run {model", allowed: ["model"], what: "t") }
        #expect(throws: TrainerError.self) { try CommandTemplate("run }", allowed: ["model"], what: "t") }
    }

    @Test func aConfigurationIsCheckedKeyByKey() throws {
        func parse(_ json: String, _ kind: TrainerKind = .trl) throws -> TrainerConfig {
            try TrainerConfig.parse(try JSONDecoder().decode(Dictionary<String, JSONValue>.self, from: Data(json.utf8)), kind: kind, file: "/cfg/t.json")
        }
        let c = try parse(#"{"model": "m", "max_steps": 12, "env": {"A": "1"}}"#)
        #expect(c.model == "/cfg/m" && c.maxSteps == 12 && c.env == ["A": "1"] && c.lrScheduler == "constant" && c.format == .trl)
        for bad in [#"{"model": "m", "max_step": 12}"#,  // a typo
                    #"{"max_steps": 12}"#,  // no model
                    #"{"model": "m", "max_steps": true}"#,  // true is not 1
                    #"{"model": "m", "max_steps": 1.5}"#,
                    #"{"model": "m", "config": {"template": "llava"}}"#,  // config is LLaMA-Factory's and ms-swift's
                    #"{"model": "m", "command": "x"}"#,
                    #"{"model": "m", "restart_command": "serve {modle}"}"#] {
            #expect(throws: TrainerError.self) { try parse(bad) }
        }
        #expect(throws: TrainerError.self) { try parse(#"{"model": "m"}"#, .command) }  // the command trainer needs its template
        let lf = try parse(#"{"model": "/m", "config": {"template": "llava", "bf16": true, "deepspeed": "ds.json"}}"#, .llamafactory)
        #expect(lf.config["bf16"] == .bool(true) && lf.format == .llamafactory && lf.program == ["llamafactory-cli", "train"])
    }

    // MARK: the methods' state rules

    static func job(_ iteration: Int, _ carry: CarryRule, examples: Int = 5, data: URL = URL(fileURLWithPath: "/sel")) -> SelectionJob {
        SelectionJob(iteration: iteration, iterations: 3, data: data,
                     examples: Array(repeating: TrainerExample(id: "x", image: nil, question: "q", response: "r"), count: examples),
                     carry: carry, lr: 1e-4, batchSize: 2, epochs: 1, seed: 0x1_0000_0007)
    }

    @Test func eachMethodStartsWhereItsStateRuleSays() throws {
        let config = try TrainerConfig.parse(["model": .string("/pi0")], kind: .trl, file: "/t.json")
        let after1 = ExternalTrainer.State(model: "/run/trainer/step-1/model", checkpoint: "/run/trainer/step-1/checkpoint-3", globalStep: 3, horizon: 9, iterations: 1)
        let out = URL(fileURLWithPath: "/run/trainer/step-2")
        func argv(_ it: TrainerIteration) throws -> [String] { try TrainerLaunch.make(config, it, driver: "/d/trl_sft.py").argv }

        // Continuous: iteration 1 fixes the horizon (3 iterations x 3 steps); iteration 2 resumes the checkpoint with it.
        let first = ExternalTrainer.iteration(Self.job(1, .carry), config: config, state: nil, folder: out, data: URL(fileURLWithPath: "/sel"))
        #expect(first.model == "/pi0" && first.resume == nil && first.horizon == 9 && first.startStep == 0 && first.stopStep == 3 && first.seed == 7)
        let c = ExternalTrainer.iteration(Self.job(2, .carry), config: config, state: after1, folder: out, data: URL(fileURLWithPath: "/sel"))
        #expect(c.resume == after1.checkpoint && c.horizon == 9 && c.startStep == 3 && c.stopStep == 6)
        let a = try argv(c)
        #expect(a.starts(with: ["python3", "/d/trl_sft.py", "--model", after1.model, "--data", "/sel", "--output", out.path]))
        #expect(a.suffix(4) == ["--max-steps", "9", "--resume", after1.checkpoint!] && a.contains("0.0001"))
        // Iterative RFT: the last model, a fresh optimizer and schedule.
        let rft = ExternalTrainer.iteration(Self.job(2, .fresh), config: config, state: after1, folder: out, data: URL(fileURLWithPath: "/sel"))
        let rftArgs = try argv(rft)
        #expect(rft.model == after1.model && rft.resume == nil && rft.horizon == nil && !rftArgs.contains("--resume"))
        // ReST-EM: back to π0.
        let rest = ExternalTrainer.iteration(Self.job(2, .restart), config: config, state: after1, folder: out, data: URL(fileURLWithPath: "/sel"))
        let restArgs = try argv(rest)
        #expect(rest.model == "/pi0" && rest.resume == nil && !restArgs.contains("--max-steps"))
    }

    @Test func llamaFactoryGetsAContinuousYAML() throws {
        let config = try TrainerConfig.parse(["model": .string("/pi0"), "config": .object(["template": .string("llava"), "max_steps": .number(99)])],
                                             kind: .llamafactory, file: "/t.json")
        let state = ExternalTrainer.State(model: "/o1", checkpoint: "/o1/checkpoint-3", globalStep: 3, horizon: 9, iterations: 1)
        let it = ExternalTrainer.iteration(Self.job(2, .carry), config: config, state: state, folder: URL(fileURLWithPath: "/o2"), data: URL(fileURLWithPath: "/o2/data"))
        let launch = try TrainerLaunch.make(config, it, driver: "")
        #expect(launch.argv == ["llamafactory-cli", "train", "/o2/mstar-train.yaml"])
        let yaml = launch.files["mstar-train.yaml"]!
        for line in ["template: \"llava\"", "dataset: \"mstar_selection\"", "dataset_dir: \"/o2/data\"", "model_name_or_path: \"/o1/checkpoint-3\"",
                     "finetuning_type: \"full\"", "overwrite_output_dir: true",
                     "max_steps: 6", "save_steps: 6", "resume_from_checkpoint: \"/o1/checkpoint-3\"", "ignore_data_skip: true",
                     "learning_rate: 0.0001", "per_device_train_batch_size: 2", "lr_scheduler_type: \"constant\""] {
            #expect(yaml.contains("\n" + line + "\n"), "\(line) in\n\(yaml)")
        }
        // ms-swift copies its configuration into its output folder: the folder is a subfolder, the YAML beside it.
        let swift = try TrainerConfig.parse(["model": .string("/pi0")], kind: .swift, file: "/t.json")
        let sit = ExternalTrainer.iteration(Self.job(2, .carry), config: swift, state: state, folder: URL(fileURLWithPath: "/o2"), data: URL(fileURLWithPath: "/o2/data"))
        let slaunch = try TrainerLaunch.make(swift, sit, driver: "")
        #expect(slaunch.argv == ["swift", "sft", "/o2/mstar-train.yaml"] && slaunch.environment["ROOT_IMAGE_DIR"] == "/o2/data")
        #expect(slaunch.files["mstar-train.yaml"]!.contains("\noutput_dir: \"/o2/output\"\n"))
        // A decaying schedule cannot continue across LLaMA-Factory calls: refused, pointing at the trl trainer.
        var linear = config
        linear.lrScheduler = "linear"
        #expect(throws: TrainerError.self) { try TrainerLaunch.make(linear, it, driver: "") }
    }

    // MARK: whole steps with a real trainer program

    /// Answers every item with its gold answer twice and a wrong one, whatever model is asked.
    final class GoldGenerator: TextGenerator, @unchecked Sendable {
        func generateText(_ prompts: [TextPrompt], k: Int, options: SamplingOptions, seed: UInt64, shouldStop: (() -> Bool)?) throws -> [[TextRollout]] {
            prompts.map { p in
                let n = p.text.split(separator: " ").compactMap { Int($0.trimmingCharacters(in: .punctuationCharacters)) }.first ?? 0
                return (0..<k).map { j in TextRollout(text: j % 3 == 2 ? "the answer is 0" : "step \(j): the answer is \(n + 1)", finished: true) }
            }
        }
    }

    static func dataset() throws -> ReasoningDataset {
        let items = (0..<8).map { i in ReasoningItem(id: "q\(i)", question: "What is \(i) + 1?", answer: String(i + 1), answerType: .integer) }
        var d = ReasoningDataset(format: .mathvista, file: "t.json", items: items, badRecords: [], seed: 0,
                                 fractions: try SplitFractions(unlabelled: 0, validation: 0.25, test: 0))
        d.splits = [.labelled, .labelled, .labelled, .labelled, .labelled, .labelled, .validation, .validation]
        return d
    }

    /// A trainer as a shell script: it records what it was given, writes a model (into its
    /// output folder, as LLaMA-Factory does) and a checkpoint at its stop step with an HF `trainer_state.json`, and prints nothing else.
    /// `FAIL` in its environment makes it exit 3; `SLOW` makes it sleep first.
    static let script = """
    set -e
    echo "model=$MSTAR_MODEL resume=$MSTAR_RESUME start=$MSTAR_START_STEP stop=$MSTAR_STOP_STEP data=$MSTAR_DATA_FILE" >> "$LEDGER"
    if [ -n "$SLOW" ] && [ ! -e "$MSTAR_OUTPUT/../slow-done" ]; then touch "$MSTAR_OUTPUT/../slow-done"; sleep 60; fi
    if [ -n "$FAIL" ] && [ ! -e "$MSTAR_OUTPUT/../failed-once" ]; then touch "$MSTAR_OUTPUT/../failed-once"; echo "CUDA out of memory" >&2; exit 3; fi
    test -s "$MSTAR_DATA_FILE"
    mkdir -p "$MSTAR_OUTPUT/checkpoint-$MSTAR_STOP_STEP"
    echo '{"model_type": "llava"}' > "$MSTAR_OUTPUT/config.json"
    log=""; s=$MSTAR_START_STEP
    while [ "$s" -lt "$MSTAR_STOP_STEP" ]; do s=$((s + 1)); log="$log{\\"step\\": $s, \\"loss\\": 0.5, \\"learning_rate\\": 0.00$s},"; done
    echo "{\\"global_step\\": $MSTAR_STOP_STEP, \\"log_history\\": [${log%,}]}" > "$MSTAR_OUTPUT/checkpoint-$MSTAR_STOP_STEP/trainer_state.json"
    echo "trained to step $MSTAR_STOP_STEP" >&2
    """

    /// An item run whose trainer is the script, served by path.
    static func run(_ dir: URL, method: TrainingMethod, env: [String: String] = [:]) throws -> (ItemEvolution, ExternalTrainer, RemoteGenerator) {
        try script.write(to: dir.appendingPathComponent("train.sh"), atomically: true, encoding: .utf8)
        let pi0 = dir.appendingPathComponent("pi0")
        try FileManager.default.createDirectory(at: pi0, withIntermediateDirectories: true)
        var settings = EvolutionSettings()
        settings.method = method
        settings.k = 3; settings.dynamicsK = 2; settings.batchSize = 2; settings.interval = 0.5; settings.epochs = 1.5
        let run = try ItemEvolution(dataset: try dataset(), generator: GoldGenerator(), settings: settings, seed: 1)
        run.runDirectory = dir.appendingPathComponent("run")
        let c = try TrainerConfig.parse(["model": .string(pi0.path), "command": .string("sh " + CommandTemplate.quote(dir.appendingPathComponent("train.sh").path)),
                                         "env": .object((["LEDGER": dir.appendingPathComponent("ledger").path].merging(env) { $1 }).mapValues { .string($0) })],
                                        kind: .command, file: dir.appendingPathComponent("t.json").path)
        // The requests' model name is what --reload by-path switches; nothing is sent to this server.
        let remote = RemoteGenerator(settings: RemoteSettings(url: URL(string: "http://127.0.0.1:9/v1")!, model: "pi0"), requireListed: false)
        let trainer = ExternalTrainer(config: c, served: try ServedModel(reload: .byPath, generator: remote, initialModel: pi0.path, restartCommand: nil),
                                      runDirectory: run.runDirectory!, driver: "")
        run.trainer = trainer
        return (run, trainer, remote)
    }

    static func ledger(_ dir: URL) throws -> [String] {
        try String(contentsOf: dir.appendingPathComponent("ledger"), encoding: .utf8).split(separator: "\n").map(String.init)
    }

    @Test func continuousStepsResumeTheLastCheckpointAndServeTheTrainedModel() throws {
        let dir = try Self.folder("continuous")
        defer { try? FileManager.default.removeItem(at: dir) }
        let (run, trainer, remote) = try Self.run(dir, method: .continuous)
        let pi0 = dir.appendingPathComponent("pi0").path
        let r1 = try run.step()
        let step1 = dir.appendingPathComponent("run/trainer/step-1").path
        // 3 prompts x 2 distinct right answers = 6 examples, batch 2: 3 steps; 3 iterations planned.
        #expect(r1.record.selected == 6 && r1.record.trainLoss == 0.5 && trainer.lastRecord?.steps == 3)
        #expect(trainer.state == ExternalTrainer.State(model: step1, checkpoint: step1 + "/checkpoint-3", globalStep: 3, horizon: 9, iterations: 1))
        #expect(remote.requestModel == step1)
        try run.step()
        let lines = try Self.ledger(dir)
        #expect(lines[0].hasPrefix("model=\(pi0) resume= start=0 stop=3 data=\(dir.path)/run/selections/step-1/train.jsonl"))
        #expect(lines[1].hasPrefix("model=\(step1) resume=\(step1)/checkpoint-3 start=3 stop=6"))
        #expect(trainer.state.globalStep == 6 && trainer.lastRecord?.learning_rates == [0.004, 0.005, 0.006])
        // trainer.jsonl holds one line per completed iteration.
        let records = try String(contentsOf: dir.appendingPathComponent("run/trainer.jsonl"), encoding: .utf8).split(separator: "\n")
        #expect(records.count == 2 && records[1].contains("\"resume\":\"\(step1)/checkpoint-3\""))
    }

    @Test func iterativeRFTContinuesTheModelAndReSTEMRestarts() throws {
        for (method, secondModel) in [(TrainingMethod.iterativeRFT, "run/trainer/step-1"), (.restEM, "pi0")] {
            let dir = try Self.folder("\(method.rawValue)")
            defer { try? FileManager.default.removeItem(at: dir) }
            let (run, trainer, _) = try Self.run(dir, method: method)
            try run.step(); try run.step()
            let lines = try Self.ledger(dir)
            #expect(lines[1].hasPrefix("model=\(dir.path)/\(secondModel) resume= start=0 stop="), "\(method)")
            #expect(trainer.state.checkpoint == nil && trainer.state.iterations == 2)
        }
    }

    @Test func aFailingTrainerLeavesTheRunAsItWas() throws {
        let dir = try Self.folder("fail")
        defer { try? FileManager.default.removeItem(at: dir) }
        let (run, trainer, remote) = try Self.run(dir, method: .continuous, env: ["FAIL": "1"])
        #expect(throws: TrainerError.self) { try run.step() }
        #expect(run.iteration == 0 && run.cursor == 0 && run.history.isEmpty && trainer.state.iterations == 0 && trainer.state.model.hasSuffix("/pi0"))
        #expect(remote.requestModel == "pi0")
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("run/dynamics.jsonl").path))
        do { try run.step() } catch { Issue.record("the retry failed: \(error)") }
        // The retry writes its own folder; the failed attempt's log stays for reading.
        #expect(trainer.state.model == dir.appendingPathComponent("run/trainer/step-1.2").path)
        let log = try String(contentsOf: dir.appendingPathComponent("run/trainer/step-1/trainer.log"), encoding: .utf8)
        #expect(log.contains("CUDA out of memory"))
    }

    @Test func anInterruptStopsTheTrainerAndLeavesTheRunAsItWas() throws {
        let dir = try Self.folder("stop")
        defer { try? FileManager.default.removeItem(at: dir) }
        let (run, trainer, _) = try Self.run(dir, method: .continuous, env: ["SLOW": "1"])
        let start = Date()
        var thrown: Error?
        do {
            try run.step(shouldStop: { Date().timeIntervalSince(start) > 1 && FileManager.default.fileExists(atPath: dir.appendingPathComponent("run/trainer/slow-done").path) })
        } catch { thrown = error }
        #expect(thrown is EvolutionInterrupted)
        #expect(Date().timeIntervalSince(start) < 20)  // SIGINT to the trainer's group, not its 60 s sleep
        #expect(run.iteration == 0 && trainer.state.iterations == 0)
    }

    @Test func aSavedRunContinuesAtTheNextIterationFromItsCheckpoint() throws {
        let dir = try Self.folder("save")
        defer { try? FileManager.default.removeItem(at: dir) }
        let (run, trainer, _) = try Self.run(dir, method: .continuous)
        try run.step()
        let saved = dir.appendingPathComponent("saved")
        try run.save(to: saved, dataset: "t", extra: ["trainer.json": try JSONEncoder().encode(trainer.state)])
        // A new session: the same dataset, a new trainer given the saved state.
        let (fresh, _, remote) = try Self.run(dir, method: .continuous)
        let resumed = try ItemEvolution.resume(from: saved, dataset: try Self.dataset(), name: "t", generator: GoldGenerator())
        resumed.runDirectory = fresh.runDirectory
        let state = try JSONDecoder().decode(ExternalTrainer.State.self, from: Data(contentsOf: saved.appendingPathComponent("trainer.json")))
        let again = ExternalTrainer(config: (fresh.trainer as! ExternalTrainer).config,
                                    served: try ServedModel(reload: .byPath, generator: remote, initialModel: dir.appendingPathComponent("pi0").path, restartCommand: nil),
                                    runDirectory: fresh.runDirectory!, driver: "", state: state)
        resumed.trainer = again
        #expect(resumed.iteration == 1 && resumed.cursor == run.cursor && resumed.history == run.history && resumed.temperature == run.temperature)
        try resumed.step()
        let step1 = dir.appendingPathComponent("run/trainer/step-1").path
        #expect(try Self.ledger(dir).last?.hasPrefix("model=\(step1) resume=\(step1)/checkpoint-3 start=3 stop=6") == true)
        #expect(resumed.iteration == 2 && again.state.globalStep == 6 && again.state.horizon == 9)
        // A different dataset is refused in one line.
        var other = try Self.dataset()
        other.splits.swapAt(0, 7)
        #expect(throws: SettingError.self) { try ItemEvolution.resume(from: saved, dataset: other, name: "t", generator: GoldGenerator()) }
    }
}
