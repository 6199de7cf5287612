import MSTaRTensor

/// The commands a session knows, and the parser that matches a line to one of them.
public final class CommandRegistry {
    private var specs: [String: CommandSpec] = [:]

    /// An empty registry.
    public init() {}

    /// Adds `spec`, replacing a command of the same name (the engine may refine a built-in).
    public func register(_ spec: CommandSpec) { specs[spec.name] = spec }

    /// The command called `name`.
    public func spec(_ name: String) -> CommandSpec? { specs[name] }

    /// Every command, sorted by name (hidden ones only with `includingHidden`).
    public func all(includingHidden: Bool = false) -> [CommandSpec] {
        specs.values.filter { includingHidden || !$0.hidden }.sorted { $0.name < $1.name }
    }

    /// Visible command names, sorted.
    public var names: [String] { all().map(\.name) }

    /// Names of the commands under a group word ("data" -> data export, data generate, data show).
    public func subcommands(of prefix: String) -> [String] { names.filter { $0.hasPrefix(prefix + " ") } }

    /// Finds the command the leading words name (the longest match); returns it and how many words it used.
    public func match(_ words: [String]) throws(WorkbenchError) -> (CommandSpec, Int) {
        for n in stride(from: min(3, words.count), through: 1, by: -1) {
            if let s = specs[words[0..<n].joined(separator: " ")] { return (s, n) }
        }
        let first = words[0]
        let subs = subcommands(of: first)
        if !subs.isEmpty {
            if words.count == 1 {
                throw WorkbenchError("'\(first)' needs a subcommand: \(subs.joined(separator: ", ")) (help \(first))")
            }
            let tails = subs.map { String($0.dropFirst(first.count + 1)) }
            var msg = "unknown subcommand '\(words[1])' of '\(first)'"
            if let s = Suggest.closest(to: words[1], in: tails) { msg += "; did you mean '\(first) \(s)'?" }
            else { msg += "; use one of \(subs.joined(separator: ", "))" }
            throw WorkbenchError(msg)
        }
        var firstWords = Set(names.map { String($0.split(separator: " ")[0]) })
        firstWords.formUnion(names)
        var msg = "unknown command '\(first)'"
        if let s = Suggest.closest(to: first, in: firstWords.sorted()) { msg += "; did you mean '\(s)'?" }
        else { msg += " (help lists the commands)" }
        throw WorkbenchError(msg)
    }

