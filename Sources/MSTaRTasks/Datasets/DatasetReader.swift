import Foundation
import MSTaRTensor

/// A record that could not be read, with where it is and why: `FILE:LINE: reason` in JSONL,
/// `FILE[INDEX]: reason` in a JSON array, `FILE["KEY"]: reason` in a JSON object keyed by id.
public struct BadRecord: Error, Sendable, Equatable, CustomStringConvertible {
    /// Where a record is in its file.
    public enum Location: Sendable, Equatable {
        /// 1-based line of a JSONL file.
        case line(Int)
        /// 0-based index in a JSON array.
        case element(Int)
        /// Key in a JSON object of records (MathVista's dict keyed by pid).
        case key(String)

        /// Appended to the file name: ":12", "[3]", "[\"12\"]".
        public var suffix: String {
            switch self {
            case .line(let n): return ":\(n)"
            case .element(let i): return "[\(i)]"
            case .key(let k): return "[\(DatasetImage.quoted(k))]"
            }
        }

        /// An id for a record whose layout has none ("line-12", "item-3", or the key).
        var id: String {
            switch self {
            case .line(let n): return "line-\(n)"
            case .element(let i): return "item-\(i)"
            case .key(let k): return k
            }
        }
    }

    /// The file, as given.
    public var file: String
    public var location: Location
    /// Why the record was skipped, and what to do about it.
    public var message: String

    public var description: String { "\(file)\(location.suffix): \(message)" }
}

/// Caps on what one dataset file may make mstar read or hold; each is checked before the thing
/// it bounds is used.
public struct DatasetLimits: Sendable {
    /// Bytes of the whole file.
    public var fileBytes = InputFile.datasetLimit
    /// Bytes of one JSONL line (checked before the line is parsed).
    public var lineBytes = 1 << 20
    /// Records read from one file; the rest is left unread and reported.
    public var records = 1_000_000
    /// Bytes of an id, a question, a gold answer, one choice, one metadata value.
    public var idLength = 256
    public var questionLength = 64 << 10
    public var answerLength = 4 << 10
    public var choiceLength = 4 << 10
    public var metadataLength = 64 << 10
    /// Choices of one question (letters A to Z).
    public var choices = 26
    /// Fields kept from MathVista's `metadata` object.
    public var metadataFields = 32
    /// Turns of one LLaVA conversation.
    public var turns = 64
    /// Arrays and objects nested in one another (records nest 3 deep; the decoder recurses per level).
    public var depth = 64

    public init() {}

    public static let standard = DatasetLimits()
}

/// Reads real datasets (MathVista, M3CoT, ScienceQA, LLaVA conversations) into `ReasoningItem`s.
///
/// A file is JSONL (one record a line), a JSON array of records, or a JSON object whose values
/// are records (MathVista's dict keyed by pid; read in key order, numerically when every key is a
/// whole number). Each bad record is listed with where it is and skipped; a load fails only when
/// no record is valid. The file, its lines, its records and every string are bounded
/// (`DatasetLimits`), and images are checked before an item keeps them (`DatasetImage`).
public enum DatasetReader {
    /// What `read` found.
    public enum Outcome: Sendable {
        /// The file is mstar's own digit-task JSONL: read it with `JSONL.read`.
        case mstar
        /// A real dataset.
        case dataset(ReasoningDataset)
    }

    /// Reads `path` in `format` (nil: told from the records' keys) and cuts it into splits with `seed`.
    public static func read(_ path: String, format: DatasetFormat? = nil, seed: UInt64 = 0,
                            fractions: SplitFractions = .standard, limits: DatasetLimits = .standard) throws -> Outcome {
        let records = try records(path, limits: limits)
        let objects = records.lazy.compactMap { $0.value?.object }
        let chosen: DatasetFormat
        if let format {
            chosen = format
        } else if let found = objects.prefix(16).compactMap(DatasetFormat.detect).first {
            chosen = found
        } else if objects.isEmpty {
            // Not one record to tell a layout from: mstar's reader, the default, reports every line.
            return .mstar
        } else {
            let keys = objects.first.map { $0.keys.sorted().prefix(12).joined(separator: ", ") } ?? "no JSON object"
            throw TasksError.invalid("\(path): cannot tell the layout from the records' keys (the first has \(keys)); "
                + "give --format \(DatasetFormat.allCases.map(\.rawValue).joined(separator: "|"))")
        }
        if chosen == .mstar { return .mstar }

        guard let real = realpath(URL(fileURLWithPath: path).deletingLastPathComponent().path, nil) else {
            throw TasksError.missingData("cannot resolve the folder of \(path): \(String(cString: strerror(errno)))")
        }
        let reader = RecordReader(folder: String(cString: real), limits: limits)
        free(real)

        var items = [ReasoningItem](), bad = [BadRecord]()
        var firstOfID = [String: BadRecord.Location]()
        for r in records {
            do {
                if let problem = r.problem { throw TasksError.invalid(problem) }
                guard let record = r.value?.object else { throw TasksError.invalid("a record must be a JSON object") }
                let item = try reader.item(record, format: chosen, fallbackID: r.location.id)
                if let first = firstOfID[item.id] {
                    throw TasksError.invalid("duplicate id \(DatasetImage.quoted(item.id)) (first at \(path)\(first.suffix))")
                }
                firstOfID[item.id] = r.location
                items.append(item)
            } catch {
                bad.append(BadRecord(file: path, location: r.location, message: "\(error)"))
            }
        }
        guard !items.isEmpty else {
            let shown = bad.prefix(3).map(\.description).joined(separator: "; ")
            throw TasksError.invalid("\(path): no valid \(chosen.rawValue) record (\(bad.count) bad\(bad.isEmpty ? "" : ": \(shown)"))")
        }
        return .dataset(ReasoningDataset(format: chosen, file: path, items: items, badRecords: bad, seed: seed, fractions: fractions))
    }

