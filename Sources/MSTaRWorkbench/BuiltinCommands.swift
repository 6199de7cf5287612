import Foundation
import MSTaRTensor

/// The session commands every workbench has: help, history, set, show settings, seed, include,
/// save session, quit (and `sleep`, a test helper, when MSTAR_TEST_COMMANDS is set).
enum BuiltinCommands {
    static func register(in session: Session) {
        session.register(setting: SettingSpec(
            "seed", .int, default: .int(0),
            summary: "session seed: data, sampling and training streams derive from it",
            validate: Check.atLeast(0),
            onChange: { v, s in s.rng = RNG(seed: UInt64(v.intValue!)) }))

        session.register(CommandSpec(
            "help", group: "session", summary: "list the commands, or describe one",
            arguments: [ArgumentSpec("command", .string, default: .none, variadic: true, help: "a command name")]
        ) { cmd, s in
            let words = cmd.strings("command")
            if words.isEmpty { return CommandOutput(lines: Help.overview(s.registry)) }
            let (spec, used) = try s.registry.match(words)
            if used < words.count { throw WorkbenchError("'\(spec.name)' has no subcommand '\(words[used...].joined(separator: " "))'") }
            return CommandOutput(lines: Help.command(spec, session: s))
        }.withGroupHelp())

        session.register(CommandSpec(
            "history", group: "session", summary: "the commands completed since the prompt started",
            options: [OptionSpec("resolved", .flag, help: "show them as journaled, every parameter resolved")]
        ) { cmd, s in
            let list = cmd.flag("resolved") ? s.resolvedHistory : s.history
            if list.isEmpty { return CommandOutput(lines: ["(no commands yet)"]) }
            let width = String(list.count).count
            return CommandOutput(lines: list.enumerated().map { i, c in
                String(repeating: " ", count: width - String(i + 1).count) + "\(i + 1)  " + c
            })
        })

        session.register(CommandSpec(
            "set", group: "session", summary: "change a setting: set KEY VALUE",
            discussion: "show settings lists every key with its value and default.",
            arguments: [ArgumentSpec("key", .name(.setting), help: "the setting"),
                        ArgumentSpec("value", .string, help: "its new value")]
        ) { cmd, s in
            let key = cmd.string("key")
            let v = try s.set(key, text: cmd.string("value"))
            return CommandOutput(lines: ["\(key) = \(v.plain)"])
        })

        session.register(CommandSpec(
            "show settings", group: "session", summary: "every setting with its value and default (* = changed)"
        ) { _, s in
            let keys = s.settings.keys
            let kw = max(7, (keys.map(\.count).max() ?? 0) + 2)
            let values = keys.map { s.settings.value($0)!.plain }
            let defaults = keys.map { s.settings.spec($0)!.defaultValue.plain }
            let vw = max(7, (values.map(\.count).max() ?? 0) + 2)
            let dw = max(9, (defaults.map(\.count).max() ?? 0) + 2)
            var lines = ["  " + Help.pad("setting", kw) + Help.pad("value", vw) + Help.pad("default", dw) + "description"]
            for (i, k) in keys.enumerated() {
                let changed = values[i] != defaults[i] ? "* " : "  "
                lines.append(changed + Help.pad(k, kw) + Help.pad(values[i], vw) + Help.pad(defaults[i], dw) + s.settings.spec(k)!.summary)
            }
            let notes = s.settingsNotes.keys.sorted().map { s.settingsNotes[$0]!(s) }
            var out = CommandOutput(lines: lines + notes)
            out.html = HTMLTable.render(header: ["", "setting", "value", "default", "description"],
                                        rows: keys.indices.map { i in [values[i] != defaults[i] ? "*" : "", keys[i], values[i], defaults[i], s.settings.spec(keys[i])!.summary] },
                                        notes: notes)
            return out
        })

        session.register(CommandSpec(
            "seed", group: "session", summary: "set the session seed and restart its random streams",
            arguments: [ArgumentSpec("n", .int, help: "the seed (0 or more)")]
        ) { cmd, s in
            let v = try s.set("seed", text: String(cmd.int("n")))
            return CommandOutput(lines: ["seed = \(v.plain)"])
        })

        session.register(CommandSpec(
            "include", group: "session", summary: "run the commands of a script file here",
            discussion: "Relative paths are read from the including script's folder (the working directory at the prompt).\nThe included commands are journaled one by one.",
            arguments: [ArgumentSpec("file", .path, help: "a .mstar script")],
            journal: .skip
        ) { cmd, s in try include(cmd.string("file"), session: s) })

        session.register(CommandSpec(
            "save session", group: "session", summary: "write this session's journal as a replayable script",
            arguments: [ArgumentSpec("file", .outputPath, help: "where (relative paths: inside the run directory)")]
        ) { cmd, s in
            let file = cmd.string("file")
            try Data(s.journal.text.utf8).write(to: URL(fileURLWithPath: try s.writablePath(file, what: "FILE")), options: .atomic)
            let n = s.journal.entries
            return CommandOutput(lines: ["saved \(n) command\(n == 1 ? "" : "s") to \(file)"])
        })

        session.register(CommandSpec(
            "quit", group: "session", summary: "end the session (Ctrl-D does the same)", journal: .skip
        ) { _, _ in CommandOutput(quit: true) })

        if ProcessInfo.processInfo.environment["MSTAR_TEST_COMMANDS"] != nil {
            session.register(CommandSpec(
                "sleep", group: "session", summary: "wait, polling for Ctrl-C (a test helper)",
                arguments: [ArgumentSpec("seconds", .double, help: "how long")], hidden: true
            ) { cmd, s in
                let ticks = Int(cmd.double("seconds") * 20)
                let bar = s.progress("sleep", total: ticks, unit: "tick")
                for _ in 0..<ticks {
                    try Interrupt.check()
                    usleep(50_000)
                    bar.advance()
                }
                bar.finish()
                return CommandOutput(lines: ["slept \(formatNumber(cmd.double("seconds"))) s"])
            })
        }
    }

    /// Runs every command of a script file; stops at the first failure, naming FILE:LINE.
    static func include(_ file: String, session s: Session) throws -> CommandOutput {
        guard s.includeDepth < 16 else { throw WorkbenchError("include nests more than 16 deep (does \(file) include itself?)") }
        let path = s.inputPath(file)
        let text: String
        do { text = try InputFile.text(path, limit: InputFile.scriptLimit) } catch {
            throw WorkbenchError("cannot include \(file): \(error)")
        }
        s.includeDepth += 1
        defer { s.includeDepth -= 1 }
        var out = CommandOutput()
        try s.journal.note("include \(file)")
        try s.withInputDirectory((path as NSString).deletingLastPathComponent) {
            for (_, command) in Script.parse(text).commands {
                let result = s.execute(command.text)
                out.append(result.output)
                switch result.status {
                case .failed: throw WorkbenchError("\(file):\(command.line): \(result.error ?? "failed")", partialOutput: out)
                case .interrupted: throw Interrupted()
                case .completed, .empty: break
                }
            }
        }
        return out
    }
}

extension CommandSpec {
    /// `help data` lists the data subcommands even though "data" alone is not a command.
    fileprivate func withGroupHelp() -> CommandSpec {
        var spec = self
        let inner = handler
        spec.handler = { cmd, s in
            let words = cmd.strings("command")
            if words.count == 1, s.registry.spec(words[0]) == nil, !s.registry.subcommands(of: words[0]).isEmpty {
                return CommandOutput(lines: Help.group(words[0], s.registry))
            }
            return try inner(cmd, s)
        }
        return spec
    }
}
