import Foundation
import MSTaRTensor

/// What to do with a line that cannot be imported.
public enum BadLinePolicy: Sendable {
    /// Report it in `JSONLImport.badLines` and go on.
    case skip
    /// Stop at the first one and throw it.
    case refuse
}

/// A line that could not be imported, with where it is and why.
public struct BadLine: Error, Sendable, Equatable, CustomStringConvertible {
    /// The JSONL file.
    public var file: String
    /// 1-based line number.
    public var line: Int
    /// Why the line was rejected.
    public var message: String

    public var description: String { "\(file):\(line): \(message)" }
}

/// The result of reading a JSONL file: the examples that passed and the lines that did not.
public struct JSONLImport: Sendable {
    /// The lines that imported, in file order.
    public var examples: [Example]
    /// The lines that did not, in file order.
    public var badLines: [BadLine]
}

/// Datasets as JSONL in the LLaVA conversation format, with PNG images beside the file.
///
/// One object per line: `id`, `image` (path relative to the JSONL file; absent for text-only prompts),
/// `conversations` (a `human` turn "<image>\nQUESTION" and, unless the answer is hidden, a `gpt` turn
/// with the chain or "answer N"), plus fields trainers ignore: `family`, `level` ("1", "2", "3" or
/// "ood"), `answer` (or `oracle_answer` when hidden), `facts` (`reads`, `heights`) and `source_images`
/// (indices of the handwritten digits drawn, into data/digits.csv.gz).
public enum JSONL {
    /// Name of the JSONL file inside an export directory.
    public static let fileName = "data.jsonl"
    /// Name of the image directory inside an export directory.
    public static let imageDirectory = "images"

    struct Turn: Codable, Equatable {
        var from: String
        var value: String
    }

    struct Record: Codable {
        var id: String
        var image: String?
        var conversations: [Turn]
        var family: String?
        var level: LevelField?
        var answer: Int?
        var oracle_answer: Int?
        var facts: SceneFacts?
        var source_images: [Int]?
    }

