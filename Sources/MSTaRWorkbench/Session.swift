import Foundation
import MSTaRTensor

/// A workbench session: commands, settings, vocabularies, named values, the seeded generator,
/// the run directory and the journal. The REPL and `mstar run` each drive one; the engine adds
/// its commands, settings, metrics and recipes with the `register` methods.
public final class Session {
    /// Interactive sessions show plots in the terminal; headless ones write files only; notebook
    /// sessions (the Jupyter kernel) write files and show them inline, with the text rendering beside.
    public enum Mode: Sendable, Equatable {
        case interactive, headless, notebook
    }

    /// Interactive (REPL), headless (replay) or notebook (Jupyter kernel).
    public let mode: Mode
    /// Where outputs go: the journal, plots/, exports, checkpoints.
    public let runDirectory: String
    /// The commands.
    public let registry = CommandRegistry()
    /// The settings.
    public let settings = Settings()
    /// The journal of completed commands.
    public private(set) var journal: Journal!
    /// Named values commands share (the task suite, the policy, results); the engine picks the names.
    public var values: [String: Any] = [:]
    /// Lines `show settings` adds after the table: state chosen by commands rather than `set`
    /// (the backend in use), by name, each asked when shown.
    public var settingsNotes: [String: (Session) -> String] = [:]
    /// The session's generator, reseeded by `seed N`; derive streams with `rng.split(_:)`.
    public var rng: RNG
    /// Commands completed since the session started, as typed.
    public private(set) var history: [String] = []
    /// The same commands as journaled (all parameters resolved).
    public private(set) var resolvedHistory: [String] = []
    /// Forced progress style (nil: a bar on a terminal, lines otherwise).
    public var progressStyle: Progress.Style?
    /// Where progress is drawn (nil: stderr); the Jupyter kernel turns it into a display updated in place.
    public var progressWriter: ((String) -> Void)?
    /// Where live logs go as they come, lines ending in a newline (an external trainer's output;
    /// nil: stderr); never recorded. The Jupyter kernel shows them as the cell's stderr stream.
    public var logWriter: ((String) -> Void)?
    /// Where gnuplot is (nil: looked up on PATH when a plot is drawn).
    public var gnuplotPath: String?
    /// The size the dumb-terminal plot fills.
    public var terminalSize: () -> TerminalSize = { TerminalSize.current() }

    private(set) var metricSpecs: [String: MetricSpec] = [:]
    private(set) var recipeEntries: [String: NamedEntry] = [:]
    private var inputDirectories: [String]
    private var depth = 0

    /// The journal file's name inside the run directory.
    public static let journalName = "session.mstar"
    /// The setting that picks the numerics mode (pinned: every journal records it).
    public static let numericsSetting = "numerics"

    /// A session writing into `runDirectory` (created when first needed); relative input paths are
    /// read from `inputDirectory` (default: the working directory). `journaling: false` keeps the
    /// journal in memory only.
    public init(runDirectory: String, mode: Mode = .headless, inputDirectory: String? = nil, journaling: Bool = true) {
        self.mode = mode
        self.runDirectory = runDirectory
        let cwd = FileManager.default.currentDirectoryPath
        let input = inputDirectory ?? cwd
        self.inputDirectories = [input.hasPrefix("/") ? input : ((cwd as NSString).appendingPathComponent(input) as NSString).standardizingPath]
        self.rng = RNG(seed: 0)
        journal = Journal(path: journaling ? (runDirectory as NSString).appendingPathComponent(Session.journalName) : nil,
                          preamble: { [unowned self] in self.pinnedPreamble() })
        BuiltinCommands.register(in: self)
        DataCommands.register(in: self)
        PlotCommand.register(in: self)
        for (name, label, summary) in MetricSpec.dynamicsColumns { register(metric: MetricSpec(name, label: label, summary: summary)) }
    }

    // MARK: registration (the engine's entry points)

    /// Adds a command (replacing one of the same name).
    public func register(_ command: CommandSpec) { registry.register(command) }

    /// Adds a setting.
    public func register(setting: SettingSpec) { settings.register(setting) }

    /// Adds a metric the plot command and completion know.
    public func register(metric: MetricSpec) { metricSpecs[metric.name] = metric }

    /// Adds a recipe name for completion and checking.
    public func register(recipe: NamedEntry) { recipeEntries[recipe.name] = recipe }

    /// The metric called `name`.
    public func metric(_ name: String) -> MetricSpec? { metricSpecs[name] }

    /// Registered recipes, sorted by name.
    public var recipes: [NamedEntry] { recipeEntries.values.sorted { $0.name < $1.name } }

    /// The words of a vocabulary, sorted.
    public func words(_ vocabulary: Vocabulary) -> [String] {
        switch vocabulary {
        case .setting: return settings.keys
        case .metric: return metricSpecs.keys.sorted()
        case .recipe: return recipeEntries.keys.sorted()
        case .command: return registry.names
        }
    }

