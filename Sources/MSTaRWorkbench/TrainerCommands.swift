import Foundation
import MSTaR
import MSTaRRemote
import MSTaRTasks
import MSTaRTensor

/// `trainer`: the existing trainer (TRL, LLaMA-Factory, ms-swift, a command) that trains the
/// served model on each item step's selection, and `trainer plan`, which shows what it would run.
///
/// Running a trainer runs a program, which a shared script must not do: choosing one needs
/// `mstar --allow-trainers` (or `mstar run --allow-trainers`).
enum TrainerCommands {
    /// The trainer chosen for the session: its configuration and the file it came from.
    struct Setup {
        var config: TrainerConfig
        var file: String
    }

    static func register(in session: Session) {
        session.settingsNotes["trainer"] = { s in "trainer: " + describe(s) }
        session.register(CommandSpec(
            "trainer", group: "method", summary: "train the served model with an existing trainer: trainer [none|trl|llamafactory|swift|command] --config FILE",
            discussion: "After each item step's selection (data use NAME, backend remote), the trainer runs as a subprocess on it: trl runs scripts/trainers/trl_sft.py (TRL's SFTTrainer), llamafactory runs llamafactory-cli train on a generated YAML, swift runs swift sft on one, command runs a shell template whose {placeholders} are replaced by quoted values. The method's state rule decides where each iteration starts: continuous resumes the last checkpoint with the whole run's schedule, iterative RFT starts from the last model with a fresh optimizer, ReST-EM from the initial model. The trained model reaches the server by backend remote --reload. FILE is a JSON configuration (docs/remote.md). Running a trainer runs a program: start mstar with --allow-trainers.",
            arguments: [ArgumentSpec("kind", .choice(["none"] + TrainerKind.allCases.map(\.rawValue)), default: .none, help: "the trainer, or none")],
            options: [OptionSpec("config", .path, help: "the trainer's JSON configuration (model, launcher, config, env, ...)")]
        ) { cmd, s in
            guard let kind = cmd.optionalString("kind") else { return CommandOutput(lines: ["trainer: " + describe(s)]) }
            return try choose(kind, config: cmd.optionalString("config"), s)
        })

        session.register(CommandSpec(
            "trainer plan", group: "method", summary: "write the configuration the next step's trainer would get, and show its command, running nothing",
            discussion: "The next iteration's launch for the selection in --data (a folder in the trainer's layout, e.g. from selection export; default: the last item step's selection): the generated configuration files go to --out, and the command line, start model, resumed checkpoint and steps are shown.",
            options: [
                OptionSpec("out", .outputPath, default: .required, help: "folder for the generated files (inside the run directory when relative)"),
                OptionSpec("data", .path, help: "the selection folder, in the trainer's layout"),
                OptionSpec("resume", .path, help: "plan the iteration after this checkpoint (a checkpoint-N folder with trainer_state.json): continuing a run from it"),
            ]
        ) { cmd, s in try plan(cmd, s) })
    }