    /// Level as written: "1", "2", "3", "ood" (integers 1...4 are accepted on import).
    struct LevelField: Codable {
        var level: Level
        init(_ level: Level) { self.level = level }
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let i = try? c.decode(Int.self), let l = Level(rawValue: i) { level = l; return }
            guard let s = try? c.decode(String.self) else {
                throw TasksError.invalid("level must be \"1\", \"2\", \"3\" or \"ood\"")
            }
            guard let l = s == "ood" ? Level.ood : Int(s).flatMap(Level.init(rawValue:)) else {
                throw TasksError.invalid("level must be \"1\", \"2\", \"3\" or \"ood\", not \"\(s)\"")
            }
            level = l
        }
        func encode(to encoder: Encoder) throws {
            var c = encoder.singleValueContainer()
            try c.encode(level.description)
        }
    }

    /// A file-name-safe form of an example id.
    public static func imageName(for id: String) -> String {
        String(id.map { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) ? $0 : "_" }) + ".png"
    }

    /// The JSONL line (without newline) for `example`, its image at `imagePath` when it has one.
    public static func line(for example: Example, imagePath: String?) throws -> String {
        var turns = [Turn(from: "human", value: (example.image != nil ? "<image>\n" : "") + example.question)]
        if let target = example.visibleTarget { turns.append(Turn(from: "gpt", value: target)) }
        let hidden = example.annotation == .none
        let record = Record(id: example.id, image: example.image != nil ? imagePath : nil, conversations: turns,
                            family: example.family.rawValue, level: LevelField(example.level),
                            answer: hidden ? nil : example.answer, oracle_answer: hidden ? example.answer : nil,
                            facts: example.facts,
                            source_images: example.sourceImages.isEmpty ? nil : example.sourceImages)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(record), as: UTF8.self)
    }

    /// Writes DIR/data.jsonl and DIR/images/ID.png (each pixel `imageScale` x `imageScale`); returns the JSONL path.
    @discardableResult
    public static func export(_ examples: [Example], to dir: String, imageScale: Int = 1) throws -> String {
        let fm = FileManager.default
        let base = URL(fileURLWithPath: dir)
        let images = base.appendingPathComponent(imageDirectory)
        try fm.createDirectory(at: images, withIntermediateDirectories: true)
        var text = ""
        for e in examples {
            var rel: String? = nil
            if let canvas = e.image {
                let name = imageName(for: e.id)
                rel = "\(imageDirectory)/\(name)"
                try PNG.write(canvas, to: images.appendingPathComponent(name).path, scale: imageScale)
            }
            text += try line(for: e, imagePath: rel) + "\n"
        }
        let path = base.appendingPathComponent(fileName).path
        guard fm.createFile(atPath: path, contents: Data(text.utf8)) else { throw TasksError.invalid("cannot write \(path)") }
        return path
    }

    /// Reads a JSONL file; every bad line is reported with file and line number, then skipped or refused.
    public static func read(_ path: String, onBadLine policy: BadLinePolicy = .skip) throws -> JSONLImport {
        let data: Data
        do { data = try InputFile.read(path, limit: InputFile.datasetLimit) } catch {
            throw TasksError.missingData("\(error)")
        }
        let dir = URL(fileURLWithPath: path).deletingLastPathComponent()
        var examples = [Example](), bad = [BadLine]()
        var firstLineOfID = [String: Int]()
        let lines = InputFile.lines(String(decoding: data, as: UTF8.self))
        for (n, raw) in lines.enumerated() {
            let text = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if text.isEmpty { continue }
            do {
                let e = try example(fromLine: text, directory: dir)
                if let first = firstLineOfID[e.id] {
                    throw TasksError.invalid("duplicate id \"\(e.id)\" (first on line \(first))")
                }
                firstLineOfID[e.id] = n + 1
                examples.append(e)
            } catch {
                let b = BadLine(file: path, line: n + 1, message: "\(error)")
                if policy == .refuse { throw b }
                bad.append(b)
            }
        }
        return JSONLImport(examples: examples, badLines: bad)
    }

    /// Parses one JSONL line; image paths are relative to `directory`.
    static func example(fromLine text: String, directory: URL) throws -> Example {
        let record: Record
        do { record = try JSONDecoder().decode(Record.self, from: Data(text.utf8)) } catch {
            // Foundation calls a number it cannot hold "not valid JSON" without saying where.
            if case DecodingError.dataCorrupted(let ctx) = error, ctx.codingPath.isEmpty, let problem = numberProblem(text) {
                throw TasksError.invalid(problem)
            }
            throw TasksError.invalid(describe(error))
        }
        guard !record.id.isEmpty else { throw TasksError.invalid("empty \"id\"") }
        guard let human = record.conversations.first(where: { $0.from == "human" }) else {
            throw TasksError.invalid("no \"human\" turn in \"conversations\"")
        }
        let hasImageToken = human.value.contains("<image>")
        let question = human.value.replacingOccurrences(of: "<image>", with: " ")
            .split(whereSeparator: \.isWhitespace).joined(separator: " ")
        guard let kind = QuestionKind(text: question) else {
            throw TasksError.invalid("question \"\(question)\" matches no question template (see docs/tasks.md)")
        }
        let gpt = record.conversations.first(where: { $0.from == "gpt" })?.value
            .split(whereSeparator: \.isWhitespace).joined(separator: " ")

        // Facts: given, or read off the chain's reading steps.
        var facts: SceneFacts
        if let f = record.facts {
            facts = f
        } else if let chain = gpt, case let steps = Chain.parse(chain), steps.contains(where: \.isReading) {
            facts = SceneFacts(reads: [])
            for s in steps {
                if case .read(let d) = s { facts.reads.append(d) }
                if case .height(let h) = s { facts.heights = h }
            }
        } else {
            throw TasksError.invalid("no scene facts: add a \"facts\" object ({\"reads\": [[...]], \"heights\": [...]}) "
                + "or a gpt turn with the chain of thought")
        }

        var family: Family
        if let name = record.family {
            family = try Family(name: name)
            if let kf = kind.family, kf != family {
                throw TasksError.invalid("family \"\(name)\" does not ask \"\(question)\" (a \(kf.rawValue) question)")
            }
        } else if let kf = kind.family {
            family = kf
        } else {
            family = !facts.heights.isEmpty ? .chart : facts.reads.count == 2 ? .comparison : .arithmetic
        }
        try checkFacts(facts, family: family)

        let gold = Solver.answer(kind, facts: facts)
        for (key, given) in [("answer", record.answer), ("oracle_answer", record.oracle_answer)] {
            if let g = given, g != gold {
                throw TasksError.invalid("\"\(key)\": \(g) contradicts the scene facts, which give \(gold.map(String.init) ?? "no answer")")
            }
        }

        var annotation = Annotation.none
        var chain = Solver.chain(kind, facts: facts)
        if let target = gpt {
            let steps = Chain.parse(target)
            if steps.count == 1, case .answer(let a) = steps[0], kind != .caption {
                guard a == gold else { throw TasksError.invalid("gpt answer \(a) contradicts the scene facts, which give \(gold!)") }
                annotation = .answer
            } else {
                let v = StepVerifier.verify(target, kind: kind, facts: facts, gold: gold)
                if let k = v.firstWrongStep {
                    let what = k < v.steps.count ? "step \(k + 1) \"\(v.steps[k])\" is \(v.verdicts[k].rawValue)"
                        : "it stops before the answer"
                    throw TasksError.invalid("the gpt chain fails the verifier: \(what)")
                }
                annotation = .chain
                chain = target
            }
        } else if record.oracle_answer == nil && kind != .caption {
            throw TasksError.invalid("no gpt turn and no \"oracle_answer\": nothing says what the answer is")
        }

        var image: Canvas? = nil
        if let rel = record.image {
            let url = rel.hasPrefix("/") ? URL(fileURLWithPath: rel) : directory.appendingPathComponent(rel)
            image = try PNG.readCanvas(url.path)
        } else if hasImageToken {
            throw TasksError.invalid("the question has <image> but the record has no \"image\"")
        }

        return Example(id: record.id, family: family, level: record.level?.level ?? .one, kind: kind, question: question,
                       image: image, answer: gold, chain: chain, annotation: annotation, facts: facts,
                       sourceImages: record.source_images ?? [])
    }

    private static func checkFacts(_ f: SceneFacts, family: Family) throws {
        let groups = family == .comparison ? 2 : 1
        // At most 16 digits a group, so the number a group spells fits an Int and sums cannot overflow.
        guard f.reads.count == groups, f.reads.allSatisfy({ (1...16).contains($0.count) && $0.allSatisfy((0...9).contains) }) else {
            throw TasksError.invalid("facts.reads must hold \(groups) group(s) of 1 to 16 digits 0-9 for a \(family.rawValue) scene")
        }
        if family == .chart {
            guard f.heights.count == f.reads[0].count, f.heights.allSatisfy({ (0...10_000).contains($0) }) else {
                throw TasksError.invalid("facts.heights must give one height from 0 to 10000 per bar label")
            }
        } else if !f.heights.isEmpty {
            throw TasksError.invalid("facts.heights is only for chart scenes")
        }
    }

    /// The first number in a JSON text that is not a whole number an Int holds (every number of a
    /// record is one), with the key it belongs to; nil when every number is.
    static func numberProblem(_ text: String) -> String? {
        let chars = Array(text.unicodeScalars)
        var i = 0, lastString = "", key = "the top level"
        while i < chars.count {
            let c = chars[i]
            if c == "\"" {
                var s = String.UnicodeScalarView()
                i += 1
                while i < chars.count && chars[i] != "\"" {
                    if chars[i] == "\\" { i += 1 }
                    if i < chars.count { s.append(chars[i]) }
                    i += 1
                }
                lastString = String(s)
                i += 1
                continue
            }
            if c == ":" { key = "\"\(lastString)\"" }
            if c == "-" || ("0"..."9").contains(c) {
                var literal = ""
                while i < chars.count, "+-.eE0123456789".unicodeScalars.contains(chars[i]) { literal.unicodeScalars.append(chars[i]); i += 1 }
                if Int(literal) == nil {
                    return "\(key): \(literal) is not a whole number from -2^63 to 2^63-1"
                }
                continue
            }
            i += 1
        }
        return nil
    }

    private static func describe(_ error: Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, let ctx):
            return "missing \"\(key.stringValue)\"" + path(ctx)
        case DecodingError.typeMismatch(let type, let ctx):
            return "wrong type at \(path(ctx, bare: true)): expected \(type)"
        case DecodingError.valueNotFound(let type, let ctx):
            return "null at \(path(ctx, bare: true)): expected \(type)"
        case DecodingError.dataCorrupted(let ctx):
            if let underlying = ctx.underlyingError as? TasksError { return underlying.description }
            return ctx.codingPath.isEmpty ? "not valid JSON" : "bad value at \(path(ctx, bare: true))"
        default:
            return "\(error)"
        }
    }

    private static func path(_ ctx: DecodingError.Context, bare: Bool = false) -> String {
        let p = ctx.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
        if bare { return p.isEmpty ? "top level" : String(p.drop(while: { $0 == "." })) }
        return p.isEmpty ? "" : " in \(p.drop(while: { $0 == "." }))"
    }
}
