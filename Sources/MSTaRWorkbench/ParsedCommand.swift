/// A command line matched to its declaration, with every argument and option typed and
/// defaults filled in: what a handler reads and what the journal records.
public struct ParsedCommand {
    /// The declaration it matched.
    public let spec: CommandSpec
    /// Values by argument or option name (absent: left out and without a default).
    public var values: [String: Value]
    /// Names of the arguments and options the user typed (the rest are defaults).
    public var given: Set<String>
    /// The command as typed.
    public var source: String
    /// Values the journal writes differently from what the handler reads (input paths made absolute).
    public var journalValues: [String: Value] = [:]

    /// A parsed command (the registry builds these; tests and handlers may too).
    public init(spec: CommandSpec, values: [String: Value], given: Set<String> = [], source: String = "") {
        self.spec = spec
        self.values = values
        self.given = given
        self.source = source
    }

    /// The command's full name.
    public var name: String { spec.name }

    /// The value of an argument or option.
    public subscript(_ name: String) -> Value? { values[name] }

    /// True when `name` has a value (given or defaulted).
    public func has(_ name: String) -> Bool { values[name] != nil }

    /// An integer argument or option that always has a value (declared with a default or required).
    public func int(_ name: String) -> Int { need(name).intValue ?? fail(name, "an int") }

    /// A number (integers convert).
    public func double(_ name: String) -> Double { need(name).doubleValue ?? fail(name, "a number") }

    /// A text, choice, path or name.
    public func string(_ name: String) -> String { need(name).stringValue ?? fail(name, "a string") }

    /// A flag or boolean (false when absent).
    public func flag(_ name: String) -> Bool { values[name]?.boolValue ?? false }

    /// An optional integer.
    public func optionalInt(_ name: String) -> Int? { values[name]?.intValue }

    /// An optional number.
    public func optionalDouble(_ name: String) -> Double? { values[name]?.doubleValue }

    /// An optional text.
    public func optionalString(_ name: String) -> String? { values[name]?.stringValue }

    /// The items of a list or variadic argument as text (empty when absent).
    public func strings(_ name: String) -> [String] { values[name]?.listValue.map(\.plain) ?? [] }

    /// The command as the journal records it: name, arguments, then options in declared order, all resolved.
    public var resolved: String {
        var words = [spec.name]
        for a in spec.arguments {
            guard let v = journalValues[a.name] ?? values[a.name] else { continue }
            if a.variadic { words += v.listValue.map(\.description) } else { words.append(v.description) }
        }
        for o in spec.options {
            guard let v = journalValues[o.name] ?? values[o.name] else { continue }
            if o.type == .flag {
                if v.boolValue == true { words.append("--\(o.name)") }
            } else {
                words.append("--\(o.name) \(v.description)")
            }
        }
        return words.joined(separator: " ")
    }

    private func need(_ name: String) -> Value {
        guard let v = values[name] else {
            preconditionFailure("'\(spec.name)' read '\(name)', which has no value: declare a default or make it required")
        }
        return v
    }

    private func fail<T>(_ name: String, _ what: String) -> T {
        preconditionFailure("'\(spec.name)' read '\(name)' as \(what), but it is \(values[name]!)")
    }
}
