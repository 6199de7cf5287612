import ArgumentParser
import Foundation
import MSTaRTensor
import MSTaRWorkbench

/// Builds the sessions of `mstar` and `mstar run`: the workbench's built-ins plus every layer's
/// commands, settings, metrics and recipes (the engine registers its own here).
enum WorkbenchSetup {
    static func makeSession(runDirectory: String, mode: Session.Mode, inputDirectory: String? = nil, writeAnywhere: Bool = false,
                            allowTrainers: Bool = false) throws -> Session {
        do { try Session.checkRunDirectory(runDirectory) } catch { throw ValidationError(Session.describe(error)) }
        Numerics.warnIfSlow()
        let session = Session(runDirectory: runDirectory, mode: mode, inputDirectory: inputDirectory)
        session.writeAnywhere = writeAnywhere
        session.allowTrainers = allowTrainers
        EngineCommands.register(in: session)
        // The process runs at the `threads` setting's default until a script or the prompt sets it.
        Runtime.setThreads(ProcessInfo.processInfo.activeProcessorCount)
        return session
    }
}

/// `mstar run FILE`: replays a session script headlessly into a run directory.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Replay a session script (.mstar) or a notebook (.ipynb) headlessly into a run directory.",
        discussion: """
        The run directory (default runs/<script name>) receives session.mstar (the journal: every command with
        all parameters resolved) and plots/. The replayed script, with fresh outputs, is printed as it runs.
        A notebook with recorded outputs (from Jupyter with the mstar kernel, or from --ipynb) replays cell by
        cell; --verify compares each cell's outputs as a whole (stderr streams are not compared).
        Commands write only inside the run directory unless --write-anywhere is given; no command runs a program
        unless --allow-trainers is given (docs/workbench.md, "Safety").
        Exit status: 0 done, 1 a command failed or (--verify) an output differs, 130 interrupted.
        """)

    @Argument(help: "The session script (.mstar) or notebook (.ipynb).")
    var file: String

    @Option(help: "Run directory (default: runs/<script name>).")
    var out: String?

    @Flag(help: "Fail at the first output that differs from the one recorded in the script.")
    var verify = false

    @Flag(help: "Rewrite the recorded outputs in the script with the new ones (atomically).")
    var update = false

    @Option(help: "Also write a Jupyter notebook (nbformat 4.5) of the replay here.")
    var ipynb: String?

    @Flag(help: "Do not print the replayed script.")
    var quiet = false

    @Flag(help: "Let the script's commands write outside the run directory (save, plot --out, data export).")
    var writeAnywhere = false

    @Flag(help: "Let the trainer and backend commands run an external trainer (TRL, LLaMA-Factory, ms-swift, a command) and a server restart command.")
    var allowTrainers = false

    func validate() throws {
        if verify && update { throw ValidationError("--verify and --update exclude each other: verify first, then update") }
        if update && isNotebook {
            throw ValidationError("--update rewrites .mstar scripts; to refresh a notebook, re-run it in Jupyter or export it with --ipynb")
        }
    }

    /// A Jupyter notebook, read with its outputs and verified per cell.
    var isNotebook: Bool { file.lowercased().hasSuffix(".ipynb") }

    func run() throws {
        let script: Script
        do {
            script = isNotebook ? try Notebook.read(InputFile.read(file, limit: InputFile.notebookLimit), file: file)
                : Script.parse(try InputFile.text(file, limit: InputFile.scriptLimit))
        } catch { throw ValidationError("\(error)") }
        let name = ((file as NSString).lastPathComponent as NSString).deletingPathExtension
        let dir = out ?? "runs/\(name)"
        // --update rewrites the script: refuse before the replay, not after it.
        let target = update ? try Self.updatableScript(file) : file
        let session = try WorkbenchSetup.makeSession(runDirectory: dir, mode: .headless,
                                                     inputDirectory: (file as NSString).deletingLastPathComponent.isEmpty
                                                         ? nil : (file as NSString).deletingLastPathComponent,
                                                     writeAnywhere: writeAnywhere, allowTrainers: allowTrainers)
        Interrupt.install()
        let echo: (String) -> Void = quiet ? { _ in } : { print($0) }
        let replayed: Script
        do {
            var replay = Replay(script: script, file: file)
            replay.comparePerCell = isNotebook
            replayed = try replay.run(in: session, verify: verify, echo: echo)
        } catch let failure as Replay.Failure {
            FileHandle.standardError.write(Data("mstar run: \(failure)\n".utf8))
            throw ExitCode(1)
        } catch is Interrupted {
            FileHandle.standardError.write(Data("mstar run: interrupted; the journal holds every completed command\n".utf8))
            throw ExitCode(130)
        }
        if update { try Replay.writeAtomically(replayed.render(), to: target) }
        if let ipynb { try Replay.writeAtomically(String(decoding: try Notebook.make(replayed, runDirectory: dir), as: UTF8.self) + "\n", to: ipynb) }
        let n = replayed.commands.count
        var summary = "mstar run: \(n) command\(n == 1 ? "" : "s") replayed into \(dir)"
        if verify { summary += "; every recorded output matches" }
        if update { summary += "; outputs updated in \(file)" }
        if let ipynb { summary += "; notebook \(ipynb)" }
        FileHandle.standardError.write(Data((summary + "\n").utf8))
    }

    /// The file `--update` writes: the script itself, or the file its symbolic link names (so the
    /// link stays a link and the real script is the one updated). A read-only script is refused: its
    /// owner marked it not to be changed.
    static func updatableScript(_ file: String) throws -> String {
        guard let real = realpath(file, nil) else { throw ValidationError("cannot update \(file): \(String(cString: strerror(errno)))") }
        defer { free(real) }
        let path = String(cString: real)
        var st = stat()
        guard stat(path, &st) == 0, st.st_mode & S_IFMT == S_IFREG else { throw ValidationError("cannot update \(file): not a regular file") }
        guard st.st_mode & 0o222 != 0 else {
            throw ValidationError("\(file) is read-only; make it writable (chmod u+w \(file)) to update it, or replay it without --update")
        }
        return path
    }
}
