import Foundation
import MSTaRTasks

/// One iteration of training as the trainer is asked for it: the method's state rule already
/// turned into where the weights start and what is resumed.
public struct TrainerIteration: Sendable, Equatable {
    /// The iteration (1-based).
    public var iteration: Int
    /// The selection folder, in `format`'s layout.
    public var data: URL
    /// The layout of `data`.
    public var format: TrainerFormat
    /// Examples in it.
    public var examples: Int
    /// The iteration's folder (fresh for each iteration): the generated configuration, the log.
    public var folder: URL
    /// The folder the trainer writes its checkpoints and model to: the iteration's folder, or
    /// `output/` in it for ms-swift (which copies its configuration into its output folder and
    /// fails when the file is already there).
    public var output: URL
    /// The model directory the weights start from.
    public var model: String
    /// The checkpoint whose optimizer, schedule and step counter continue (continuous training), or nil.
    public var resume: String?
    /// The run's training settings.
    public var lr: Float, batchSize: Int, epochs: Int
    /// The data-order seed (31 bits: what every Python library takes).
    public var seed: Int
    /// The optimizer step the iteration starts at and the one it should end at.
    public var startStep: Int, stopStep: Int
    /// The schedule's horizon when the optimizer carries over (continuous), else nil.
    public var horizon: Int?
}

/// What runs for one iteration: a program, its arguments, its environment additions and the
/// files to write into the output folder first (the generated trainer configuration).
public struct TrainerLaunch: Sendable, Equatable {
    /// The program (a name looked up on PATH, or a path) and its arguments.
    public var argv: [String]
    /// Variables added to the trainer's environment.
    public var environment: [String: String]
    /// Files written into the iteration's folder before launching, by name.
    public var files: [String: String]

    /// The placeholders of the `command` trainer's template.
    public static let placeholders = ["model", "data", "data_file", "output", "learning_rate", "epochs", "batch_size", "seed",
                                      "max_steps", "resume", "iteration", "start_step", "stop_step"]

    /// The file name of the generated configuration (LLaMA-Factory, ms-swift).
    public static let configName = "mstar-train.yaml"

    /// The launch of `config` for `it`; `driver` is the TRL driver script to run when the
    /// configuration names none.
    public static func make(_ config: TrainerConfig, _ it: TrainerIteration, driver: String) throws -> TrainerLaunch {
        let values = Self.values(it)
        // Every trainer also finds the iteration's values in its environment.
        var env = config.env
        for (k, v) in values { env["MSTAR_" + k.uppercased()] = v }
        switch config.kind {
        case .trl:
            var args = [config.script ?? driver, "--model", it.model, "--data", it.data.path, "--output", it.output.path,
                        "--learning-rate", values["learning_rate"]!, "--epochs", String(it.epochs), "--batch-size", String(it.batchSize),
                        "--seed", String(it.seed), "--lr-scheduler", config.lrScheduler, "--warmup-steps", String(config.warmupSteps)]
            if let h = it.horizon { args += ["--max-steps", String(h)] }
            if let r = it.resume { args += ["--resume", r] }
            return TrainerLaunch(argv: config.program + args, environment: env, files: [:])
        case .llamafactory, .swift:
            let path = it.folder.appendingPathComponent(configName).path
            if config.kind == .swift, env["ROOT_IMAGE_DIR"] == nil {
                // ms-swift resolves relative image paths against this folder (else the working directory).
                env["ROOT_IMAGE_DIR"] = it.data.path
            }
            return TrainerLaunch(argv: config.program + [path], environment: env, files: [configName: try yaml(config, it)])
        case .command:
            let t = try CommandTemplate(config.command ?? "", allowed: placeholders, what: "the command trainer's \"command\"")
            return TrainerLaunch(argv: config.program + [t.render(values)], environment: env, files: [:])
        }
    }

    /// The iteration's values by placeholder name.
    static func values(_ it: TrainerIteration) -> [String: String] {
        ["model": it.model, "data": it.data.path, "data_file": it.data.appendingPathComponent(it.format.fileName).path,
         "output": it.output.path, "learning_rate": "\(it.lr)", "epochs": String(it.epochs), "batch_size": String(it.batchSize),
         "seed": String(it.seed), "max_steps": it.horizon.map(String.init) ?? "", "resume": it.resume ?? "", "iteration": String(it.iteration),
         "start_step": String(it.startStep), "stop_step": String(it.stopStep)]
    }