    /// Throws when a value of a `.name` type is not in its vocabulary, naming the closest word.
    func checkNames(_ value: Value, _ type: ValueType) throws(WorkbenchError) {
        switch type {
        case .name(let vocabulary):
            let name = value.plain
            let known = words(vocabulary)
            guard !known.contains(name) else { return }
            var msg = "unknown \(vocabulary.rawValue) '\(name)'"
            if let s = Suggest.closest(to: name, in: known) { msg += "; did you mean '\(s)'?" }
            switch vocabulary {
            case .setting: msg += " (show settings lists them)"
            case .metric: msg += " (help plot lists them)"
            case .recipe: msg += known.isEmpty ? " (no recipes are registered)" : " (known: \(known.joined(separator: ", ")))"
            case .command: msg += " (help lists them)"
            }
            throw WorkbenchError(msg)
        case .list(let inner):
            for v in value.listValue { try checkNames(v, inner) }
        default:
            return
        }
    }

    // MARK: running commands

    /// Runs one command line: parse, run, journal. Never throws: failures come back as `.failed`.
    public func execute(_ text: String) -> Execution {
        let words: [Lexer.Word]
        switch Lexer.split(text) {
        case .incomplete(let reason): return Execution(status: .failed, error: "incomplete command: \(reason)")
        case .words(let w): words = w
        }
        if words.isEmpty { return Execution(status: .empty) }
        let parsed: ParsedCommand
        do { parsed = try registry.parse(words, source: text, session: self) } catch {
            return Execution(status: .failed, error: error.message)
        }
        depth += 1
        defer { depth -= 1 }
        var output: CommandOutput
        do {
            output = try parsed.spec.handler(parsed, self)
        } catch is Interrupted {
            return Execution(status: .interrupted, command: parsed)
        } catch {
            let partial = (error as? WorkbenchError)?.partialOutput ?? CommandOutput()
            return Execution(status: .failed, command: parsed, output: partial, error: Session.describe(error))
        }
        let status: Execution.Status = output.interrupted ? .interrupted : .completed
        var result = Execution(status: status, command: parsed, output: output)
        if parsed.spec.journal == .record {
            let resolved = output.journalAs ?? parsed.resolved
            do {
                try journal.record(command: resolved, output: output.recordedLines)
            } catch {
                result.status = .failed
                result.error = "the command ran, but " + Session.describe(error)
                return result
            }
            resolvedHistory.append(resolved)
        }
        history.append(text)
        return result
    }

    /// Text for any error a handler throws.
    public static func describe(_ error: any Error) -> String {
        switch error {
        case let e as WorkbenchError: return e.message
        case let e as CustomStringConvertible: return e.description
        default: return (error as NSError).localizedDescription
        }
    }

    /// Runs `body` with relative input paths read from `directory` (include uses the file's folder).
    func withInputDirectory<T>(_ directory: String, _ body: () throws -> T) rethrows -> T {
        inputDirectories.append(directory)
        defer { inputDirectories.removeLast() }
        return try body()
    }

    /// How deep include has nested.
    var includeDepth = 0

    // MARK: paths, settings, progress

    /// A path to write: relative paths are inside the run directory.
    public func outputPath(_ path: String) -> String {
        let p = (path as NSString).expandingTildeInPath
        return p.hasPrefix("/") ? p : (runDirectory as NSString).appendingPathComponent(p)
    }

    /// Whether commands may write outside the run directory (`--write-anywhere`). Off by default, so
    /// a replayed script writes only into its own run directory.
    public var writeAnywhere = false
    /// Whether commands may run external trainers and restart commands (`mstar --allow-trainers`,
    /// `mstar run --allow-trainers`): a shared script must not run programs unless its reader says so.
    public var allowTrainers = false

    /// What a command is about to write at a path.
    public enum OutputKind: Sendable {
        /// A file, written whole (replaced when it is a plain file already).
        case file
        /// A folder the command fills (data export) or swaps in (save).
        case folder
    }

    /// The files in the run directory that mstar itself keeps; no command's output may replace them.
    public static let reservedNames: Set<String> = [journalName, "dynamics.jsonl", "timings.jsonl"]

