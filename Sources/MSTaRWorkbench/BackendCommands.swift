import Foundation
import MSTaR
import MSTaRModel
import MSTaRRemote
import MSTaRTasks
import MSTaRTensor

/// `backend`: which model the method samples from (and scores steps with): the engine's own
/// policy (`native`, the default) or a server speaking the OpenAI API (`remote`, docs/remote.md).
///
/// The choice is the session's, journaled as typed (the API key's variable name, never the key),
/// and applies to the run from its next step: every sample of the step, the temperature search
/// and the dynamics goes through the remote generator; training stays native.
enum BackendCommands {
    /// The remote backend in use: the command that chose it (for `backend` to show), its
    /// generator and, with `--prm-url`, its step scorer.
    struct Remote {
        var description: String
        var generator: RemoteGenerator
        var scorer: RemoteStepScorer?
        /// With `--reload update-weights`: what gives the server the weights each call samples from.
        var sync: WeightSync?
        /// How trained weights reach the server (`--reload`).
        var reload: WeightReload = .none
    }

    /// Where `--reload update-weights` saves the weights the server loads, in the run directory.
    static let servedName = "served-policy"

    static let recordsName = "requests.jsonl"

    static func register(in session: Session) {
        session.settingsNotes["backend"] = { s in "backend: " + describe(s) }
        session.register(CommandSpec(
            "backend", group: "method", summary: "sample from the native policy or from a server (vLLM, mstar serve): backend [native|remote ...]",
            discussion: "backend alone shows the backend in use. backend remote sends every sample of the step, the temperature search and the dynamics as chat-completion requests to --url (an OpenAI-compatible base URL such as http://127.0.0.1:8000/v1) for --model; --prm-url and --prm-model score the PRM's steps over /pooling; --prm-step-tag follows each step with the PRM's tag (the step pooling of vLLM's PRMs answers one score per tag), after splitting the response at --prm-step-split (in double quotes \\n is a line break: \"\\n\\n\"). The server is asked for its models at once, so an unreachable one fails here, in one line. Each request is recorded in the run directory's requests.jsonl. The API key is read from the environment variable --api-key-env names and is never written down. With --reload update-weights the server is given the weights each sample comes from (the trained policy, or the initial one for the PRM's labels): they are saved to served-policy/ in the run directory, which the server must be able to read, and loaded by its /update_weights. docs/remote.md says what is faithful to the native sampler.",
            arguments: [ArgumentSpec("kind", .choice(["native", "remote"]), default: .none, help: "native (the engine's sampler) or remote")],
            options: [
                OptionSpec("url", .string, help: "the server's OpenAI base URL, e.g. http://127.0.0.1:8000/v1"),
                OptionSpec("model", .string, help: "the served model's name"),
                OptionSpec("api-key-env", .string, help: "environment variable holding the API key (sent as a Bearer token)"),
                OptionSpec("max-in-flight", .int, range: 1...256, help: "most requests at once (default 8)"),
                OptionSpec("timeout", .double, range: 0.1...86_400, help: "seconds one request may take (default 120)"),
                OptionSpec("prm-url", .string, help: "base URL of a server with the PRM (/pooling)"),
                OptionSpec("prm-model", .string, help: "the served PRM's name"),
                OptionSpec("prm-step-tag", .string, help: "what follows each step for the PRM, e.g. <extra_0> (Qwen2.5-Math-PRM); default: the response as written"),
                OptionSpec("prm-step-split", .string, help: "what the policy writes between steps, e.g. \"\\n\\n\" or ; (default: Step k: markers, else line breaks)"),
                OptionSpec("reload", .choice(WeightReload.allCases.map(\.rawValue)),
                           help: "how trained weights reach the server: none (it keeps its own), update-weights (/pause, /update_weights, /resume); for a trainer's model also by-path (requests name its directory), lora (/v1/load_lora_adapter) or restart (the trainer configuration's restart_command)"),
                OptionSpec("trainer", .choice(TrainerKind.allCases.map(\.rawValue)), help: "the existing trainer of item steps (as the trainer command; needs --allow-trainers)"),
                OptionSpec("trainer-config", .path, help: "the trainer's JSON configuration (with --trainer)"),
            ]
        ) { cmd, s in try backend(cmd, s) })

        session.register(CommandSpec(
            "selection export", group: "method",
            summary: "write the last step's selected responses for an existing trainer (TRL, LLaMA-Factory, ms-swift, LLaVA)",
            discussion: "Each selected response becomes one example: the scene as images/ID.png beside the data file (once per prompt), the question as the user turn, the response as the assistant turn. trl writes train.jsonl with typed content parts; llamafactory writes train.json (sharegpt) and its dataset_info.json entry mstar_selection; swift writes train.jsonl with an <image> tag; llava writes train.json with conversations. docs/remote.md shows each layout.",
            options: [
                OptionSpec("format", .choice(TrainerFormat.allCases.map(\.rawValue)), default: .required, help: "the trainer's layout"),
                OptionSpec("out", .outputPath, default: .required, help: "output folder (inside the run directory when relative)"),
                OptionSpec("scale", .int, default: .value(.int(1)), range: 1...32, help: "PNG pixels per scene pixel"),
            ]
        ) { cmd, s in
            var examples: [TrainerExample] = []
            let step: Int
            if s.engine.usedDataset != nil, let last = s.engine.itemRun?.last {
                // A step on a real dataset's items: their image files and prompt texts.
                step = last.record.step
                examples = last.prompts.flatMap(\.selectedExamples)
            } else if s.engine.usedDataset == nil, let last = s.engine.evolution?.last {
                step = last.record.step
                for p in last.prompts {
                    for (j, r) in p.responses.enumerated() where r.selected {
                        examples.append(TrainerExample(id: "\(p.example.id)-\(j)", imageID: p.example.id, image: p.example.image, question: p.example.question, response: r.text))
                    }
                }
            } else {
                throw WorkbenchError("no step yet: run step first, then export its selection")
            }
            let format = TrainerFormat(rawValue: cmd.string("format"))!
            let dir = cmd.string("out")
            let files = try TrainerData.write(examples, format: format, to: URL(fileURLWithPath: try s.writablePath(dir, .folder, what: "--out")),
                                              imageScale: cmd.int("scale"))
            let images = files.filter { $0.hasPrefix(TrainerData.imageFolder + "/") }.count
            let data = files.filter { !$0.hasPrefix(TrainerData.imageFolder + "/") }.map { "\(dir)/\($0)" }.joined(separator: " and ")
            return CommandOutput(lines: ["wrote \(examples.count) selected responses of step \(step) to \(data), \(images) images to \(dir)/\(TrainerData.imageFolder)/"])
        })
    }

