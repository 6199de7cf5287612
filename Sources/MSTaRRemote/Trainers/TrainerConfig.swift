import Foundation
import MSTaRTasks
import MSTaRTensor

/// Which existing trainer trains the served model (`trainer KIND --config FILE`).
public enum TrainerKind: String, CaseIterable, Sendable, Codable {
    /// TRL's SFTTrainer through the driver mstar ships (scripts/trainers/trl_sft.py).
    case trl
    /// LLaMA-Factory: `llamafactory-cli train CONFIG.yaml` on a generated YAML.
    case llamafactory
    /// ms-swift: `swift sft CONFIG.yaml` on a generated YAML.
    case swift
    /// Any other trainer: a shell command template whose `{placeholders}` are replaced by quoted values.
    case command
}

/// A trainer's configuration file (JSON), read once and checked: what stays the same across a
/// run's iterations. The values that change (the data, the start weights, the checkpoint to
/// resume, the learning rate, epochs and batch size) come from the run at each iteration
/// (`TrainerLaunch`). docs/remote.md lists the keys.
public struct TrainerConfig: Sendable, Equatable {
    /// The trainer.
    public var kind: TrainerKind
    /// π0: the model directory the run starts from (and the one the server was started with).
    public var model: String
    /// The Python that runs the TRL driver (default `python3` on PATH).
    public var python: String?
    /// The TRL driver (default: scripts/trainers/trl_sft.py of the mstar checkout).
    public var script: String?
    /// The program and its leading arguments (llamafactory: `llamafactory-cli train`; swift: `swift sft`);
    /// a wrapper such as `["accelerate", "launch", ...]` or `torchrun` goes here.
    public var launcher: [String]?
    /// The `command` kind's shell template.
    public var command: String?
    /// The layout the `command` kind's trainer reads (default trl); the others read their own.
    public var format: TrainerFormat
    /// The trainer's own settings for LLaMA-Factory and ms-swift (template, finetuning type, DeepSpeed
    /// config, ...), written into every generated YAML before the run's values.
    public var config: [String: JSONValue]
    /// Environment variables added for the trainer.
    public var env: [String: String]
    /// The learning-rate schedule (a transformers scheduler name; default `constant`, as the method's own).
    public var lrScheduler: String
    /// Warm-up steps of the schedule.
    public var warmupSteps: Int
    /// A continuous run's schedule horizon in optimizer steps; nil: the iterations the run plans
    /// times the first iteration's steps.
    public var maxSteps: Int?
    /// Processes that train data-parallel and gradient-accumulation steps: examples per optimizer
    /// step are batch size × both (for counting a continuous run's steps).
    public var worldSize: Int, gradientAccumulation: Int
    /// Seconds one iteration's training may take (nil: no limit).
    public var timeout: Double?
    /// A shell command template that restarts the server on `{model}` (`--reload restart`).
    public var restartCommand: String?

    /// The keys a configuration file may hold.
    static let keys: Set<String> = ["model", "python", "script", "launcher", "command", "config", "env", "lr_scheduler", "warmup_steps",
                                    "max_steps", "world_size", "gradient_accumulation_steps", "timeout", "restart_command", "format"]

    /// The launcher of each kind when the file names none.
    public var program: [String] {
        if let launcher { return launcher }
        switch kind {
        case .llamafactory: return ["llamafactory-cli", "train"]
        case .swift: return ["swift", "sft"]
        case .trl: return [python ?? "python3"]
        case .command: return ["/bin/sh", "-c"]
        }
    }

    /// Reads `path` for `kind`; relative paths in it are taken from the file's folder. Every problem
    /// is one line naming the key.
    public static func read(_ path: String, kind: TrainerKind) throws -> TrainerConfig {
        let data: Data
        do { data = try InputFile.read(path, limit: 1 << 20) } catch { throw TrainerError("--config: \(error)") }
        guard let object = try? JSONDecoder().decode([String: JSONValue].self, from: data) else {
            throw TrainerError("\(path) is not a JSON object; docs/remote.md shows a trainer configuration")
        }
        return try parse(object, kind: kind, file: path)
    }

