import ArgumentParser
import Foundation
import MSTaRKernel
import MSTaRWorkbench

/// `mstar kernel --connection-file F`: the Jupyter kernel; `mstar kernel install`: its kernelspec.
struct KernelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernel",
        abstract: "The Jupyter kernel: cells run the command language in one workbench session (docs/kernel.md).",
        discussion: """
        Jupyter starts it from the kernelspec `mstar kernel install` writes. Each kernel journals to its own run
        directory, runs/kernel-<date>-<time> in the notebook's folder unless --out names one; replay the journal
        (or the saved notebook) with `mstar run ... --verify`. The safety rules of `mstar run` hold for cells.
        """,
        subcommands: [KernelInstall.self])

    // Optional to the parser only: a required option here would be required of `kernel install` too.
    @Option(help: "The connection file Jupyter writes ({connection_file} in kernel.json); required to run the kernel.")
    var connectionFile: String?

    @Option(help: "Run directory (default: runs/kernel-<date>-<time>, numbered when taken).")
    var out: String?

    @Flag(help: "Let cells write outside the run directory (save, plot --out, data export).")
    var writeAnywhere = false

    @Flag(help: "Let cells run an external trainer (TRL, LLaMA-Factory, ms-swift, a command) and a server restart command.")
    var allowTrainers = false

    func run() throws {
        guard let connectionFile else {
            throw ValidationError("mstar kernel needs --connection-file FILE (Jupyter passes it); to make Jupyter find the kernel, run mstar kernel install --user")
        }
        let connection: ConnectionInfo
        do { connection = try ConnectionInfo(file: connectionFile) } catch { throw ValidationError(error.message) }
        let dir = try out ?? Self.claimRunDirectory()
        let session = try WorkbenchSetup.makeSession(runDirectory: dir, mode: .notebook, writeAnywhere: writeAnywhere, allowTrainers: allowTrainers)
        let journal = (dir as NSString).appendingPathComponent(Session.journalName)
        let identity = Kernel.Identity(
            version: String(Mstar.version.prefix { $0 != "\n" }),
            banner: "mstar \(Mstar.version.replacingOccurrences(of: "\n", with: "; "))\njournal: \(journal)\nhelp lists the commands; Tab completes; Shift-Tab shows help.")
        let kernel: Kernel
        do { kernel = try Kernel(connection: connection, session: session, identity: identity) } catch { throw ValidationError(error.message) }
        FileHandle.standardError.write(Data("mstar kernel: journal \(journal)\n".utf8))
        kernel.run()
    }

    /// A new run directory runs/kernel-<date>-<time>[-N]: made here, so two kernels started in the
    /// same second in one folder never share a journal.
    static func claimRunDirectory() throws -> String {
        try? FileManager.default.createDirectory(atPath: "runs", withIntermediateDirectories: true)
        let base = "runs/kernel-" + ReplCommand.stamp()
        for n in 1...1000 {
            let dir = n == 1 ? base : "\(base)-\(n)"
            if mkdir(dir, 0o755) == 0 { return dir }
            guard errno == EEXIST else { throw ValidationError("cannot make the run directory \(dir): \(String(cString: strerror(errno))); give --out DIR") }
        }
        throw ValidationError("every run directory \(base)-N is taken; give --out DIR")
    }
}

/// `mstar kernel install`: writes the kernelspec that makes `mstar` a kernel in Jupyter.
struct KernelInstall: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "install",
        abstract: "Write the kernelspec (kernel.json and logos) that Jupyter starts the mstar kernel from.",
        discussion: """
        The kernelspec runs this mstar binary. Check with `jupyter kernelspec list`. Reinstalling replaces the
        kernelspec's files; a folder holding another kernel's kernel.json is refused.
        """)

    @Flag(help: "Install for this user ($JUPYTER_DATA_DIR, else ~/.local/share/jupyter) instead of system-wide.")
    var user = false

    @Option(help: "Install under this prefix (PREFIX/share/jupyter/kernels), e.g. a virtual environment's.")
    var prefix: String?

    @Option(help: "The kernel's name (notebooks record it).")
    var name = "mstar"

    @Option(help: "The name Jupyter shows.")
    var displayName = "mstar"

    @Flag(help: "Let the kernel's cells run external trainers and restart commands (--allow-trainers on every start).")
    var allowTrainers = false

    @Flag(help: "Let the kernel's cells write outside their run directory (--write-anywhere on every start).")
    var writeAnywhere = false

    func run() throws {
        let exe = Self.executablePath()
        let folder: String
        do {
            folder = try KernelSpec.install(name: name, displayName: displayName, executable: exe,
                                            arguments: (allowTrainers ? ["--allow-trainers"] : []) + (writeAnywhere ? ["--write-anywhere"] : []),
                                            user: user, prefix: prefix)
        } catch { throw ValidationError(error.message) }
        print("installed kernelspec \(name) in \(folder) (runs \(exe))")
    }

    /// This binary's absolute path (/proc/self/exe), so the kernelspec works from any folder.
    static func executablePath() -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink("/proc/self/exe", &buffer, Int(PATH_MAX))
        if n > 0 { return String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) }
        let arg0 = CommandLine.arguments[0]
        return arg0.hasPrefix("/") ? arg0 : (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(arg0)
    }
}