    static func backend(_ cmd: ParsedCommand, _ s: Session) throws -> CommandOutput {
        guard let kind = cmd.optionalString("kind") else {
            return CommandOutput(lines: ["backend: " + describe(s)])
        }
        let remoteOptions = ["url", "model", "api-key-env", "prm-url", "prm-model", "prm-step-tag", "prm-step-split", "reload", "trainer", "trainer-config"].filter { cmd.optionalString($0) != nil }
            + ["max-in-flight", "timeout"].filter { cmd.values[$0] != nil }
        if kind == "native" {
            guard remoteOptions.isEmpty else {
                throw WorkbenchError("backend native takes no options (--\(remoteOptions[0]) is for backend remote)")
            }
            s.engine.remote = nil
            if let run = s.engine.evolution { apply(run, s) }
            return CommandOutput(lines: ["backend: native (the engine's sampler)"])
        }
        guard let url = try cmd.optionalString("url").map({ try baseURL($0, option: "url") }) else {
            throw WorkbenchError("backend remote needs --url (e.g. --url http://127.0.0.1:8000/v1) and --model")
        }
        guard let model = cmd.optionalString("model"), !model.isEmpty else {
            throw WorkbenchError("backend remote needs --model: the served model's name (GET /v1/models lists it)")
        }
        var key: String?
        if let name = cmd.optionalString("api-key-env") {
            guard let v = ProcessInfo.processInfo.environment[name], !v.isEmpty else {
                throw WorkbenchError("the environment variable \(name) (--api-key-env) is not set; export it with the server's API key")
            }
            key = v
        }
        if (cmd.optionalString("prm-url") == nil) != (cmd.optionalString("prm-model") == nil) {
            throw WorkbenchError("give --prm-url and --prm-model together (the PRM's server and its model name)")
        }
        if cmd.optionalString("prm-url") == nil, let o = ["prm-step-tag", "prm-step-split"].first(where: { cmd.optionalString($0) != nil }) {
            throw WorkbenchError("--\(o) describes the served PRM's steps: give it with --prm-url and --prm-model")
        }
        if cmd.optionalString("prm-step-tag") == nil, cmd.optionalString("prm-step-split") != nil {
            throw WorkbenchError("--prm-step-split needs --prm-step-tag: the steps it cuts are marked with the PRM's tag")
        }
        if let t = cmd.optionalString("prm-step-tag"), t.isEmpty || t.unicodeScalars.count > 64 {
            throw WorkbenchError("--prm-step-tag must be 1 to 64 characters (the PRM's step tag, e.g. <extra_0>)")
        }
        if let t = cmd.optionalString("prm-step-split"), t.isEmpty || t.unicodeScalars.count > 64 {
            throw WorkbenchError("--prm-step-split must be 1 to 64 characters (what the policy writes between steps, e.g. \"\\n\\n\")")
        }
        if (cmd.optionalString("trainer") == nil) != (cmd.optionalString("trainer-config") == nil) {
            throw WorkbenchError("give --trainer and --trainer-config together (the trainer and its JSON configuration)")
        }
        let reload = WeightReload(rawValue: cmd.optionalString("reload") ?? "none") ?? .none
        if cmd.optionalString("trainer") != nil && !s.allowTrainers {
            throw WorkbenchError("--trainer runs a program at every step; start mstar with --allow-trainers (mstar run --allow-trainers FILE) for a session whose scripts you trust")
        }
        let settings = RemoteSettings(url: url, model: model, apiKey: key, maxInFlight: cmd.optionalInt("max-in-flight") ?? 8,
                                      timeout: cmd.optionalDouble("timeout") ?? 120)
        // A server that loads the model directory a request names lists only what it has loaded.
        let generator = RemoteGenerator(settings: settings, requireListed: reload != .byPath)
        var length: Int?
        do { length = try generator.maxModelLength() } catch { throw WorkbenchError("backend remote: \(Session.describe(error))") }
        var scorer: RemoteStepScorer?
        var description = "remote \(model) at \(url.absoluteString)" + (length.map { " (max_model_len \($0))" } ?? "")
            + ", \(settings.maxInFlight) in flight, timeout \(formatNumber(settings.timeout)) s" + (key != nil ? ", API key from $\(cmd.string("api-key-env"))" : "")
        switch (cmd.optionalString("prm-url"), cmd.optionalString("prm-model")) {
        case (nil, nil): break
        case (let u?, let m?):
            var p = settings
            p.url = try baseURL(u, option: "prm-url"); p.model = m
            // The PRM's server must answer for its model too (vLLM lists a pooling model under /v1/models).
            do { _ = try RemoteGenerator(settings: p).maxModelLength() } catch { throw WorkbenchError("backend remote (PRM): \(Session.describe(error))") }
            let tagging = StepTagging(tag: cmd.optionalString("prm-step-tag"), split: cmd.optionalString("prm-step-split"))
            scorer = RemoteStepScorer(settings: p, tagging: tagging)
            description += "; PRM \(m) at \(p.url.absoluteString)"
            if let tag = tagging.tag {
                description += " (steps " + (tagging.split.map { "split at \(Lexer.quoteIfNeeded($0)), " } ?? "") + "each followed by \(Lexer.quoteIfNeeded(tag)))"
            }
        default: break  // refused above
        }
        var sync: WeightSync?
        if reload == .updateWeights {
            let folder = try s.writablePath(servedName, .folder, what: "the served policy's folder")
            sync = WeightSync(generator: generator, directory: URL(fileURLWithPath: folder))
            description += "; weights to the server by /update_weights from \(servedName)/"
        }
        switch reload {
        case .byPath: description += "; a trainer's models are asked for by their directory"
        case .lora: description += "; a trainer's adapters are loaded with /v1/load_lora_adapter"
        case .restart: description += "; the server is restarted on each trainer's model"
        default: break
        }
        s.engine.remote = Remote(description: description, generator: generator, scorer: scorer, sync: sync, reload: reload)
        if let run = s.engine.evolution { apply(run, s) }
        var out = CommandOutput(lines: ["backend: " + description])
        if let kind = cmd.optionalString("trainer") {
            out.append(try TrainerCommands.choose(kind, config: cmd.optionalString("trainer-config"), s))
        } else if s.engine.trainer != nil {
            out.line("item steps train with the trainer: " + TrainerCommands.describe(s))
        } else if !reload.native {
            out.line("item steps train the served model once a trainer is chosen (trainer KIND --config FILE)")
        } else {
            // Training stays native; the server has the trained weights only when it is given them.
            out.line(sync == nil
                ? "training stays native: the server's weights change only when it is given new ones (--reload update-weights, docs/remote.md)"
                : "training stays native: before each call the server gets the weights it must sample from (saved to \(servedName)/)")
        }
        return out
    }