    /// A configuration from a decoded JSON object (`file` names it in errors and anchors relative paths).
    public static func parse(_ o: [String: JSONValue], kind: TrainerKind, file: String) throws -> TrainerConfig {
        if let unknown = o.keys.sorted().first(where: { !keys.contains($0) }) {
            throw TrainerError("\(file): unknown key \"\(unknown)\"; the keys are " + keys.sorted().joined(separator: ", "))
        }
        let folder = URL(fileURLWithPath: file).deletingLastPathComponent()
        func string(_ key: String) throws -> String? {
            guard let v = o[key] else { return nil }
            guard case .string(let s) = v, !s.isEmpty, !s.contains("\0") else { throw TrainerError("\(file): \"\(key)\" must be a non-empty string") }
            return s
        }
        func path(_ key: String) throws -> String? {
            try string(key).map { $0.hasPrefix("/") ? $0 : folder.appendingPathComponent($0).standardizedFileURL.path }
        }
        func int(_ key: String, _ range: ClosedRange<Int>) throws -> Int? {
            guard let v = o[key] else { return nil }
            guard case .number(let x) = v, let i = Int(exactly: x), range.contains(i) else {
                throw TrainerError("\(file): \"\(key)\" must be a whole number from \(range.lowerBound) to \(range.upperBound)")
            }
            return i
        }
        guard let model = try path("model") else {
            throw TrainerError("\(file): \"model\" is missing: the model directory the run starts from (the one the server serves)")
        }
        var format = TrainerFormat.trl
        if let f = try string("format") {
            guard kind == .command else { throw TrainerError("\(file): \"format\" is for the command trainer; \(kind.rawValue) reads its own layout") }
            guard let known = TrainerFormat(rawValue: f) else {
                throw TrainerError("\(file): \"format\" \(f) is not a layout; use " + TrainerFormat.allCases.map(\.rawValue).joined(separator: ", "))
            }
            format = known
        }
        switch kind {
        case .llamafactory: format = .llamafactory
        case .swift: format = .swift
        default: break
        }
        var c = TrainerConfig(kind: kind, model: model, format: format, config: [:], env: [:], lrScheduler: try string("lr_scheduler") ?? "constant",
                              warmupSteps: try int("warmup_steps", 0...1_000_000) ?? 0, worldSize: try int("world_size", 1...65_536) ?? 1,
                              gradientAccumulation: try int("gradient_accumulation_steps", 1...65_536) ?? 1)
        c.python = try string("python")
        c.script = try path("script")
        c.maxSteps = try int("max_steps", 1...1_000_000_000)
        c.restartCommand = try string("restart_command")
        if let v = o["launcher"] {
            let list = v.strings ?? []
            guard !list.isEmpty, list.allSatisfy({ !$0.isEmpty && !$0.contains("\0") }) else {
                throw TrainerError("\(file): \"launcher\" must be a list of strings, e.g. [\"llamafactory-cli\", \"train\"]")
            }
            c.launcher = list
        }
        if let v = o["timeout"] {
            guard case .number(let t) = v, t > 0 else { throw TrainerError("\(file): \"timeout\" must be a positive number of seconds") }
            c.timeout = t
        }
        if let v = o["env"] {
            guard case .object(let o) = v, let e = o.compactMapValues({ if case .string(let s) = $0 { return s } else { return nil } }) as [String: String]?,
                  e.count == o.count, e.allSatisfy({ !$0.key.isEmpty && !$0.key.contains("=") && !$0.key.contains("\0") && !$0.value.contains("\0") }) else {
                throw TrainerError("\(file): \"env\" must map variable names to strings")
            }
            c.env = e
        }
        if let v = o["config"] {
            guard case .object(let d) = v else { throw TrainerError("\(file): \"config\" must be an object of the trainer's settings") }
            for (k, x) in d {
                guard !k.isEmpty, k.unicodeScalars.allSatisfy({ $0.isASCII && ($0.properties.isAlphabetic || $0.properties.numericType != nil || $0 == "_" || $0 == "-" || $0 == ".") }) else {
                    throw TrainerError("\(file): \"config\" key \"\(k)\" is not a setting name (letters, digits, _ - .)")
                }
                c.config[k] = x
            }
            guard kind == .llamafactory || kind == .swift else { throw TrainerError("\(file): \"config\" is for llamafactory and swift; \(kind.rawValue) takes its settings elsewhere") }
        }
        c.command = try string("command")
        switch kind {
        case .command:
            guard let t = c.command else { throw TrainerError("\(file): the command trainer needs \"command\", a template such as \"python3 train.py --model {model} --data {data} --output {output}\"") }
            _ = try CommandTemplate(t, allowed: TrainerLaunch.placeholders, what: "\(file): \"command\"")
        default:
            guard c.command == nil else { throw TrainerError("\(file): \"command\" is for the command trainer") }
        }
        if let r = c.restartCommand { _ = try CommandTemplate(r, allowed: ["model"], what: "\(file): \"restart_command\"") }
        guard c.lrScheduler.unicodeScalars.allSatisfy({ $0.isASCII && ($0.properties.isAlphabetic || $0 == "_") }) else {
            throw TrainerError("\(file): \"lr_scheduler\" must be a scheduler name such as constant, linear or cosine")
        }
        return c
    }
}

/// A trainer that could not be configured, run or read: one line that says what to do.
public struct TrainerError: Error, CustomStringConvertible, Sendable {
    /// The line.
    public var description: String
    /// The line as an error.
    public init(_ description: String) { self.description = description }
}
