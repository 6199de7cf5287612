import Foundation

/// The record layouts `data load --format` reads.
public enum DatasetFormat: String, Sendable, NamedCase, CaseIterable {
    /// mstar's own digit-task JSONL (docs/tasks.md), read by `JSONL.read` into `Example`s.
    case mstar
    /// MathVista: `pid`, `question`, `image`, `choices`, `answer`, `answer_type`, `precision`, `question_type`, ...
    case mathvista
    /// M3CoT: `id`, `question`, `choices`, `answer` (a letter), `image`, `rationale`, `domain`, ...
    case m3cot
    /// ScienceQA: `question`, `choices`, `answer` (the right choice's index), `image`, `hint`, `lecture`, `solution`.
    case scienceqa
    /// LLaVA conversations: `id`, `image`, `conversations` [{`from`: human/gpt, `value`}].
    case llava

    public static let caseKind = "dataset format"

    /// The format a record's keys give away, or nil when they fit none.
    ///
    /// MathVista alone has `pid`, `answer_type` and `question_type`; conversations are mstar's when
    /// they carry its fields (`facts`, `family`, ...) or ask one of its question templates, LLaVA's
    /// otherwise; with `choices`, a numeric answer or ScienceQA's `hint`/`lecture`/`solution` is
    /// ScienceQA, a text answer or M3CoT's `rationale`/`domain` is M3CoT.
    public static func detect(_ record: [String: JSONValue]) -> DatasetFormat? {
        let keys = Set(record.keys)
        if !keys.isDisjoint(with: ["pid", "answer_type", "question_type"]) { return .mathvista }
        if case .array(let turns)? = record["conversations"] {
            if !keys.isDisjoint(with: ["facts", "family", "level", "source_images", "oracle_answer"]) { return .mstar }
            let human = turns.lazy.compactMap(\.object).first { $0["from"]?.text == "human" }?["value"]?.text ?? ""
            let question = human.replacingOccurrences(of: "<image>", with: " ")
            return QuestionKind(text: String(question.prefix(1000))) != nil ? .mstar : .llava
        }
        guard keys.contains("choices") else { return nil }
        if case .number? = record["answer"] { return .scienceqa }
        if !keys.isDisjoint(with: ["hint", "lecture", "solution"]) { return .scienceqa }
        if case .string? = record["answer"] { return .m3cot }
        if !keys.isDisjoint(with: ["rationale", "domain"]) { return .m3cot }
        return nil
    }
}

/// Turns one record of a layout into a `ReasoningItem`, checking every field it uses.
struct RecordReader {
    /// The dataset file's folder, absolute with links resolved (images must stay inside it).
    let folder: String
    let limits: DatasetLimits

    /// The item of `record` in `format`; `fallbackID` names it when the layout has no id field.
    func item(_ record: [String: JSONValue], format: DatasetFormat, fallbackID: String) throws -> ReasoningItem {
        switch format {
        case .mathvista: return try mathVista(record, fallbackID: fallbackID)
        case .m3cot: return try m3cot(record)
        case .scienceqa: return try scienceQA(record, fallbackID: fallbackID)
        case .llava: return try llava(record)
        case .mstar: throw TasksError.invalid("mstar records are read by JSONL.read")
        }
    }

    // MARK: layouts

    func mathVista(_ r: [String: JSONValue], fallbackID: String) throws -> ReasoningItem {
        let id = try optionalString(r, "pid", max: limits.idLength) ?? fallbackID
        let question = try string(r, "question", max: limits.questionLength, why: "the question to ask")
        let answer = try string(r, "answer", max: limits.answerLength, why: "the gold answer")
        let choices = try choiceList(r, required: false)
        let questionType = try optionalString(r, "question_type", max: 64)
        var type: AnswerType
        switch try optionalString(r, "answer_type", max: 64) ?? "text" {
        case "integer": type = .integer
        case "float": type = .float
        case "text": type = .text
        case "list": type = .list
        case let other:
            throw TasksError.invalid("\"answer_type\": \(DatasetImage.quoted(other)) is none of integer, float, text, list")
        }
        var gold = answer
        if questionType == "multi_choice" || !choices.isEmpty {
            guard !choices.isEmpty else { throw TasksError.invalid("\"question_type\" is multi_choice but there are no \"choices\"") }
            // MathVista's gold is the right choice's text; its letter is what is kept.
            gold = ReasoningItem.letter(try goldChoice(answer, choices: choices, preferText: true))
            type = .choice
        }
        var precision: Int?
        if let p = r["precision"], p != .null {
            guard case .number(let v) = p, v == v.rounded(), (0...12).contains(v) else {
                throw TasksError.invalid("\"precision\" must be a whole number of decimal places from 0 to 12")
            }
            precision = Int(v)
        }
        if type == .integer || type == .float, FreeTextAnswer.number(in: answer) == nil {
            throw TasksError.invalid("\"answer\": \(DatasetImage.quoted(answer)) is not a number, but \"answer_type\" is \(type.rawValue)")
        }
        var meta = try metadata(r, ["question_type", "unit", "query", "caption", "ocr"])
        if case .object(let m)? = r["metadata"] {
            for (k, v) in m.sorted(by: { $0.key < $1.key }).prefix(limits.metadataFields) {
                if let t = v.text { meta["metadata." + k] = try capped(t, "metadata.\(k)", max: limits.metadataLength) }
            }
        }
        return ReasoningItem(id: id, question: question, image: try image(r), answer: gold, choices: choices,
                             answerType: type, precision: precision, metadata: meta)
    }