    /// `trainer KIND --config FILE` (and `backend remote --trainer`).
    static func choose(_ kind: String, config file: String?, _ s: Session) throws -> CommandOutput {
        if kind == "none" {
            guard file == nil else { throw WorkbenchError("trainer none takes no --config") }
            s.engine.trainer = nil
            s.engine.itemRun?.trainer = nil
            return CommandOutput(lines: ["trainer: none (item steps write their selection only)"])
        }
        guard s.allowTrainers else {
            throw WorkbenchError("trainer \(kind) runs a program at every step; start mstar with --allow-trainers (mstar run --allow-trainers FILE) for a session whose scripts you trust")
        }
        guard let file else { throw WorkbenchError("trainer \(kind) needs --config FILE, a JSON configuration (docs/remote.md)") }
        let config: TrainerConfig
        do { config = try TrainerConfig.read(s.inputPath(file), kind: TrainerKind(rawValue: kind)!) } catch let e as TrainerError { throw WorkbenchError(e.description) }
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: config.model, isDirectory: &isDir), isDir.boolValue else {
            throw WorkbenchError("\(file): \"model\" \(config.model) is not a folder; give the model directory the run starts from")
        }
        s.engine.trainer = Setup(config: config, file: file)
        var out = CommandOutput(lines: ["trainer: " + describe(s)])
        if s.engine.remote == nil || s.engine.remote?.reload == WeightReload.none {
            out.line("the server must sample what the trainer writes: give backend remote ... --reload by-path|update-weights|lora|restart")
        }
        return out
    }

    /// The trainer in use, in one line.
    static func describe(_ s: Session) -> String {
        guard let t = s.engine.trainer else { return "none (item steps write their selection only)" }
        let c = t.config
        return "\(c.kind.rawValue) from \(t.file): starts from \(c.model), schedule \(c.lrScheduler)" + (c.maxSteps.map { ", max_steps \($0)" } ?? "")
            + "; runs " + CommandTemplate.display(c.kind == .trl ? c.program + [c.script ?? "trl_sft.py"] : c.program)
    }

    /// The TRL driver shipped with mstar: scripts/trainers/trl_sft.py above the executable (the
    /// checkout it was built in), else under the working directory.
    static func driver() -> String {
        let relative = "scripts/trainers/trl_sft.py"
        var dir = URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0])
            .resolvingSymlinksInPath().deletingLastPathComponent()
        while dir.path != "/" {
            let candidate = dir.appendingPathComponent(relative)
            if FileManager.default.fileExists(atPath: candidate.path) { return candidate.path }
            dir.deleteLastPathComponent()
        }
        return URL(fileURLWithPath: relative).standardizedFileURL.path
    }

    /// The session's trainer for an item run: made (or remade, keeping its state, when the
    /// trainer or the backend changed) and attached to `run`.
    static func attach(_ run: ItemEvolution, _ s: Session) throws {
        guard let setup = s.engine.trainer else { run.trainer = nil; return }
        guard let remote = s.engine.remote else { throw WorkbenchError("the trainer trains a served model: give backend remote first") }
        let existing = run.trainer as? ExternalTrainer
        if let e = existing, e.config == setup.config, e.served.generator === remote.generator, e.served.reload == remote.reload { return }
        let served: ServedModel
        do {
            served = try ServedModel(reload: remote.reload, generator: remote.generator, initialModel: setup.config.model,
                                     restartCommand: setup.config.restartCommand, environment: setup.config.env)
        } catch let e as TrainerError { throw WorkbenchError(e.description) }
        let dir = URL(fileURLWithPath: s.outputPath(".")).standardizedFileURL
        run.trainer = ExternalTrainer(config: setup.config, served: served, runDirectory: dir, driver: driver(), state: existing?.state ?? s.engine.savedTrainerState)
        s.engine.savedTrainerState = nil
        let style = s.progressStyle
        // The trainer's output as it comes, on stderr like other progress: never journaled.
        let log = s.logWriter ?? { FileHandle.standardError.write(Data($0.utf8)) }
        run.trainerOutput = style == .silent ? nil : { line in log("  trainer | \(line)\n") }
    }

    /// `trainer plan`.
    static func plan(_ cmd: ParsedCommand, _ s: Session) throws -> CommandOutput {
        guard let setup = s.engine.trainer else { throw WorkbenchError("no trainer: choose one with trainer KIND --config FILE") }
        let settings = try EngineCommands.evolutionSettings(s)
        let run = s.engine.usedDataset != nil ? s.engine.itemRun : nil
        var state = (run?.trainer as? ExternalTrainer)?.state ?? s.engine.savedTrainerState
        var iteration = (run?.iteration ?? 0) + 1
        if let r = cmd.optionalString("resume") {
            // The iteration after a checkpoint: its weights, and (continuous) its optimizer and step.
            let checkpoint = URL(fileURLWithPath: s.inputPath(r)).standardizedFileURL
            guard let step = TrainerOutputs.readState(checkpoint.appendingPathComponent("trainer_state.json"))?.step, (0...1_000_000_000).contains(step) else {
                throw WorkbenchError("--resume \(r) has no readable trainer_state.json with its global_step; give a checkpoint-N folder a trainer saved")
            }
            let done = max(1, state?.iterations ?? (iteration - 1))
            state = ExternalTrainer.State(model: checkpoint.path, checkpoint: checkpoint.path, globalStep: step,
                                          horizon: state?.horizon ?? setup.config.maxSteps, iterations: done)
            iteration = done + 1
        }
        let out = URL(fileURLWithPath: try s.writablePath(cmd.string("out"), .folder, what: "--out")).standardizedFileURL
        let data: URL
        let examples: Int
        var selected: [TrainerExample] = []
        if let d = cmd.optionalString("data") {
            data = URL(fileURLWithPath: s.inputPath(d)).standardizedFileURL
            examples = try count(data, setup.config.format)
        } else if let last = run?.last, let folder = last.selectionFolder {
            selected = last.prompts.flatMap(\.selectedExamples)
            examples = selected.count
            data = setup.config.format == .trl ? folder : out.appendingPathComponent("data")
            if setup.config.format != .trl { try TrainerData.write(selected, format: setup.config.format, to: data) }
        } else {
            throw WorkbenchError("no selection to plan for: give --data FOLDER (selection export writes one) or run an item step first")
        }
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let job = SelectionJob(iteration: iteration, iterations: settings.iterations, data: data, examples: selected, carry: .of(settings.method),
                               lr: settings.lr, batchSize: settings.batchSize, epochs: settings.trainEpochs, seed: 0)
        let it = ExternalTrainer.iteration(job, examples: examples, config: setup.config, state: state, folder: out, data: data)
        let launch: TrainerLaunch
        do { launch = try TrainerLaunch.make(setup.config, it, driver: driver()) } catch let e as TrainerError { throw WorkbenchError(e.description) }
        for (name, text) in launch.files.sorted(by: { $0.key < $1.key }) {
            try Data(text.utf8).write(to: out.appendingPathComponent(name), options: .atomic)
        }
        var lines = ["iteration \(iteration) (\(settings.method.rawValue): \(it.resume != nil ? "resumes \(it.resume!)" : CarryRule.of(settings.method) == .restart ? "restarts from the initial model" : "starts from \(it.model)")), \(examples) examples, steps \(it.startStep) to \(it.stopStep)"
                     + (it.horizon.map { " of \($0)" } ?? "")]
        for name in launch.files.keys.sorted() { lines.append("wrote \(cmd.string("out"))/\(name)") }
        lines.append("runs: " + CommandTemplate.display(launch.argv))
        return CommandOutput(lines: lines)
    }

    /// Examples in a selection folder of `format`'s layout (records of its data file).
    static func count(_ folder: URL, _ format: TrainerFormat) throws -> Int {
        let path = folder.appendingPathComponent(format.fileName).path
        let data: Data
        do { data = try InputFile.read(path, limit: InputFile.datasetLimit) } catch { throw WorkbenchError("--data: \(error); give a folder in the \(format.rawValue) layout") }
        if format.fileName.hasSuffix(".jsonl") {
            return String(decoding: data, as: UTF8.self).split(separator: "\n").filter { !$0.allSatisfy(\.isWhitespace) }.count
        }
        guard let list = try? JSONSerialization.jsonObject(with: data) as? [Any] else { throw WorkbenchError("--data: \(path) is not a JSON array") }
        return list.count
    }
}
