import Foundation
import MSTaRTensor

/// What a trainer left in its output folder: the model to serve next, the checkpoint a continuous
/// run resumes, the optimizer step reached and the per-step learning rates and losses.
///
/// Read from the TRL driver's JSON lines when it printed them (`{"event": "done", ...}`), else
/// from the HF Trainer's files, which LLaMA-Factory, ms-swift and most trainers write:
/// `checkpoint-N/` folders and `trainer_state.json` (its `log_history`).
public struct TrainerOutputs: Sendable, Equatable {
    /// The model directory to serve (full weights with config, or a LoRA adapter).
    public var model: String
    /// The last checkpoint folder (optimizer, scheduler, RNG and step), nil when none was saved.
    public var checkpoint: String?
    /// The optimizer step the trainer ended at.
    public var globalStep: Int
    /// Learning rate and loss of each optimizer step this call made, in order.
    public var learningRates: [Double], losses: [Double]

    /// Reads `output` after a run that started at `startStep`; `stdout` is the trainer's output.
    public static func read(_ output: URL, stdout: [String], startStep: Int) throws -> TrainerOutputs {
        var lrs: [Double] = [], losses: [Double] = []
        var done: [String: Any]?
        for line in stdout where line.hasPrefix("{") {
            guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], let event = o["event"] as? String else { continue }
            if event == "log", let lr = number(o["learning_rate"]), let loss = number(o["loss"]) { lrs.append(lr); losses.append(loss) }
            if event == "done" { done = o }
        }
        let checkpoint = (done?["checkpoint"] as? String).map { resolve($0, in: output) } ?? latestCheckpoint(in: output)
        var step = (done?["global_step"]).flatMap(number).map { Int($0) }
        if done == nil {
            // The HF Trainer's state: in the last checkpoint, or (saved at the end) in the output folder.
            for folder in [checkpoint, output.path].compactMap({ $0 }) {
                guard let state = readState(URL(fileURLWithPath: folder).appendingPathComponent("trainer_state.json")) else { continue }
                step = state.step
                for entry in state.log where entry.step > startStep { lrs.append(entry.lr); losses.append(entry.loss) }
                break
            }
        }
        let model: String
        if let m = done?["model"] as? String {
            model = resolve(m, in: output)
        } else if isModel(output.path) {
            model = output.path
        } else if let c = checkpoint, isModel(c) {
            model = c
        } else {
            throw TrainerError("the trainer wrote no model to \(output.path) (no config.json or adapter_config.json there or in a checkpoint-N folder); make it save its model at the end")
        }
        guard isModel(model) else { throw TrainerError("the trainer's model \(model) is not a model directory (no config.json or adapter_config.json)") }
        return TrainerOutputs(model: model, checkpoint: checkpoint, globalStep: step ?? startStep + lrs.count, learningRates: lrs, losses: losses)
    }

    /// A folder that holds a model's config or a LoRA adapter's.
    static func isModel(_ path: String) -> Bool {
        let fm = FileManager.default
        return ["config.json", "adapter_config.json"].contains { fm.fileExists(atPath: (path as NSString).appendingPathComponent($0)) }
    }

    /// The `checkpoint-N` folder with the largest N in `output`, or nil.
    static func latestCheckpoint(in output: URL) -> String? {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: output.path)) ?? []
        let numbered = names.compactMap { name -> (Int, String)? in
            guard name.hasPrefix("checkpoint-"), let n = Int(name.dropFirst("checkpoint-".count)) else { return nil }
            return (n, name)
        }
        return numbered.max { $0.0 < $1.0 }.map { output.appendingPathComponent($0.1).path }
    }

    static func resolve(_ path: String, in output: URL) -> String {
        path.hasPrefix("/") ? path : output.appendingPathComponent(path).standardizedFileURL.path
    }

    static func number(_ v: Any?) -> Double? {
        guard let n = v as? NSNumber else { return nil }
        let x = n.doubleValue
        return x.isFinite ? x : nil
    }

    /// The global step and the per-step log entries of a `trainer_state.json` (bounded read).
    public static func readState(_ url: URL) -> (step: Int, log: [(step: Int, lr: Double, loss: Double)])? {
        guard let data = try? InputFile.read(url.path, limit: 64 << 20),
              let o = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let step = number(o["global_step"]).map({ Int($0) }) else { return nil }
        let log = (o["log_history"] as? [[String: Any]] ?? []).compactMap { e -> (Int, Double, Double)? in
            guard let s = number(e["step"]), let lr = number(e["learning_rate"]), let loss = number(e["loss"]) else { return nil }
            return (Int(s), lr, loss)
        }
        return (step, log)
    }
}
