/// The text of `help` and `help COMMAND`, generated from the command declarations.
public enum Help {
    /// Groups in the order `help` lists them; others follow alphabetically.
    public static let groupOrder = ["session", "data", "model", "method", "evaluation", "plots"]

    /// The list of commands by group, one line each.
    public static func overview(_ registry: CommandRegistry) -> [String] {
        let commands = registry.all()
        let groups = Set(commands.map(\.group)).sorted { a, b in
            let (i, j) = (groupOrder.firstIndex(of: a) ?? groupOrder.count, groupOrder.firstIndex(of: b) ?? groupOrder.count)
            return i != j ? i < j : a < b
        }
        let width = min(24, (commands.map(\.name.count).max() ?? 0) + 2)
        var lines = ["commands (help COMMAND for its options):"]
        for g in groups {
            lines.append("\(g):")
            for c in commands where c.group == g {
                lines.append("  " + pad(c.name, width) + c.summary)
            }
        }
        return lines
    }

    /// Everything about one command: summary, usage, arguments, options with defaults, discussion.
    public static func command(_ spec: CommandSpec, session: Session) -> [String] {
        var lines = ["\(spec.name): \(spec.summary)", "usage: \(spec.usage)"]
        let rows: [(String, String)] =
            spec.arguments.map { a in (a.name.uppercased() + (a.variadic ? "..." : ""), a.help + describe(a.defaultValue, a.type, session)) }
            + spec.options.map { o in
                (o.type == .flag ? "--\(o.name)" : "--\(o.name) \(o.type.placeholder)",
                 o.help + (o.type == .flag ? "" : describe(o.defaultValue, o.type, session)))
            }
        if !rows.isEmpty {
            let width = min(28, rows.map(\.0.count).max()! + 2)
            for (left, right) in rows {
                lines.append(left.count + 2 > width ? "  \(left)\n  " + pad("", width) + right : "  " + pad(left, width) + right)
            }
        }
        if !spec.discussion.isEmpty { lines += [""] + spec.discussion.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) }
        return lines.flatMap { $0.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) }
    }

    /// The commands under a group word (`help data`).
    public static func group(_ prefix: String, _ registry: CommandRegistry) -> [String] {
        let subs = registry.all().filter { $0.name.hasPrefix(prefix + " ") }
        let width = min(24, (subs.map(\.name.count).max() ?? 0) + 2)
        return ["\(prefix) commands (help \(prefix) SUBCOMMAND for its options):"] + subs.map { "  " + pad($0.name, width) + $0.summary }
    }

    private static func describe(_ d: DefaultValue, _ type: ValueType, _ session: Session) -> String {
        switch d {
        case .required: return " (required)"
        case .none: return ""
        case .value(let v): return " (default \(v.plain))"
        case .setting(let key):
            let now = session.settings.value(key).map { ", now \($0.plain)" } ?? ""
            return " (default: setting \(key)\(now))"
        }
    }

    static func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count)
    }
}
