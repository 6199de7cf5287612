import ArgumentParser
import Foundation
import MSTaRTensor
import MSTaRWorkbench

/// `reproduce --slurm`: the study's unfinished runs as Slurm array jobs, one `mstar` process per
/// (variant, seed) writing its own run folder, the way labs run such studies on a cluster.
struct SlurmOptions: ParsableArguments {
    @Flag(help: "Run every unfinished (variant, seed) as one task of a Slurm array job (sbatch), wait, then write the tables.")
    var slurm = false
    @Option(help: "Slurm partition (sbatch --partition).")
    var partition: String?
    @Option(name: .customLong("time"), help: "Time limit of each task (sbatch --time, e.g. 2:00:00).")
    var timeLimit: String?
    @Option(help: "CPUs of each task (sbatch --cpus-per-task; also its threads).")
    var cpus = 2
    @Flag(help: "Submit and return at once; the same command again waits for the jobs and writes the tables.")
    var noWait = false
    @Option(help: "Folder of the Slurm programs sbatch and squeue (default: found on PATH).")
    var slurmBin: String?
    @Option(help: .hidden)
    var slurmTask: String?
}

/// One unit of work of a Slurm job: a seed's PRM, or one variant's run on a seed.
struct SlurmTask: Codable, Equatable {
    /// "prm" or "run".
    var kind: String
    var seed: UInt64
    /// The variant's name and run key (runs only).
    var variant: String?
    var key: String?
}

/// Submits, waits for and checks the array jobs of a study. Everything it keeps goes to OUT/slurm:
/// the task lists, the job script, the job ids and one log per task.
struct SlurmStudy {
    let options: SlurmOptions
    let outDir: URL
    /// The arguments of the submitting `mstar reproduce` call, which every task repeats.
    let arguments: [String]

    var dir: URL { outDir.appendingPathComponent("slurm") }