    func m3cot(_ r: [String: JSONValue]) throws -> ReasoningItem {
        let id = try string(r, "id", max: limits.idLength, why: "an id")
        let question = try string(r, "question", max: limits.questionLength, why: "the question to ask")
        let choices = try choiceList(r, required: true)
        let answer = try string(r, "answer", max: limits.answerLength, why: "the right choice's letter")
        let k = try goldChoice(answer, choices: choices, preferText: false)
        return ReasoningItem(id: id, question: question, image: try image(r), answer: ReasoningItem.letter(k), choices: choices,
                             answerType: .choice,
                             metadata: try metadata(r, ["rationale", "domain", "topic", "category", "context", "split", "image_id"]))
    }

    func scienceQA(_ r: [String: JSONValue], fallbackID: String) throws -> ReasoningItem {
        let id = try optionalString(r, "id", max: limits.idLength) ?? fallbackID
        let question = try string(r, "question", max: limits.questionLength, why: "the question to ask")
        let choices = try choiceList(r, required: true)
        guard let a = r["answer"] else { throw TasksError.invalid("missing \"answer\": the index of the right choice (0 to \(choices.count - 1))") }
        guard case .number(let v) = a, v == v.rounded(), v >= 0, v < Double(choices.count) else {
            throw TasksError.invalid("\"answer\": \(a.text.map(DatasetImage.quoted) ?? "a non-number") is not the index of a choice "
                + "(0 to \(choices.count - 1))")
        }
        return ReasoningItem(id: id, question: question, image: try image(r), answer: ReasoningItem.letter(Int(v)), choices: choices,
                             answerType: .choice,
                             metadata: try metadata(r, ["hint", "lecture", "solution", "subject", "topic", "category", "skill",
                                                        "grade", "task", "split"]))
    }

    func llava(_ r: [String: JSONValue]) throws -> ReasoningItem {
        let id = try string(r, "id", max: limits.idLength, why: "an id")
        guard case .array(let turns)? = r["conversations"] else {
            throw TasksError.invalid("missing \"conversations\": a list of {\"from\": \"human\"|\"gpt\", \"value\": TEXT} turns")
        }
        guard turns.count <= limits.turns else { throw TasksError.invalid("\"conversations\" has \(turns.count) turns; at most \(limits.turns) are read") }
        let parsed = try turns.enumerated().map { i, t -> (from: String, value: String) in
            guard let o = t.object, let from = o["from"]?.text, case .string(let value)? = o["value"] else {
                throw TasksError.invalid("conversations[\(i)] is not {\"from\": ..., \"value\": TEXT}")
            }
            return (from, try capped(value, "conversations[\(i)].value", max: limits.questionLength))
        }
        guard let h = parsed.firstIndex(where: { $0.from == "human" }) else { throw TasksError.invalid("no \"human\" turn in \"conversations\"") }
        let raw = parsed[h].value
        let question = raw.replacingOccurrences(of: "<image>", with: "").trimmingWhitespace()
        guard !question.isEmpty else { throw TasksError.invalid("the human turn asks nothing (it is empty once <image> is removed)") }
        guard let g = parsed[(h + 1)...].first(where: { $0.from == "gpt" }) else {
            throw TasksError.invalid("no \"gpt\" turn after the question: nothing says what the answer is")
        }
        guard let e = FreeTextAnswer.extract(g.value) else { throw TasksError.invalid("the gpt turn is empty: nothing says what the answer is") }
        let answer = try capped(e.text, "the gpt turn's answer", max: limits.answerLength)
        let image = try self.image(r)
        if image == nil, raw.contains("<image>") {
            throw TasksError.invalid("the question has <image> but the record has no \"image\"")
        }
        // The answer's own form gives its type: "12" an integer, "1.25" a float at 2 places, else text.
        var type = AnswerType.text
        var precision: Int?
        let plain = answer.unicodeScalars
        if !plain.isEmpty, plain.allSatisfy({ FreeTextAnswer.isDigit($0) || $0 == "-" || $0 == "." }), let v = Double(answer), v.isFinite {
            type = answer.contains(".") ? .float : .integer
            precision = type == .float ? FreeTextAnswer.decimals(answer) : nil
        }
        var meta = try metadata(r, [])
        meta["response"] = try capped(g.value, "the gpt turn", max: limits.metadataLength)
        return ReasoningItem(id: id, question: question, image: image, answer: answer, answerType: type, precision: precision,
                             metadata: meta)
    }

