import Foundation
import MSTaRTensor

/// A typed value of a command argument, option or setting.
public enum Value: Equatable, Sendable, CustomStringConvertible {
    case int(Int)
    case double(Double)
    case string(String)
    case bool(Bool)
    case list([Value])

    /// The integer, if this is one.
    public var intValue: Int? { if case .int(let v) = self { return v } else { return nil } }

    /// The number as a Double (integers convert).
    public var doubleValue: Double? {
        switch self {
        case .double(let v): return v
        case .int(let v): return Double(v)
        default: return nil
        }
    }

    /// The string, if this is one.
    public var stringValue: String? { if case .string(let v) = self { return v } else { return nil } }

    /// The truth value, if this is one.
    public var boolValue: Bool? { if case .bool(let v) = self { return v } else { return nil } }

    /// The elements of a list (a single value reads as a one-element list).
    public var listValue: [Value] { if case .list(let v) = self { return v } else { return [self] } }

    /// The canonical text of the value as the command language reads it back (quoted where needed).
    public var description: String {
        switch self {
        case .int(let v): return String(v)
        case .double(let v): return formatNumber(v)
        case .string(let s): return Lexer.quoteIfNeeded(s)
        case .bool(let b): return b ? "on" : "off"
        case .list(let vs): return vs.map { v -> String in
            if case .string(let s) = v { return s } else { return v.description }
        }.joined(separator: ",").quotedIfNeeded
        }
    }

    /// The value as plain text for display (strings unquoted).
    public var plain: String {
        switch self {
        case .string(let s): return s
        case .list(let vs): return vs.map(\.plain).joined(separator: ",")
        default: return description
        }
    }
}

extension String {
    fileprivate var quotedIfNeeded: String { Lexer.quoteIfNeeded(self) }
}
