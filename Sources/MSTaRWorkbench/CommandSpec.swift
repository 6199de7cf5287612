/// Where an option's value comes from when the command line does not give one.
public enum DefaultValue: Sendable {
    /// The option must be given.
    case required
    /// The option may be left out, and then has no value.
    case none
    /// A fixed value.
    case value(Value)
    /// The current value of a setting (resolved when the command runs, so the journal records it).
    case setting(String)
}

/// A named option of a command: `--name VALUE`, or `--name` alone for a flag.
public struct OptionSpec: Sendable {
    /// The name without the leading dashes.
    public var name: String
    /// The value's type.
    public var type: ValueType
    /// Where the value comes from when the option is left out.
    public var defaultValue: DefaultValue
    /// One line for `help COMMAND`.
    public var help: String
    /// The values a number may take (checked as the command is parsed, so no handler sees another).
    public var range: ClosedRange<Double>?

    /// An option `--name` of `type`; flags default to false.
    public init(_ name: String, _ type: ValueType, default defaultValue: DefaultValue? = nil, range: ClosedRange<Double>? = nil,
                help: String) {
        self.name = name
        self.type = type
        self.defaultValue = defaultValue ?? (type == .flag ? .value(.bool(false)) : .none)
        self.range = range
        self.help = help
    }
}

/// A positional argument of a command.
public struct ArgumentSpec: Sendable {
    /// The name shown in usage and used to read the value.
    public var name: String
    /// The value's type.
    public var type: ValueType
    /// Where the value comes from when it is left out (.required: must be given).
    public var defaultValue: DefaultValue
    /// True for the last argument when it takes all remaining words (a list).
    public var variadic: Bool
    /// One line for `help COMMAND`.
    public var help: String
    /// The values a number may take.
    public var range: ClosedRange<Double>?

    /// A positional argument.
    public init(_ name: String, _ type: ValueType, default defaultValue: DefaultValue = .required,
                variadic: Bool = false, range: ClosedRange<Double>? = nil, help: String) {
        self.name = name
        self.type = type
        self.defaultValue = defaultValue
        self.variadic = variadic
        self.range = range
        self.help = help
    }
}

/// How a completed command goes into the journal.
public enum JournalPolicy: Sendable {
    /// The command with every parameter resolved, and its output.
    case record
    /// Not recorded (quit; include, whose commands are recorded one by one instead).
    case skip
}

/// What runs a command: the parsed, resolved command and the session it runs in.
public typealias CommandHandler = (ParsedCommand, Session) throws -> CommandOutput

/// A command's declaration: name, documentation, arguments, options and handler.
/// `help`, parsing, defaults, completion and the journal are all derived from it.
public struct CommandSpec {
    /// The full name, one or more words ("step", "data show", "show settings").
    public var name: String
    /// The group `help` lists it under ("session", "data", "plots", "method", ...).
    public var group: String
    /// One line for the `help` listing.
    public var summary: String
    /// Paragraphs for `help COMMAND` (may be empty).
    public var discussion: String
    /// Positional arguments, in order.
    public var arguments: [ArgumentSpec]
    /// Named options.
    public var options: [OptionSpec]
    /// Whether and how it is journaled.
    public var journal: JournalPolicy
    /// Hidden commands run but are left out of `help` and completion (test helpers).
    public var hidden: Bool
    /// What it does.
    public var handler: CommandHandler

    /// A command declaration.
    public init(_ name: String, group: String, summary: String, discussion: String = "",
                arguments: [ArgumentSpec] = [], options: [OptionSpec] = [],
                journal: JournalPolicy = .record, hidden: Bool = false, handler: @escaping CommandHandler) {
        self.name = name
        self.group = group
        self.summary = summary
        self.discussion = discussion
        self.arguments = arguments
        self.options = options
        self.journal = journal
        self.hidden = hidden
        self.handler = handler
    }

    /// The option called `name`, if declared.
    public func option(_ name: String) -> OptionSpec? { options.first { $0.name == name } }

    /// `name ARG [ARG2] [--opt V] ...` as `help` shows it.
    public var usage: String {
        var parts = [name]
        for a in arguments {
            var s = a.name.uppercased()
            if a.variadic { s += "..." }
            if case .required = a.defaultValue { parts.append(s) } else { parts.append("[\(s)]") }
        }
        for o in options {
            let v = o.type == .flag ? "--\(o.name)" : "--\(o.name) \(o.type.placeholder)"
            if case .required = o.defaultValue { parts.append(v) } else { parts.append("[\(v)]") }
        }
        return parts.joined(separator: " ")
    }
}