    // MARK: fields

    /// A required non-empty string field (a number is taken as its text).
    private func string(_ r: [String: JSONValue], _ key: String, max: Int, why: String) throws -> String {
        guard let v = r[key], v != .null else { throw TasksError.invalid("missing \"\(key)\": the record needs \(why)") }
        guard let t = v.text else { throw TasksError.invalid("\"\(key)\" must be text") }
        guard !t.trimmingWhitespace().isEmpty else { throw TasksError.invalid("\"\(key)\" is empty: the record needs \(why)") }
        return try capped(t, key, max: max)
    }

    private func optionalString(_ r: [String: JSONValue], _ key: String, max: Int) throws -> String? {
        guard let v = r[key], v != .null else { return nil }
        guard let t = v.text else { throw TasksError.invalid("\"\(key)\" must be text") }
        return try capped(t, key, max: max)
    }

    private func capped(_ t: String, _ key: String, max: Int) throws -> String {
        guard t.utf8.count <= max else { throw TasksError.invalid("\"\(key)\" is \(t.utf8.count) bytes; at most \(max) are read") }
        return t
    }

    /// `choices` as text: absent or null is none; otherwise 2 to 26 strings or numbers.
    private func choiceList(_ r: [String: JSONValue], required: Bool) throws -> [String] {
        guard let v = r["choices"], v != .null else {
            if required { throw TasksError.invalid("missing \"choices\": the record needs the list of choices") }
            return []
        }
        guard case .array(let a) = v else { throw TasksError.invalid("\"choices\" must be a list") }
        guard a.count <= limits.choices else { throw TasksError.invalid("\"choices\" has \(a.count) entries; at most \(limits.choices) (A to Z)") }
        let texts = try a.enumerated().map { i, c -> String in
            guard let t = c.text else { throw TasksError.invalid("choices[\(i)] must be text") }
            return try capped(t, "choices[\(i)]", max: limits.choiceLength)
        }
        if required || !texts.isEmpty, texts.count < 2 {
            throw TasksError.invalid("\"choices\" has \(texts.count) entries; a multiple-choice question needs at least 2")
        }
        return texts
    }

    /// The index of the choice `answer` names: its letter ("B", "(B)") or its text. With
    /// `preferText` (MathVista, whose gold is the text) an exact text match wins over a letter.
    private func goldChoice(_ answer: String, choices: [String], preferText: Bool) throws -> Int {
        if preferText, let k = choices.firstIndex(of: answer) { return k }
        let letter = answer.trimmingCharacters(in: CharacterSet(charactersIn: " ().:"))
        if letter.count == 1, let c = letter.unicodeScalars.first, (65...90).contains(c.value) {
            let k = Int(c.value) - 65
            if k < choices.count { return k }
            if !preferText {
                throw TasksError.invalid("\"answer\": \"\(letter)\" is not one of the \(choices.count) choices (A to \(ReasoningItem.letter(choices.count - 1)))")
            }
        }
        let norm = FreeTextAnswer.normalizedText(answer)
        if let k = choices.firstIndex(where: { FreeTextAnswer.normalizedText($0) == norm }) { return k }
        throw TasksError.invalid("\"answer\": \(DatasetImage.quoted(answer)) is neither a choice's letter (A to "
            + "\(ReasoningItem.letter(choices.count - 1))) nor a choice's text")
    }

    /// The checked image of `image` (a relative path), or nil when the record has none.
    private func image(_ r: [String: JSONValue]) throws -> ImageInfo? {
        guard let v = r["image"], v != .null else { return nil }
        guard case .string(let path) = v else {
            throw TasksError.invalid("\"image\" must be a path relative to the dataset file (export embedded images to files first)")
        }
        if path.isEmpty { return nil }
        return try DatasetImage.check(path, folder: folder)
    }

    /// The text fields named in `keys` that the record has, capped.
    private func metadata(_ r: [String: JSONValue], _ keys: [String]) throws -> [String: String] {
        var out = [String: String]()
        for k in keys {
            if let t = r[k]?.text, !t.isEmpty { out[k] = try capped(t, k, max: limits.metadataLength) }
        }
        return out
    }
}
