import Foundation
import MSTaRModel
import MSTaRTasks
import MSTaRTensor

/// The run state beyond the weights, saved as `evolution.json` next to the policy, π0 and PRM
/// checkpoints.
struct RunState: Codable {
    var format = "mstar-run-1"
    var seed: UInt64
    var iteration: Int
    var cursor: Int
    var unlabelledCursor: Int
    var temperature: Float
    var settings: EvolutionSettings
    var prmReport: PRMTrainReport?
    var hasOptimizer: Bool
}

extension RunState {
    /// Checks every number read from evolution.json before the run uses it to size or index anything.
    func validate() throws {
        guard format == "mstar-run-1" else { throw SettingError(description: "format is '\(format)'; this mstar reads mstar-run-1") }
        try validateRunPosition(settings: settings, iteration: iteration, cursors: [("cursor", cursor), ("unlabelledCursor", unlabelledCursor)],
                                temperature: temperature)
    }
}

/// The checks every saved run's position gets before it is used: its settings as `set` would take
/// them, an iteration within the run's length, cursors and a temperature within their ranges.
func validateRunPosition(settings: EvolutionSettings, iteration: Int, cursors: [(String, Int)], temperature: Float) throws {
    func need(_ ok: Bool, _ why: String) throws { if !ok { throw SettingError(description: why) } }
    try settings.validate()
    try need((0...settings.iterations).contains(iteration), "iteration is \(iteration); allowed 0 to \(settings.iterations) (the run's length)")
    for (name, v) in cursors {
        try need((0...TrainingState.maxStep).contains(v), "\(name) is \(v); allowed 0 to \(TrainingState.maxStep)")
    }
    try need(temperature.isFinite && temperature >= 0 && temperature <= 10, "temperature is \(temperature); allowed 0 to 10")
}

extension Evolution {
    /// Saves the whole run to `directory` atomically: `policy/` (with the carried optimizer),
    /// `initial/` (π0), `prm/` when trained, and `evolution.json` (cursors, temperature, settings).
    public func save(to directory: URL) throws {
        try Checkpoint.writeFolder(directory, kind: .run) { tmp in
            let state = TrainingState(step: iteration, dataPosition: cursor, schedule: .constant(lr: settings.lr),
                                      temperature: temperature, method: settings.method.rawValue)
            try Checkpoint.save(model: policy, optimizer: optimizer, state: state, to: tmp.appendingPathComponent("policy"))
            try Checkpoint.save(model: initialPolicy, state: TrainingState(), to: tmp.appendingPathComponent("initial"))
            if let prm {
                try Checkpoint.save(model: prm.model, state: TrainingState(method: "prm"), to: tmp.appendingPathComponent("prm"))
            }
            let run = RunState(seed: seed, iteration: iteration, cursor: cursor, unlabelledCursor: unlabelledCursor,
                               temperature: temperature, settings: settings, prmReport: prmReport, hasOptimizer: optimizer != nil)
            let e = JSONEncoder()
            e.outputFormatting = [.prettyPrinted, .sortedKeys]
            try AtomicFile.write(try e.encode(run), to: tmp.appendingPathComponent("evolution.json"))
            // The table of completed steps travels with the run.
            let lines = try history.map { try $0.jsonLine() + "\n" }.joined()
            try AtomicFile.write(Data(lines.utf8), to: tmp.appendingPathComponent("dynamics.jsonl"))
        }
    }

    /// Whether `directory` holds a saved run (rather than a plain checkpoint).
    public static func isRun(_ directory: URL) -> Bool {
        FileManager.default.fileExists(atPath: directory.appendingPathComponent("evolution.json").path)
    }

    /// Continues a run saved by `save(to:)`, with its table of completed steps (`history`, or the
    /// one saved with the run when nil).
    public static func resume(from directory: URL, suite: TaskSuite, history: [DynamicsRecord]? = nil,
                              tokenizer: Tokenizer = .standard) throws -> Evolution {
        let path = directory.appendingPathComponent("evolution.json")
        let run: RunState
        do {
            run = try JSONDecoder().decode(RunState.self, from: try InputFile.read(path.path, limit: InputFile.jsonLimit))
        } catch let e as TensorError {
            throw SettingError(description: e.description)
        } catch {
            throw SettingError(description: "\(path.path) is not a saved run: \(Checkpoint.describe(error))")
        }
        do { try run.validate() } catch {
            throw SettingError(description: "\(path.path): \(error)")
        }
        let policy = try Checkpoint.load(from: directory.appendingPathComponent("policy"), vocab: tokenizer.vocabSize)
        let initial = try Checkpoint.load(from: directory.appendingPathComponent("initial"), vocab: tokenizer.vocabSize)
        let evolution = try Evolution(suite: suite, policy: initial.model, settings: run.settings, seed: run.seed, tokenizer: tokenizer)
        try evolution.policy.loadWeights(from: policy.model)
        if run.hasOptimizer {
            guard let o = policy.optimizer else {
                throw SettingError(description: "\(directory.path)/policy has no optimizer.safetensors but the run carries an optimizer")
            }
            let opt = AdamW(params: evolution.policy.policyParameters, config: o.config)
            try opt.loadState(o.tensors, step: o.step)
            evolution.optimizer = opt
        }
        let prmDir = directory.appendingPathComponent("prm")
        if FileManager.default.fileExists(atPath: prmDir.path) {
            evolution.prm = ProcessRewardModel(model: try Checkpoint.load(from: prmDir, vocab: tokenizer.vocabSize).model, aggregation: run.settings.prmAggregation,
                                               tokenizer: tokenizer)
            evolution.prmReport = run.prmReport
        }
        evolution.iteration = run.iteration
        evolution.cursor = run.cursor
        evolution.unlabelledCursor = run.unlabelledCursor
        evolution.temperature = run.temperature
        let saved = try history ?? readDynamics(directory.appendingPathComponent("dynamics.jsonl"))
        evolution.history = Array(saved.prefix(run.iteration))
        return evolution
    }

    /// Reads the records of a dynamics.jsonl file.
    public static func readDynamics(_ url: URL) throws -> [DynamicsRecord] {
        guard FileManager.default.fileExists(atPath: url.path) else { return [] }
        let text = try InputFile.text(url.path, limit: InputFile.datasetLimit)
        return try InputFile.lines(text).enumerated().filter { !$0.element.isEmpty }.map { i, line in
            do { return try JSONDecoder().decode(DynamicsRecord.self, from: Data(line.utf8)) } catch {
                throw SettingError(description: "\(url.path):\(i + 1): not a dynamics record: \(error)")
            }
        }
    }
}