    /// The layout of `path` as `read` would tell it (nil when no record gives it away).
    public static func detect(_ path: String, limits: DatasetLimits = .standard) throws -> DatasetFormat? {
        try records(path, limits: limits).lazy.compactMap { $0.value?.object }.prefix(16).compactMap(DatasetFormat.detect).first
    }

    /// One record as found in the file: its JSON, or why it could not be read (a line too long, not JSON).
    struct RawRecord {
        var location: BadRecord.Location
        var value: JSONValue?
        var problem: String?
    }

    /// The records of a file in file order, each with its location; at most `limits.records`, and
    /// then one more entry saying the rest was not read.
    static func records(_ path: String, limits: DatasetLimits) throws -> [RawRecord] {
        let data: Data
        do { data = try InputFile.read(path, limit: limits.fileBytes) } catch { throw TasksError.missingData("\(error)") }
        var start = data.startIndex
        // A UTF-8 byte order mark is not JSON.
        if data.starts(with: [0xEF, 0xBB, 0xBF]) { start += 3 }
        while start < data.endIndex, [0x20, 0x09, 0x0A, 0x0D].contains(data[start]) { start += 1 }
        guard start < data.endIndex else { throw TasksError.invalid("\(path) is empty: no record to read") }
        let body = data[start...]
        let tooMany = "more than \(limits.records) records: the rest of the file is not read; split it into smaller files"

        // One JSON document (an array, an object of records, or one record), else JSONL.
        let documentDepth = nesting(body)
        if documentDepth > limits.depth + 1 && body.first == UInt8(ascii: "[") {
            throw TasksError.invalid("\(path): JSON nested \(documentDepth) deep; records may nest at most \(limits.depth) deep")
        }
        if documentDepth <= limits.depth + 1, let document = try? JSONDecoder().decode(JSONValue.self, from: body) {
            switch document {
            case .array(let a):
                var out = a.prefix(limits.records).enumerated().map { RawRecord(location: .element($0.offset), value: $0.element) }
                if a.count > limits.records { out.append(RawRecord(location: .element(limits.records), problem: tooMany)) }
                return out
            case .object(let o) where !o.isEmpty && o.values.allSatisfy({ $0.object != nil }):
                // Dictionaries have no order: keys are sorted, numerically when both are whole numbers.
                let keys = o.keys.sorted { a, b in
                    switch (Int(a), Int(b)) {
                    case let (x?, y?): return x < y
                    case (.some, nil): return true
                    case (nil, .some): return false
                    case (nil, nil): return a < b
                    }
                }
                var out = keys.prefix(limits.records).map { RawRecord(location: .key($0), value: o[$0]!) }
                if keys.count > limits.records { out.append(RawRecord(location: .key(keys[limits.records]), problem: tooMany)) }
                return out
            default:
                return [RawRecord(location: .line(1), value: document)]
            }
        }
        if body.first == UInt8(ascii: "[") {
            throw TasksError.invalid("\(path) starts as a JSON array but is not valid JSON: check it with `python3 -m json.tool`")
        }
        var out = [RawRecord]()
        var text = String(decoding: data, as: UTF8.self)
        if text.hasPrefix("\u{FEFF}") { text.removeFirst() }
        for (n, raw) in InputFile.lines(text).enumerated() {
            let location = BadRecord.Location.line(n + 1)
            // Measured before anything is parsed or trimmed.
            guard raw.utf8.count <= limits.lineBytes else {
                out.append(RawRecord(location: location, problem: "the line is \(raw.utf8.count) bytes; a record may be at most \(limits.lineBytes)"))
                continue
            }
            let line = raw.trimmingWhitespace()
            if line.isEmpty { continue }
            if out.count >= limits.records {
                out.append(RawRecord(location: location, problem: tooMany))
                break
            }
            let bytes = Data(line.utf8)
            if nesting(bytes) > limits.depth {
                out.append(RawRecord(location: location, problem: "JSON nested more than \(limits.depth) deep"))
            } else if let value = try? JSONDecoder().decode(JSONValue.self, from: bytes) {
                out.append(RawRecord(location: location, value: value))
            } else {
                out.append(RawRecord(location: location, problem: "not valid JSON"))
            }
        }
        return out
    }

    /// How deep arrays and objects nest in a JSON text (brackets inside strings not counted), so a
    /// hostile "[[[[..." is refused before a recursive decoder walks it.
    static func nesting(_ bytes: Data) -> Int {
        var depth = 0, deepest = 0, inString = false, escaped = false
        for b in bytes {
            if inString {
                if escaped { escaped = false } else if b == 0x5C { escaped = true } else if b == 0x22 { inString = false }
                continue
            }
            switch b {
            case 0x22: inString = true
            case 0x5B, 0x7B:
                depth += 1
                deepest = max(deepest, depth)
            case 0x5D, 0x7D: depth -= 1
            default: break
            }
        }
        return deepest
    }
}
