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

extension Evolution {
    /// Saves the whole run to `directory` atomically: `policy/` (with the carried optimizer),
    /// `initial/` (π0), `prm/` when trained, and `evolution.json` (cursors, temperature, settings).
    public func save(to directory: URL) throws {
        let fm = FileManager.default
        let parent = directory.deletingLastPathComponent()
        try fm.createDirectory(at: parent, withIntermediateDirectories: true)
        let tmp = parent.appendingPathComponent(".\(directory.lastPathComponent).tmp-\(getpid())-\(UInt64(Date().timeIntervalSince1970 * 1e6))")
        do {
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
            AtomicFile.syncDirectory(tmp)
            try Checkpoint.replaceDirectory(directory, with: tmp)
        } catch {
            try? fm.removeItem(at: tmp)
            throw error
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
        do { run = try JSONDecoder().decode(RunState.self, from: Data(contentsOf: path)) } catch {
            throw SettingError(description: "\(path.path) is not a saved run: \(error)")
        }
        let policy = try Checkpoint.load(from: directory.appendingPathComponent("policy"))
        let initial = try Checkpoint.load(from: directory.appendingPathComponent("initial"))
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
            evolution.prm = ProcessRewardModel(model: try Checkpoint.load(from: prmDir).model, aggregation: run.settings.prmAggregation,
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
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { return [] }
        return try text.split(separator: "\n").enumerated().map { i, line in
            do { return try JSONDecoder().decode(DynamicsRecord.self, from: Data(line.utf8)) } catch {
                throw SettingError(description: "\(url.path):\(i + 1): not a dynamics record: \(error)")
            }
        }
    }
}