    /// The generated YAML of LLaMA-Factory and ms-swift: the configuration's own settings, then the
    /// iteration's, each value in JSON form (which YAML reads as the same value).
    static func yaml(_ config: TrainerConfig, _ it: TrainerIteration) throws -> String {
        var keys = config.config
        func set(_ k: String, _ v: JSONValue) { keys[k] = v }
        func setDefault(_ k: String, _ v: JSONValue) { if keys[k] == nil { keys[k] = v } }
        let hf: [(String, JSONValue)] = [
            ("output_dir", .string(it.output.path)), ("learning_rate", .number(Double("\(it.lr)") ?? Double(it.lr))),
            ("num_train_epochs", .number(Double(it.epochs))), ("per_device_train_batch_size", .number(Double(it.batchSize))),
            ("seed", .number(Double(it.seed))), ("lr_scheduler_type", .string(config.lrScheduler)), ("warmup_steps", .number(Double(config.warmupSteps))),
            ("gradient_accumulation_steps", .number(Double(config.gradientAccumulation))), ("logging_steps", .number(1)), ("report_to", .string("none")),
        ]
        for (k, v) in hf { set(k, v) }
        // A continuous iteration loads the weights from the checkpoint it resumes: the HF Trainer's resume
        // restores optimizer, schedule, RNG and step but (transformers 5) none of a LLaVA's renamed weights.
        let start = it.resume ?? it.model
        if config.kind == .llamafactory {
            // The selection folder as a registered dataset: TrainerData writes its dataset_info.json beside train.json.
            set("model_name_or_path", .string(start)); set("stage", .string("sft")); set("do_train", .bool(true))
            set("dataset", .string(TrainerData.llamaFactoryName)); set("dataset_dir", .string(it.data.path))
            // Else an output folder that holds checkpoints is silently resumed from its last one.
            set("overwrite_output_dir", .bool(true))
            setDefault("finetuning_type", .string("full"))  // the method trains the whole policy; LLaMA-Factory's default is LoRA
        } else {
            set("model", .string(start)); set("dataset", .array([.string(it.data.appendingPathComponent(it.format.fileName).path)]))
            set("add_version", .bool(false))  // the output folder is the one given, not a dated folder inside it
            setDefault("tuner_type", .string("full"))  // ms-swift's default is LoRA
            setDefault("check_model", .bool(false))  // else it asks ModelScope about the model first
        }
        if it.horizon != nil {
            // Continuous: resume the last checkpoint on new data and stop at this iteration's last step,
            // saving a full checkpoint (optimizer, schedule, step) there for the next iteration.
            guard ["constant", "constant_with_warmup"].contains(config.lrScheduler) else {
                throw TrainerError("continuous training through \(config.kind.rawValue) keeps a constant schedule (the trainer rebuilds it from each call's max_steps); "
                                   + "use lr_scheduler constant, or the trl trainer for a schedule that decays across iterations")
            }
            set("max_steps", .number(Double(it.stopStep)))
            set("save_strategy", .string("steps")); set("save_steps", .number(Double(it.stopStep))); set("save_only_model", .bool(false))
            set("ignore_data_skip", .bool(true))
            if let r = it.resume { set("resume_from_checkpoint", .string(r)) } else { keys["resume_from_checkpoint"] = nil }
        } else {
            keys["max_steps"] = nil; keys["resume_from_checkpoint"] = nil
            // LLaMA-Factory saves the final model in the output folder; ms-swift only in checkpoints.
            if config.kind == .llamafactory { set("save_strategy", .string("no")) }
            else { set("save_strategy", .string("epoch")); set("save_only_model", .bool(true)) }
        }
        var lines = ["# Written by mstar for iteration \(it.iteration); the trainer configuration's \"config\" with the run's values."]
        for k in keys.keys.sorted() { lines.append("\(k): \(keys[k]!.json)") }
        return lines.joined(separator: "\n") + "\n"
    }
}
