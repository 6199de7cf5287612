import MSTaRTensor

/// A setting's declaration: key, type, default, documentation and checks.
public struct SettingSpec {
    /// The key `set KEY VALUE` uses (snake_case: temperature, samples_per_prompt, plot_width).
    public var key: String
    /// The value's type.
    public var type: ValueType
    /// The value before any `set`.
    public var defaultValue: Value
    /// One line for `show settings`.
    public var summary: String
    /// Returns what is wrong with a value, or nil when it is acceptable.
    public var validate: ((Value) -> String?)?
    /// Runs after the value changes (the seed setting reseeds the session's generator).
    public var onChange: ((Value, Session) throws -> Void)?
    /// Pinned settings are written as `set KEY VALUE` at the top of every journal, so a replay
    /// reproduces them even when no command changed them (BLAS threads, kernels).
    public var pinned: Bool

    /// A setting declaration.
    public init(_ key: String, _ type: ValueType, default defaultValue: Value, summary: String,
                validate: ((Value) -> String?)? = nil, pinned: Bool = false,
                onChange: ((Value, Session) throws -> Void)? = nil) {
        self.key = key
        self.type = type
        self.defaultValue = defaultValue
        self.summary = summary
        self.validate = validate
        self.pinned = pinned
        self.onChange = onChange
    }
}

/// Reusable checks for `SettingSpec.validate`.
public enum Check {
    /// Numbers at least `lower`.
    public static func atLeast(_ lower: Double) -> (Value) -> String? {
        { v in (v.doubleValue ?? lower) >= lower ? nil : "must be at least \(bound(lower))" }
    }

    /// Numbers within `range`.
    public static func within(_ range: ClosedRange<Double>) -> (Value) -> String? {
        { v in
            range.contains(v.doubleValue ?? range.lowerBound) ? nil
                : "must be between \(bound(range.lowerBound)) and \(bound(range.upperBound))"
        }
    }

    private static func bound(_ x: Double) -> String { x == x.rounded() ? String(Int(x)) : "\(x)" }
}

/// The session's typed settings: what `set`, `show settings` and option defaults read.
public final class Settings {
    private var specs: [String: SettingSpec] = [:]
    private var values: [String: Value] = [:]

    /// No settings yet; layers register theirs.
    public init() {}

    /// Declares a setting (re-registering a key replaces its declaration and resets it to the default).
    public func register(_ spec: SettingSpec) {
        specs[spec.key] = spec
        values[spec.key] = spec.defaultValue
    }

    /// All keys, sorted.
    public var keys: [String] { specs.keys.sorted() }

    /// The declaration of `key`.
    public func spec(_ key: String) -> SettingSpec? { specs[key] }

    /// The current value of `key` (nil when no such setting).
    public func value(_ key: String) -> Value? { values[key] }

    /// An integer setting's value.
    public func int(_ key: String) -> Int { read(key).intValue! }

    /// A number setting's value.
    public func double(_ key: String) -> Double { read(key).doubleValue! }

    /// A text or choice setting's value.
    public func string(_ key: String) -> String { read(key).stringValue! }

    /// A boolean setting's value.
    public func bool(_ key: String) -> Bool { read(key).boolValue! }

    /// Reads `text` as the value of `key`, checks it and stores it; returns the new value.
    @discardableResult
    public func set(_ key: String, text: String) throws(WorkbenchError) -> Value {
        guard let spec = specs[key] else { throw unknown(key) }
        let v: Value
        do { v = try spec.type.parse(text) } catch {
            var msg = "bad value '\(text)' for setting \(key): expected \(error.expected)"
            if let s = error.suggestion { msg += "; did you mean '\(s)'?" }
            throw WorkbenchError(msg)
        }
        try set(key, v)
        return read(key)
    }

    /// Checks and stores a typed value.
    public func set(_ key: String, _ value: Value) throws(WorkbenchError) {
        guard let spec = specs[key] else { throw unknown(key) }
        let v = spec.type == .double ? (value.doubleValue.map(Value.double) ?? value) : value
        if let problem = spec.validate?(v) { throw WorkbenchError("\(key) \(problem); got \(v.plain)") }
        values[key] = v
    }

    /// Puts every setting back to its default.
    public func reset() {
        for (k, s) in specs { values[k] = s.defaultValue }
    }

    /// The error for a key that is not registered, with the closest key.
    public func unknown(_ key: String) -> WorkbenchError {
        var msg = "unknown setting '\(key)'"
        if let s = Suggest.closest(to: key, in: keys) { msg += "; did you mean '\(s)'?" }
        return WorkbenchError(msg + " (show settings lists them)")
    }

    private func read(_ key: String) -> Value {
        guard let v = values[key] else { preconditionFailure("no setting '\(key)' is registered") }
        return v
    }
}
