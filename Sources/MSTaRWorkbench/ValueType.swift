import MSTaRTensor
import Foundation

/// The type of an argument, option or setting: how its text is read, checked and completed.
public indirect enum ValueType: Sendable, Equatable {
    /// A whole number.
    case int
    /// A finite real number.
    case double
    /// Any text.
    case string
    /// true/false (also on/off, yes/no, 1/0).
    case bool
    /// An option that takes no value: present means true.
    case flag
    /// One of a fixed set of words.
    case choice([String])
    /// A file or folder to read: relative to the script's folder (the working directory at the
    /// prompt), and journaled as an absolute path so the journal replays from anywhere.
    case path
    /// A file or folder to write: relative to the run directory, and journaled as typed.
    case outputPath
    /// A name from one of the session's registrable vocabularies (setting keys, metrics, recipes...).
    case name(Vocabulary)
    /// Comma-separated values of one type ("1,2,4").
    case list(ValueType)

    /// The word `help` shows for a value of this type.
    public var placeholder: String {
        switch self {
        case .int: return "N"
        case .double: return "X"
        case .string: return "TEXT"
        case .bool: return "true|false"
        case .flag: return ""
        case .choice(let words): return words.joined(separator: "|")
        case .path, .outputPath: return "FILE"
        case .name(let v): return v.placeholder
        case .list(let t): return "\(t.placeholder),..."
        }
    }

    /// What a value of this type looks like, for error messages.
    public var expectation: String {
        switch self {
        case .int: return "a whole number, e.g. 16"
        case .double: return "a number, e.g. 0.7"
        case .string: return "text"
        case .bool: return "true or false"
        case .flag: return "no value"
        case .choice(let words): return "one of " + words.joined(separator: ", ")
        case .path, .outputPath: return "a path"
        case .name(let v): return "a \(v.noun)"
        case .list(let t): return "comma-separated values, each \(t.expectation)"
        }
    }

    /// Reads `text` as a value of this type, or throws an error that says what was expected.
    /// Vocabulary names are checked by the session, which knows the registered words.
    public func parse(_ text: String) throws(ValueError) -> Value {
        switch self {
        case .int:
            guard let v = Int(text) else { throw ValueError(text: text, expected: expectation) }
            return .int(v)
        case .double:
            guard let v = Double(text), v.isFinite else { throw ValueError(text: text, expected: expectation) }
            return .double(v)
        case .string, .path, .outputPath, .name:
            return .string(text)
        case .bool, .flag:
            switch text.lowercased() {
            case "true", "on", "yes", "1": return .bool(true)
            case "false", "off", "no", "0": return .bool(false)
            default: throw ValueError(text: text, expected: ValueType.bool.expectation)
            }
        case .choice(let words):
            guard words.contains(text) else {
                throw ValueError(text: text, expected: expectation, suggestion: Suggest.closest(to: text, in: words))
            }
            return .string(text)
        case .list(let t):
            var items: [Value] = []
            for part in text.split(separator: ",", omittingEmptySubsequences: false) {
                let item = part.trimmingCharacters(in: .whitespaces)
                guard !item.isEmpty else { throw ValueError(text: text, expected: expectation) }
                items.append(try t.parse(item))
            }
            return .list(items)
        }
    }
}

/// A registrable list of names that values can be checked and completed against.
public enum Vocabulary: String, Sendable, Equatable, CaseIterable {
    /// Keys of the session's settings.
    case setting
    /// Metric names (dynamics columns the plot command knows).
    case metric
    /// Recipe names.
    case recipe
    /// Command names.
    case command

    var placeholder: String { rawValue.uppercased() }
    var noun: String { rawValue + " name" }
}

/// A value's text did not fit its type.
public struct ValueError: Error, Sendable, Equatable {
    /// The text as given.
    public var text: String
    /// What was expected instead.
    public var expected: String
    /// A close valid word, if there is one.
    public var suggestion: String? = nil
}
