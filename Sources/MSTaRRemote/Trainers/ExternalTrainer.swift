import Foundation
import MSTaR
import MSTaRModel
import MSTaRTasks

/// Trains a served model on each item step's selection with an existing trainer (TRL,
/// LLaMA-Factory, ms-swift, a command), run as a subprocess, then makes the server sample from
/// what it wrote (`ServedModel`).
///
/// The methods' state rules on a real trainer:
/// - continuous self-evolving resumes the last iteration's checkpoint (optimizer, scheduler, RNG,
///   step counter) on the new selection, with one schedule horizon for the whole run, fixed at
///   iteration 1 (the HF Trainer rebuilds the schedule from each call's `max_steps`);
/// - iterative RFT starts from the last iteration's model with a fresh optimizer;
/// - ReST-EM starts from π0 every iteration.
/// Each iteration writes a new folder `trainer/step-N/` in the run directory (the generated
/// configuration, the data in the trainer's layout when it is not TRL's, `trainer.log`, the
/// trainer's output). Nothing changes until `commit`: a failed or interrupted iteration leaves
/// the last committed model and checkpoint current.
public final class ExternalTrainer: SelectionTrainer {
    /// The committed state: what the next iteration starts from.
    public struct State: Codable, Sendable, Equatable {
        /// The model directory the server samples (π0 before the first iteration).
        public var model: String
        /// The checkpoint a continuous run resumes.
        public var checkpoint: String?
        /// The optimizer step reached (continuous), and the schedule's horizon once fixed.
        public var globalStep: Int
        public var horizon: Int?
        /// Iterations trained.
        public var iterations: Int

        /// A state.
        public init(model: String, checkpoint: String?, globalStep: Int, horizon: Int?, iterations: Int) {
            self.model = model; self.checkpoint = checkpoint; self.globalStep = globalStep; self.horizon = horizon; self.iterations = iterations
        }
    }

    /// What `trainer.jsonl` records of one iteration.
    public struct Record: Codable, Sendable, Equatable {
        public var step: Int
        public var carry: String
        public var kind: String
        public var command: [String]
        public var model_in: String
        public var resume: String?
        public var output: String
        public var checkpoint: String?
        public var model: String
        public var global_step: Int
        public var steps: Int
        public var learning_rates: [Double]
        public var losses: [Double]
        public var examples: Int
        public var seconds: Double
    }

    /// The trainer's configuration.
    public let config: TrainerConfig
    /// What puts a trained model on the server.
    public let served: ServedModel
    /// The run directory (`trainer/step-N/`, `trainer.jsonl`).
    public let runDirectory: URL
    /// The TRL driver run when the configuration names no script.
    public let driver: String
    /// The committed state.
    public private(set) var state: State
    /// The last committed iteration's record.
    public private(set) var lastRecord: Record?
    private var pending: (state: State, record: Record)?

    /// The folder of the iterations' outputs and the record file, in the run directory.
    public static let folderName = "trainer", recordsName = "trainer.jsonl"

    /// A trainer starting from π0 (`config.model`), or from `state` (a saved run continued).
    public init(config: TrainerConfig, served: ServedModel, runDirectory: URL, driver: String, state: State? = nil) {
        self.config = config; self.served = served; self.runDirectory = runDirectory.standardizedFileURL; self.driver = driver
        self.state = state ?? State(model: config.model, checkpoint: nil, globalStep: 0, horizon: nil, iterations: 0)
        if served.restartLog == nil {
            served.restartLog = self.runDirectory.appendingPathComponent(Self.folderName).appendingPathComponent("restart.log")
        }
    }

    /// The adapter name of an iteration's model (`--reload lora`).
    static func name(_ iteration: Int) -> String { "mstar-step-\(iteration)" }

    public func prepare() throws {
        try served.serve(state.model, name: Self.name(state.iterations))
    }

    /// Optimizer steps one pass of `job` takes: batches of batch size × processes × accumulation.
    static func steps(_ job: SelectionJob, examples: Int, _ config: TrainerConfig) -> Int {
        let perStep = job.batchSize * config.worldSize * config.gradientAccumulation
        return (examples + perStep - 1) / perStep * job.epochs
    }

    /// The iteration as the trainer is asked for it, from `state` by the method's state rule.
    /// `examples` counts the selection when `job` does not carry it (a folder planned from).
    public static func iteration(_ job: SelectionJob, examples: Int? = nil, config: TrainerConfig, state: State?, folder: URL, data: URL) -> TrainerIteration {
        let examples = examples ?? job.examples.count
        let state = state ?? State(model: config.model, checkpoint: nil, globalStep: 0, horizon: nil, iterations: 0)
        let n = steps(job, examples: examples, config)
        var it = TrainerIteration(iteration: job.iteration, data: data, format: config.format, examples: examples, folder: folder,
                                  output: config.kind == .swift ? folder.appendingPathComponent("output") : folder,
                                  model: state.model, resume: nil, lr: job.lr, batchSize: job.batchSize, epochs: job.epochs,
                                  seed: Int(job.seed & 0x7fff_ffff), startStep: 0, stopStep: n, horizon: nil)
        switch job.carry {
        case .carry:
            it.resume = state.checkpoint
            it.startStep = state.globalStep
            it.stopStep = state.globalStep + n
            it.horizon = state.horizon ?? config.maxSteps ?? max(1, job.iterations) * n
        case .fresh:
            break
        case .restart:
            it.model = config.model
        }
        return it
    }