    /// The program `name` from --slurm-bin or PATH.
    func program(_ name: String) throws -> String {
        let dirs = options.slurmBin.map { [$0] } ?? (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
        for d in dirs where FileManager.default.isExecutableFile(atPath: d + "/" + name) { return d + "/" + name }
        throw ValidationError("no \(name) found\(options.slurmBin.map { " in \($0)" } ?? " on PATH"): install Slurm's client programs or pass --slurm-bin DIR")
    }

    /// Single-quoted for the shell: nothing in it is expanded.
    static func quote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    /// The task's arguments: the submitting call's, less the Slurm options, with the task's threads.
    func taskArguments() -> [String] {
        let valued: Set<String> = ["--partition", "--time", "--cpus", "--slurm-bin", "--threads", "--slurm-task"]
        let flags: Set<String> = ["--slurm", "--no-wait"]
        var out: [String] = [], skip = false
        for a in arguments {
            if skip { skip = false; continue }
            if flags.contains(a) { continue }
            if valued.contains(a) { skip = true; continue }
            if let eq = a.firstIndex(of: "="), valued.contains(String(a[..<eq])) { continue }
            out.append(a)
        }
        return out + ["--threads", String(options.cpus)]
    }

    /// Submits `tasks` of `kind` as one array job (after `after` when given); returns its job id.
    func submit(_ tasks: [SlurmTask], kind: String, after: String?) throws -> String {
        let fm = FileManager.default
        try fm.createDirectory(at: dir.appendingPathComponent("logs"), withIntermediateDirectories: true)
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try e.encode(tasks), to: dir.appendingPathComponent("tasks-\(kind).json"))
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        var script = ["#!/bin/sh", "#SBATCH --job-name=mstar-\(kind)", "#SBATCH --array=0-\(tasks.count - 1)",
                      "#SBATCH --cpus-per-task=\(options.cpus)",
                      "#SBATCH --output=\(dir.appendingPathComponent("logs").path)/\(kind)-%A_%a.out"]
        if let p = options.partition { script.append("#SBATCH --partition=\(p)") }
        if let t = options.timeLimit { script.append("#SBATCH --time=\(t)") }
        let command = ([exe, "reproduce"] + taskArguments()).map(Self.quote).joined(separator: " ")
        script.append("exec \(command) --slurm-task \"\(kind):$SLURM_ARRAY_TASK_ID\"")
        for field in [options.partition, options.timeLimit].compactMap({ $0 }) where field.contains(where: { $0.isNewline || $0 == " " }) {
            throw ValidationError("--partition and --time take one word, not '\(field)'")
        }
        let path = dir.appendingPathComponent("\(kind).sh")
        try AtomicFile.write(Data((script.joined(separator: "\n") + "\n").utf8), to: path)
        var args = ["--parsable"]
        if let after { args.append("--dependency=afterany:\(after)") }
        args.append(path.path)
        let r = try Subprocess.run(try program("sbatch"), args)
        guard r.status == 0, let id = r.stdout.split(whereSeparator: { $0 == ";" || $0.isNewline }).first.map(String.init), !id.isEmpty else {
            throw ValidationError("sbatch refused the job: \(r.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        return id
    }

    /// Whether any of `jobs` is still pending or running.
    func running(_ jobs: [String]) throws -> Bool {
        guard !jobs.isEmpty else { return false }
        let r = try Subprocess.run(try program("squeue"), ["-h", "-o", "%i", "-j", jobs.joined(separator: ",")])
        // A job that has left the controller's memory is an error to squeue: it is not running.
        return r.status == 0 && !r.stdout.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
    }

    var jobsFile: URL { dir.appendingPathComponent("jobs.json") }

    /// Runs the unfinished `pending()` work on the cluster: waits for a submission still queued,
    /// submits what is missing (the PRMs first, the runs after them), waits, and resubmits failed
    /// tasks up to twice. Returns false when it returned at once (`--no-wait`).
    func run(pending: () -> (prms: [SlurmTask], runs: [SlurmTask]), log: (String) -> Void) throws -> Bool {
        var attempts = 0
        while true {
            let queued = (try? JSONDecoder().decode([String].self, from: Data(contentsOf: jobsFile))) ?? []
            if try running(queued) {
                if options.noWait { log("reproduce: Slurm jobs \(queued.joined(separator: ", ")) still queued or running; run the same command again later"); return false }
                log("reproduce: waiting for Slurm jobs \(queued.joined(separator: ", "))")
                while try running(queued) { Thread.sleep(forTimeInterval: 2) }
            }
            let work = pending()
            if work.prms.isEmpty && work.runs.isEmpty { return true }
            if attempts == 3 {
                let failed = (work.prms + work.runs).map { "\($0.kind) seed \($0.seed)\($0.variant.map { " \($0)" } ?? "")" }
                throw ValidationError("Slurm tasks failed three times: \(failed.joined(separator: "; ")); see \(dir.path)/logs")
            }
            attempts += 1
            var jobs: [String] = []
            if !work.prms.isEmpty { jobs.append(try submit(work.prms, kind: "prm", after: nil)) }
            if !work.runs.isEmpty { jobs.append(try submit(work.runs, kind: "run", after: jobs.first)) }
            try AtomicFile.write(try JSONEncoder().encode(jobs), to: jobsFile)
            log("reproduce: submitted \(work.prms.count) PRM and \(work.runs.count) run tasks as Slurm job\(jobs.count > 1 ? "s" : "") \(jobs.joined(separator: ", "))")
            if options.noWait { log("reproduce: run the same command again (without --no-wait) to wait for them and write the tables"); return false }
        }
    }

    /// The task `spec` ("run:N" or "prm:N") of the last submission.
    func task(_ spec: String) throws -> SlurmTask {
        let parts = spec.split(separator: ":")
        guard parts.count == 2, ["prm", "run"].contains(parts[0]), let n = Int(parts[1]), n >= 0 else {
            throw ValidationError("--slurm-task takes prm:N or run:N, not '\(spec)'")
        }
        let tasks = try JSONDecoder().decode([SlurmTask].self, from: Data(contentsOf: dir.appendingPathComponent("tasks-\(parts[0]).json")))
        guard n < tasks.count else { throw ValidationError("no task \(n) among the \(tasks.count) of \(parts[0])") }
        return tasks[n]
    }
}