    /// Parses the words of one command line, types every value and fills in defaults from `session`.
    public func parse(_ words: [Lexer.Word], source: String, session: Session) throws(WorkbenchError) -> ParsedCommand {
        precondition(!words.isEmpty, "parse needs at least one word")
        let (spec, used) = try match(words.map(\.text))
        var values: [String: Value] = [:]
        var given: Set<String> = []
        var positional: [String] = []
        var i = used, optionsDone = false
        let seeHelp = "(help \(spec.name))"

        while i < words.count {
            let w = words[i]
            i += 1
            if !optionsDone && !w.quoted && w.text == "--" { optionsDone = true; continue }
            guard !optionsDone, !w.quoted, w.text.hasPrefix("--"), w.text.count > 2 else {
                positional.append(w.text)
                continue
            }
            var name = String(w.text.dropFirst(2))
            var inline: String? = nil
            if let eq = name.firstIndex(of: "=") {
                inline = String(name[name.index(after: eq)...])
                name = String(name[..<eq])
            }
            guard let opt = spec.option(name) else {
                var msg = "unknown option '--\(name)' for '\(spec.name)'"
                if let s = Suggest.closest(to: name, in: spec.options.map(\.name)) { msg += "; did you mean '--\(s)'?" }
                else if spec.options.isEmpty { msg += "; it takes no options" }
                throw WorkbenchError(msg + " " + seeHelp)
            }
            if given.contains(name) { throw WorkbenchError("--\(name) given twice for '\(spec.name)'") }
            let text: String
            if opt.type == .flag {
                text = inline ?? "true"
            } else if let inline {
                text = inline
            } else {
                guard i < words.count, words[i].quoted || !words[i].text.hasPrefix("--") else {
                    throw WorkbenchError("--\(name) of '\(spec.name)' needs a value: --\(name) \(opt.type.placeholder)")
                }
                text = words[i].text
                i += 1
            }
            values[name] = try typed(text, opt.type, what: "--\(name) of '\(spec.name)'", range: opt.range, session: session)
            given.insert(name)
        }

        var p = 0
        for a in spec.arguments {
            if a.variadic {
                let rest = Array(positional[min(p, positional.count)...])
                p = positional.count
                if !rest.isEmpty {
                    var items: [Value] = []
                    for r in rest { items.append(try typed(r, a.type, what: "\(a.name.uppercased()) of '\(spec.name)'", range: a.range, session: session)) }
                    values[a.name] = .list(items)
                    given.insert(a.name)
                }
            } else if p < positional.count {
                values[a.name] = try typed(positional[p], a.type, what: "\(a.name.uppercased()) of '\(spec.name)'", range: a.range, session: session)
                given.insert(a.name)
                p += 1
            }
        }
        if p < positional.count {
            let extra = positional[p...].joined(separator: " ")
            let n = spec.arguments.count
            let takes = n == 0 ? "takes no arguments" : "takes \(n) argument\(n == 1 ? "" : "s")"
            throw WorkbenchError("'\(spec.name)' \(takes); unexpected '\(extra)' (usage: \(spec.usage))")
        }

        // Defaults, resolved now so the journal records the values actually used.
        for (name, type, def) in spec.arguments.map({ ($0.name, $0.type, $0.defaultValue) })
            + spec.options.map({ ($0.name, $0.type, $0.defaultValue) }) where values[name] == nil {
            switch def {
            case .required:
                let what = spec.arguments.contains { $0.name == name } ? name.uppercased() : "--\(name) \(type.placeholder)"
                throw WorkbenchError("'\(spec.name)' needs \(what) (usage: \(spec.usage))")
            case .none:
                break
            case .value(let v):
                values[name] = v
            case .setting(let key):
                if let v = session.settings.value(key) { values[name] = coerce(v, to: type) }
            }
        }
        var parsed = ParsedCommand(spec: spec, values: values, given: given, source: source)
        for (name, type) in spec.arguments.map({ ($0.name, $0.type) }) + spec.options.map({ ($0.name, $0.type) }) {
            if let v = values[name], let absolute = absolutePaths(v, type, session) { parsed.journalValues[name] = absolute }
        }
        return parsed
    }

    /// Reads `text` as `type`, checking numbers against `range` and vocabulary names against the session.
    private func typed(_ text: String, _ type: ValueType, what: String, range: ClosedRange<Double>?,
                       session: Session) throws(WorkbenchError) -> Value {
        let value: Value
        do { value = try type.parse(text) } catch {
            var msg = "bad value '\(text)' for \(what): expected \(error.expected)"
            if let s = error.suggestion { msg += "; did you mean '\(s)'?" }
            throw WorkbenchError(msg)
        }
        if let range, let x = value.doubleValue, !range.contains(x) {
            func g(_ b: Double) -> String { b == b.rounded() && abs(b) < 1e15 ? String(Int(b)) : "\(b)" }
            throw WorkbenchError("\(what) must be from \(g(range.lowerBound)) to \(g(range.upperBound)); got \(text)")
        }
        try session.checkNames(value, type)
        return value
    }

    /// Input paths as absolute paths, for the journal.
    private func absolutePaths(_ v: Value, _ type: ValueType, _ session: Session) -> Value? {
        switch type {
        case .path: return .string(session.inputPath(v.plain))
        case .list(.path): return .list(v.listValue.map { .string(session.inputPath($0.plain)) })
        default: return nil
        }
    }

    private func coerce(_ v: Value, to type: ValueType) -> Value {
        if type == .double, let d = v.doubleValue { return .double(d) }
        return v
    }
}