    /// The backend in use, in one line.
    static func describe(_ s: Session) -> String { s.engine.remote?.description ?? "native (the engine's sampler)" }

    /// An http(s) URL with a host, else a one-line error.
    static func baseURL(_ text: String, option: String) throws -> URL {
        guard let u = URL(string: text), ["http", "https"].contains(u.scheme?.lowercased() ?? ""), u.host != nil else {
            throw WorkbenchError("--\(option) \(text) is not an http(s) URL; give e.g. http://127.0.0.1:8000/v1")
        }
        return u
    }

    /// What samples `model` through the remote backend `r`: its generator, which first gives the
    /// server `model`'s weights with `--reload update-weights`.
    static func generator(_ r: Remote, for model: VisionLanguageModel) -> any ResponseGenerator {
        r.sync.map { SyncedGenerator(base: r.generator, model: model, sync: $0) } ?? r.generator
    }

    /// What samples `model` through the session's backend; nil for the engine's own sampler.
    static func generator(for model: VisionLanguageModel, _ s: Session) -> (any ResponseGenerator)? {
        s.engine.remote.map { generator($0, for: model) }
    }

    /// Makes `run` sample (and score) through the session's backend.
    static func apply(_ run: Evolution, _ s: Session) {
        if let r = s.engine.remote {
            run.generatorFactory = { m in generator(r, for: m) }
            run.stepScorer = r.scorer
        } else {
            run.generatorFactory = nil
            run.stepScorer = nil
        }
    }

    /// Appends the requests made since the last call to the run directory's requests.jsonl.
    static func flushRecords(_ s: Session) {
        guard let r = s.engine.remote else { return }
        let lines = (r.generator.drainRecords() + (r.scorer?.drainRecords() ?? [])).map { $0.jsonLine() }
        guard !lines.isEmpty else { return }
        let path = s.outputPath(recordsName)
        let data = Data((lines.joined(separator: "\n") + "\n").utf8)
        try? FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        if let h = FileHandle(forWritingAtPath: path) {
            defer { try? h.close() }
            _ = try? h.seekToEnd()
            try? h.write(contentsOf: data)
        } else {
            _ = FileManager.default.createFile(atPath: path, contents: data)
        }
    }
}