    public func train(_ job: SelectionJob, progress: ((String) -> Void)?, shouldStop: (() -> Bool)?) throws -> TrainReport {
        pending = nil
        let output = try Self.freshFolder(in: runDirectory.appendingPathComponent(Self.folderName), iteration: job.iteration)
        var data = job.data
        if config.format != .trl {
            // The trainer reads its own layout: the same examples, written for it.
            data = output.appendingPathComponent("data")
            try TrainerData.write(job.examples, format: config.format, to: data)
        }
        let it = Self.iteration(job, config: config, state: state, folder: output, data: data)
        if let h = it.horizon, it.startStep >= h {
            throw TrainerError("the schedule's horizon (max_steps \(h)) is spent at step \(it.startStep); set a larger max_steps in the trainer configuration")
        }
        let launch = try TrainerLaunch.make(config, it, driver: driver)
        for (name, text) in launch.files { try Data(text.utf8).write(to: output.appendingPathComponent(name), options: .atomic) }
        let r = try TrainerProcess.run(launch.argv, environment: launch.environment, directory: output,
                                       log: output.appendingPathComponent("trainer.log"), timeout: config.timeout, line: progress,
                                       shouldStop: shouldStop)
        let log = "\(Self.folderName)/\(output.lastPathComponent)/trainer.log"
        switch r.outcome {
        case .exited(0): break
        case .stopped: throw EvolutionInterrupted()
        case .timedOut: throw TrainerError("the trainer ran past its timeout (\(Int(config.timeout ?? 0)) s) and was stopped; see \(log)")
        case .exited(let code):
            throw TrainerError("the trainer (\(config.kind.rawValue)) exited with status \(code): \(Self.lastWords(r.stderrTail)); see \(log). The run is as it was before the step")
        case .signalled(let s):
            throw TrainerError("the trainer (\(config.kind.rawValue)) was killed by signal \(s); see \(log). The run is as it was before the step")
        }
        let out = try TrainerOutputs.read(it.output, stdout: r.stdout, startStep: it.startStep)
        var next = state
        next.model = out.model
        next.iterations = job.iteration
        if job.carry == .carry {
            guard let c = out.checkpoint else {
                throw TrainerError("the trainer saved no checkpoint-N in \(it.output.path); continuous training resumes the optimizer from one: make it save at the end")
            }
            next.checkpoint = c
            next.globalStep = out.globalStep
            next.horizon = it.horizon
        } else {
            next.checkpoint = nil
            next.globalStep = 0
        }
        let record = Record(step: job.iteration, carry: "\(job.carry)", kind: config.kind.rawValue, command: launch.argv, model_in: it.model,
                            resume: it.resume, output: it.output.path, checkpoint: next.checkpoint, model: out.model, global_step: out.globalStep,
                            steps: out.learningRates.count, learning_rates: out.learningRates, losses: out.losses,
                            examples: job.examples.count, seconds: r.seconds)
        pending = (next, record)
        // The step's dynamics sample what was just trained.
        try served.serve(out.model, name: Self.name(job.iteration))
        let losses = out.losses.map(Float.init)
        return TrainReport(steps: out.learningRates.count, sequences: job.examples.count * job.epochs, tokens: 0,
                           meanLoss: losses.isEmpty ? .nan : losses.reduce(0, +) / Float(losses.count), lastLoss: losses.last ?? .nan,
                           seconds: r.seconds)
    }

    public func commit() throws {
        guard let p = pending else { return }
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        try appendLine(String(decoding: try e.encode(p.record), as: UTF8.self), to: runDirectory.appendingPathComponent(Self.recordsName))
        state = p.state
        lastRecord = p.record
        pending = nil
    }

    public func rollback() {
        guard pending != nil || served.serving != state.model else { return }
        pending = nil
        // Back to the committed model; if that fails, the next step's prepare tries again.
        do { try served.serve(state.model, name: Self.name(state.iterations)) } catch { served.invalidate() }
    }

    /// A new folder for iteration `n`'s output: `step-N`, or `step-N.2`, `step-N.3`, ... when an
    /// earlier attempt (a failed one, an earlier run in the same directory) left one. Nothing is
    /// removed: a saved run may still name an earlier folder's model.
    static func freshFolder(in parent: URL, iteration n: Int) throws -> URL {
        let fm = FileManager.default
        try fm.createDirectory(at: parent, withIntermediateDirectories: true)
        for attempt in 1...10_000 {
            let folder = parent.appendingPathComponent(attempt == 1 ? "step-\(n)" : "step-\(n).\(attempt)")
            // mkdir is atomic: the folder is ours only when this call made it.
            if mkdir(folder.path, 0o755) == 0 { return folder }
            guard errno == EEXIST else { throw TrainerError("cannot make \(folder.path): \(String(cString: strerror(errno)))") }
        }
        throw TrainerError("\(parent.path) holds 10000 attempts of iteration \(n); clear it")
    }

    /// The trainer's last error line: its last stderr line that says something.
    static func lastWords(_ tail: [String]) -> String {
        let line = tail.last { !$0.trimmingCharacters(in: .whitespaces).isEmpty } ?? "no output on stderr"
        return line.count > 300 ? String(line.prefix(297)) + "..." : line
    }
}