    /// Checks that a command may write `path` and returns it resolved, with its parent folder made.
    /// Refused, each with one line saying why: control characters in the name; a place outside the
    /// run directory (through `..`, an absolute path or a symbolic link) unless `writeAnywhere`;
    /// the journal and the run's own records; a symbolic link, device or FIFO at the path; a folder
    /// where a file goes or a file where a folder goes. `what` names the value in errors (`--out`).
    public func writablePath(_ path: String, _ kind: OutputKind = .file, what: String) throws -> String {
        if path.isEmpty { throw WorkbenchError("\(what) is empty; give a file name") }
        if let c = path.unicodeScalars.first(where: { $0.properties.generalCategory == .control }) {
            throw WorkbenchError("\(what) holds a control character (U+\(String(format: "%04X", c.value))); use a plain file name")
        }
        let target = Session.canonical(outputPath(path))
        let run = Session.canonical(runDirectory, resolvingLast: true)
        let inside = target == run || target.hasPrefix(run.hasSuffix("/") ? run : run + "/")
        if !writeAnywhere && !inside {
            throw WorkbenchError("\(what) \(path) is outside the run directory \(runDirectory); write inside it, "
                + "or start mstar with --write-anywhere to allow it")
        }
        if target == run || run.hasPrefix(target + "/") {
            throw WorkbenchError("\(what) \(path) is the run directory or holds it; name a path inside it")
        }
        if (target as NSString).deletingLastPathComponent == run && Session.reservedNames.contains((target as NSString).lastPathComponent) {
            throw WorkbenchError("\(what) \(path) is the run's own \((target as NSString).lastPathComponent), which mstar keeps; choose another name")
        }
        var st = stat()
        if lstat(target, &st) == 0 {
            let type = st.st_mode & S_IFMT
            switch (kind, type) {
            case (.file, S_IFREG), (.folder, S_IFDIR): break
            case (_, S_IFLNK): throw WorkbenchError("\(what) \(path) is a symbolic link; mstar writes only plain files and folders it can see")
            case (.file, S_IFDIR): throw WorkbenchError("\(what) \(path) is a folder; give a file name")
            case (.folder, S_IFREG): throw WorkbenchError("\(what) \(path) is a file; give a folder name")
            default: throw WorkbenchError("\(what) \(path) is not a plain file (a device, FIFO or socket)")
            }
        }
        do {
            try FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        } catch {
            throw WorkbenchError("cannot write \(path): \((error as NSError).localizedDescription)")
        }
        return target
    }

    /// Checks that `path` can be a run directory: new, empty, or one an earlier mstar run wrote (its
    /// journal starts with the journal header). Anything else is someone's folder, and a session
    /// there would truncate or replace what it holds.
    public static func checkRunDirectory(_ path: String) throws {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        guard st.st_mode & S_IFMT == S_IFDIR else { throw WorkbenchError("the run directory \(path) exists and is not a folder; use --out NEW") }
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        if entries.isEmpty { return }
        let journal = (path as NSString).appendingPathComponent(journalName)
        if let head = try? InputFile.read(journal, limit: InputFile.scriptLimit),
           String(decoding: head.prefix(Journal.header[0].utf8.count), as: UTF8.self) == Journal.header[0] { return }
        throw WorkbenchError("the run directory \(path) holds files but no mstar journal; a session would write over them: use --out NEW")
    }

    /// `path` absolute, with `.`, `..` and the symbolic links of its existing part resolved, so that
    /// a link inside the run directory cannot lead a write outside it.
    static func canonical(_ path: String, resolvingLast: Bool = false) -> String {
        let absolute = path.hasPrefix("/") ? path : (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(path)
        var parts = (absolute as NSString).pathComponents.filter { $0 != "/" && $0 != "." }
        var resolved = "/"
        while !parts.isEmpty {
            let part = parts.removeFirst()
            if part == ".." { resolved = (resolved as NSString).deletingLastPathComponent; continue }
            let next = (resolved as NSString).appendingPathComponent(part)
            // Links are followed where they exist (not the last part: that is what gets written and
            // is checked itself); a missing part ends the resolution.
            if !parts.isEmpty || resolvingLast, let real = realpath(next, nil) {
                resolved = String(cString: real)
                free(real)
            } else {
                resolved = next
            }
        }
        return resolved
    }

    /// A path to read: relative paths are from the current script's folder (the working directory at the REPL).
    public func inputPath(_ path: String) -> String {
        let p = (path as NSString).expandingTildeInPath
        return p.hasPrefix("/") ? p : ((inputDirectories.last! as NSString).appendingPathComponent(p) as NSString).standardizingPath
    }


    /// Sets a setting from text, runs its change hook, and returns the stored value.
    @discardableResult
    public func set(_ key: String, text: String) throws -> Value {
        let old = settings.value(key)
        let v = try settings.set(key, text: text)
        if let hook = settings.spec(key)?.onChange {
            do { try hook(v, self) } catch {
                if let old { try? settings.set(key, old) }  // a failed change leaves the old value
                throw error
            }
        }
        return v
    }

    /// The session seed (the `seed` setting).
    public var seed: UInt64 { UInt64(settings.int("seed")) }

    /// A progress reporter in the session's style.
    public func progress(_ label: String, total: Int, unit: String = "it") -> Progress {
        Progress(label, total: total, unit: unit, style: progressStyle, write: progressWriter)
    }

    /// The `set KEY VALUE` lines pinned settings put at the top of the journal.
    private func pinnedPreamble() -> [(command: String, output: [OutputLine])] {
        settings.keys.compactMap { key in
            guard let spec = settings.spec(key), spec.pinned, let v = settings.value(key) else { return nil }
            return ("set \(key) \(v.description)", [OutputLine(text: "\(key) = \(v.plain)", volatile: false)])
        }
    }
}
