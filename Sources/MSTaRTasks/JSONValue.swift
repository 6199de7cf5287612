import Foundation

/// A JSON value read loosely and checked where it is used: dataset records (the layouts disagree
/// on types: an answer is a string in MathVista, a letter in M3CoT, an index in ScienceQA) and
/// trainer configurations, whose own settings are written back into generated files.
public enum JSONValue: Sendable, Equatable, Decodable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        // Bool first: JSON's true is not the number 1.
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let d = try? c.decode(Double.self) { self = .number(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    /// A string, number or boolean as text (whole numbers without ".0"); nil for the rest.
    public var text: String? {
        switch self {
        case .string(let s): return s
        case .number(let d):
            if d == d.rounded(), abs(d) < 1e15 { return String(Int(d)) }
            return String(d)
        case .bool(let b): return String(b)
        default: return nil
        }
    }

    /// The object's fields, or nil.
    public var object: [String: JSONValue]? {
        if case .object(let o) = self { return o }
        return nil
    }

    /// The strings of an array of strings, else nil.
    public var strings: [String]? {
        guard case .array(let a) = self else { return nil }
        let s = a.compactMap { v -> String? in if case .string(let x) = v { return x } else { return nil } }
        return s.count == a.count ? s : nil
    }

    /// The value in JSON, keys sorted: also a YAML flow scalar or collection with the same value.
    public var json: String {
        switch self {
        case .string(let s):
            let d = (try? JSONSerialization.data(withJSONObject: s, options: [.fragmentsAllowed, .withoutEscapingSlashes])) ?? Data("\"\"".utf8)
            return String(decoding: d, as: UTF8.self)
        case .number, .bool: return text!
        case .null: return "null"
        case .array(let a): return "[" + a.map(\.json).joined(separator: ", ") + "]"
        case .object(let o): return "{" + o.keys.sorted().map { JSONValue.string($0).json + ": " + o[$0]!.json }.joined(separator: ", ") + "}"
        }
    }
}
