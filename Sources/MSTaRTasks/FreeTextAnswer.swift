import Foundation

/// How a gold answer is compared with a response, in MathVista's terms (`answer_type`), plus
/// `choice` for multiple-choice questions (whatever type their choices are).
public enum AnswerType: String, Sendable, CaseIterable, Codable {
    /// A whole number; a response must state that number ("12", "12.0", "12 cm").
    case integer
    /// A decimal number compared after rounding both sides to `precision` decimal places.
    case float
    /// Free text compared after normalisation (case, surrounding punctuation, whitespace).
    case text
    /// A comma-separated list ("[1, 2, 3]"), compared element by element in order.
    case list
    /// One of the item's `choices`; the gold answer and the response may each give the letter or the text.
    case choice
}

/// Reads the final answer of a real model's free-text response and matches it against a gold answer.
///
/// Real models do not follow the digit tasks' grammar: they box the answer, announce it ("the
/// answer is", "Answer:"), name a choice letter, or write a number with units. Every function here
/// accepts any text, never traps, and looks at a bounded window of it, so a reward computed from
/// an adversarial or runaway response costs at most `scanLimit` steps.
public enum FreeTextAnswer {
    /// Only the last `scanLimit` Unicode scalars of a response are scanned: final answers come at
    /// the end, and a runaway generation of megabytes must not cost more than a short one.
    public static let scanLimit = 16_384

    /// Where an extracted answer came from, most to least explicit.
    public enum Source: String, Sendable, Equatable {
        /// The content of the last complete `\boxed{...}`.
        case boxed
        /// The text after the last "answer is" / "Answer:" / "final answer:" marker.
        case marker
        /// No box and no marker: the last non-empty line.
        case lastLine
    }

    /// An extracted final answer: its text (trimmed, trailing full stop removed) and its source.
    public struct Extraction: Sendable, Equatable {
        public var text: String
        public var source: Source
        public init(text: String, source: Source) {
            self.text = text
            self.source = source
        }
    }

    // MARK: extraction

    /// The final answer of `response`: the last complete `\boxed{...}`, else the text after the last
    /// answer marker, else the last non-empty line; nil for text that is empty or all whitespace.
    public static func extract(_ response: String) -> Extraction? {
        let s = window(response)
        if let b = lastBoxed(s) {
            let t = clean(b)
            if !t.isEmpty { return Extraction(text: t, source: .boxed) }
        }
        if let m = lastMarked(s) { return Extraction(text: m, source: .marker) }
        if let l = lastLine(s) { return Extraction(text: l, source: .lastLine) }
        return nil
    }

    /// The last `scanLimit` scalars of `text` (O(scanLimit) whatever the text's length).
    static func window(_ text: String) -> [Unicode.Scalar] {
        Array(text.unicodeScalars.suffix(scanLimit))
    }

    /// The content of the complete `\boxed{...}` (or `\fbox{...}`) that closes last, braces nested
    /// inside it kept; an unclosed box (a truncated response) is ignored. One pass with a stack,
    /// so nesting and many boxes stay linear.
    static func lastBoxed(_ s: [Unicode.Scalar]) -> [Unicode.Scalar]? {
        // Each open brace: where its content starts, and whether a \boxed opened it.
        var stack = [(start: Int, boxed: Bool)]()
        var best: Range<Int>?
        var i = 0
        while i < s.count {
            let c = s[i]
            if c == "\\" {
                // \{ and \} are literal braces in LaTeX: they do not nest.
                if i + 1 < s.count, s[i + 1] == "{" || s[i + 1] == "}" { i += 2; continue }
                if let end = match(s, at: i + 1, "boxed") ?? match(s, at: i + 1, "fbox") {
                    var j = end
                    while j < s.count, s[j] == " " { j += 1 }
                    if j < s.count, s[j] == "{" {
                        stack.append((j + 1, true))
                        i = j + 1
                        continue
                    }
                }
            } else if c == "{" {
                stack.append((i + 1, false))
            } else if c == "}", let open = stack.popLast(), open.boxed {
                best = open.start..<i
            }
            i += 1
        }
        return best.map { Array(s[$0]) }
    }

    /// The answer after the last marker: the word "answer" (any case, not inside another word)
    /// followed by ":", "=", or "is" ("the answer is", "Answer:", "final answer: ", "**Answer:**").
    /// The answer runs to the end of its line (or is the next non-empty line when the marker ends
    /// one), and stops at a sentence's end: "The answer is 42. I checked" gives "42".
    static func lastMarked(_ s: [Unicode.Scalar]) -> String? {
        var i = s.count - 6
        while i >= 0 {
            defer { i -= 1 }
            guard match(s, at: i, "answer") != nil, i == 0 || !isWordScalar(s[i - 1]) else { continue }
            var j = i + 6
            if j < s.count, isWordScalar(s[j]) { continue }  // "answered", "answers"
            j = skip(s, from: j, " \t*_#")
            if j < s.count, s[j] == ":" || s[j] == "\u{FF1A}" || s[j] == "=" {
                j += 1
            } else if let end = match(s, at: j, "is"), end == s.count || !isWordScalar(s[end]) {
                j = end
            } else if j < s.count, s[j] == "\n", i >= 6, match(s, at: i - 6, "final ") != nil {
                // A "**Final Answer**" heading: the answer is on the lines below.
            } else {
                continue
            }
            j = skip(s, from: j, " \t*_:")
            var line = restOfLine(s, from: j)
            if line.allSatisfy({ $0.properties.isWhitespace }) {
                // "Answer:\n\n42": the answer is on the next non-empty line.
                var k = j
                while k < s.count, s[k] != "\n" { k += 1 }
                while k < s.count, s[k].properties.isWhitespace { k += 1 }
                line = restOfLine(s, from: k)
            }
            let text = clean(sentence(line))
            if !text.isEmpty { return text }
        }
        return nil
    }

    /// The last line with anything but whitespace on it, cleaned.
    static func lastLine(_ s: [Unicode.Scalar]) -> String? {
        var end = s.count
        while end > 0 {
            var start = end
            while start > 0, s[start - 1] != "\n" { start -= 1 }
            let text = clean(s[start..<end])
            if !text.isEmpty { return text }
            end = start - 1
        }
        return nil
    }

    /// `s[i...]` up to (not including) the next newline.
    private static func restOfLine(_ s: [Unicode.Scalar], from i: Int) -> ArraySlice<Unicode.Scalar> {
        guard i < s.count else { return [] }
        var k = i
        while k < s.count, s[k] != "\n" { k += 1 }
        return s[i..<k]
    }

    /// Up to the first full stop followed by a space: a sentence's end, not a decimal point.
    private static func sentence(_ s: ArraySlice<Unicode.Scalar>) -> ArraySlice<Unicode.Scalar> {
        var k = s.startIndex
        while k + 1 < s.endIndex {
            if s[k] == ".", s[k + 1] == " " || s[k + 1] == "\t" { return s[s.startIndex..<k] }
            k += 1
        }
        return s
    }

    /// Trimmed, with markdown emphasis, `$...$`, a `\text{...}` wrapper and a trailing full stop removed.
    static func clean<C: Collection>(_ scalars: C) -> String where C.Element == Unicode.Scalar {
        var t = String(String.UnicodeScalarView(scalars)).trimmingCharacters(in: .whitespacesAndNewlines)
        var changed = true, rounds = 0
        // A few rounds unwrap "**$12$**."; a bound keeps "$ $ $ $ ..." from costing quadratic time.
        while changed && !t.isEmpty && rounds < 8 {
            changed = false
            rounds += 1
            for (open, close) in [("**", "**"), ("$", "$"), ("\\(", "\\)"), ("\\text{", "}"), ("\\textbf{", "}"), ("\\mathrm{", "}")]
            where t.count >= open.count + close.count && t.hasPrefix(open) && t.hasSuffix(close) {
                t = String(t.dropFirst(open.count).dropLast(close.count)).trimmingCharacters(in: .whitespacesAndNewlines)
                changed = true
            }
            for strip in ["**", "$"] where t.hasSuffix(strip) && !t.hasPrefix(strip) {
                t = String(t.dropLast(strip.count)).trimmingCharacters(in: .whitespaces)
                changed = true
            }
            if t.hasSuffix(".") {
                t = String(t.dropLast()).trimmingCharacters(in: .whitespaces)
                changed = true
            }
        }
        return t
    }

    // MARK: numbers

    /// The first number in `text` (the last with `last`), units, currency, percent and degree
    /// signs and thousands separators ignored: "12 cm" 12, "$3.50" 3.5, "1,234" 1234, "45°" 45,
    /// "30%" 30, "−2" -2. A text that is only a fraction ("3/4", "\frac{3}{4}") gives its value.
    public static func number(in text: String, last: Bool = false) -> Double? {
        let s = Array(text.unicodeScalars.prefix(scanLimit))
        if let f = fraction(s) { return f }
        var found: Double?
        var i = 0
        while i < s.count {
            if let (value, end) = numberToken(s, at: i) {
                if !last { return value }
                found = value
                i = end
            } else {
                i += 1
            }
        }
        return found
    }

    /// A number starting at `s[i]`: an optional sign, digits with optional 3-digit comma groups,
    /// an optional fraction part. Nil when `s[i]` starts none, or continues a word or a number.
    static func numberToken(_ s: [Unicode.Scalar], at i: Int) -> (Double, Int)? {
        var j = i
        var negative = false
        if s[j] == "-" || s[j] == "\u{2212}" {
            negative = true
            j += 1
        }
        guard j < s.count, isDigit(s[j]) || (s[j] == "." && j + 1 < s.count && isDigit(s[j + 1])) else { return nil }
        // Not the middle of a word or of a number read already ("x2", "3-4" reads 3 then 4).
        if i > 0, isWordScalar(s[i - 1]) || (negative && isDigit(s[i - 1])) { return nil }
        var digits = ""
        while j < s.count {
            if isDigit(s[j]) {
                digits.unicodeScalars.append(s[j])
                j += 1
            } else if s[j] == ",", !digits.isEmpty, isThousandsGroup(s, at: j + 1) {
                j += 1  // "1,234": a separator, not a list
            } else {
                break
            }
            guard digits.count <= 40 else { return nil }
        }
        if j + 1 < s.count, s[j] == ".", isDigit(s[j + 1]) {
            digits += "."
            j += 1
            while j < s.count, isDigit(s[j]), digits.count <= 80 {
                digits.unicodeScalars.append(s[j])
                j += 1
            }
        }
        if digits.hasPrefix(".") { digits = "0" + digits }
        guard let v = Double(digits), v.isFinite else { return nil }
        return (negative ? -v : v, j)
    }

    /// Three digits at `s[i...]` not followed by a fourth.
    private static func isThousandsGroup(_ s: [Unicode.Scalar], at i: Int) -> Bool {
        guard i + 3 <= s.count, isDigit(s[i]), isDigit(s[i + 1]), isDigit(s[i + 2]) else { return false }
        return i + 3 == s.count || !isDigit(s[i + 3])
    }

    /// "a/b", "\\frac{a}{b}" or "\\dfrac{a}{b}" and nothing else (spaces and `$` aside), as a / b.
    private static func fraction(_ s: [Unicode.Scalar]) -> Double? {
        guard s.count <= 64 else { return nil }
        var t = String(String.UnicodeScalarView(s.filter { $0 != " " && $0 != "$" }))
        for p in ["\\frac{", "\\dfrac{", "\\tfrac{"] where t.hasPrefix(p) && t.hasSuffix("}") {
            t = String(t.dropFirst(p.count).dropLast()).replacingOccurrences(of: "}{", with: "/")
        }
        let parts = t.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2,
              parts.allSatisfy({ (1...20).contains($0.count) && $0.allSatisfy { $0.isASCII && ($0.isNumber || $0 == "-" || $0 == ".") } }),
              let a = Double(parts[0]), let b = Double(parts[1]), b != 0 else { return nil }
        let v = a / b
        return v.isFinite ? v : nil
    }

    // MARK: choices

    /// The choice (0-based) a response picks among `choices`: the letter or the text of its boxed
    /// or marked answer, else the last "(B)" / "option B" / "choice B" in it, else its last line.
    /// Letters run A, B, C... in the order of `choices`.
    public static func choiceIndex(_ response: String, choices: [String]) -> Int? {
        guard !choices.isEmpty, choices.count <= 26 else { return nil }
        let s = window(response)
        if let b = lastBoxed(s), let k = choice(in: clean(b), choices: choices) { return k }
        if let m = lastMarked(s), let k = choice(in: m, choices: choices) { return k }
        if let k = lastLetterMention(s, count: choices.count) { return k }
        if let l = lastLine(s), let k = choice(in: l, choices: choices) { return k }
        return nil
    }

    /// The choice an answer text names: its letter ("B", "(B)", "B.", "B) text", "option B"),
    /// else the choice whose text it equals after normalisation (numbers compared as numbers).
    public static func choice(in answer: String, choices: [String]) -> Int? {
        guard !choices.isEmpty, choices.count <= 26 else { return nil }
        let s = Array(answer.unicodeScalars.prefix(scanLimit))
        let t = s.filter { !" \t()[].:*$".unicodeScalars.contains($0) }
        // The whole answer is one letter, any case: "b", "(B)", "B.".
        if t.count == 1, let k = letterIndex(t[0], count: choices.count, anyCase: true) { return k }
        // The answer starts with a labelled letter: "(B) 12", "B. 12", "B) 12", "B: 12".
        var i = 0
        while i < s.count, s[i] == " " || s[i] == "*" { i += 1 }
        if i < s.count, s[i] == "(", i + 2 < s.count, s[i + 2] == ")", let k = letterIndex(s[i + 1], count: choices.count) { return k }
        if i + 1 < s.count, ".):".unicodeScalars.contains(s[i + 1]), let k = letterIndex(s[i], count: choices.count),
           i + 2 == s.count || s[i + 2] == " " {
            return k
        }
        if let k = lastLetterMention(s, count: choices.count) { return k }
        let norm = normalizedText(answer)
        if let k = choices.firstIndex(where: { normalizedText($0) == norm }) { return k }
        if let v = number(in: answer), normalizedText(answer).allSatisfy({ !$0.isLetter }) {
            let numeric = choices.indices.filter { i in
                number(in: choices[i]).map { $0 == v && normalizedText(choices[i]).allSatisfy { !$0.isLetter } } ?? false
            }
            if numeric.count == 1 { return numeric[0] }
        }
        return nil
    }

    /// The last "(B)", "option B" or "choice B" (letter in range, upper case) in `s`.
    static func lastLetterMention(_ s: [Unicode.Scalar], count: Int) -> Int? {
        var i = s.count - 1
        while i >= 0 {
            defer { i -= 1 }
            guard let k = letterIndex(s[i], count: count) else { continue }
            // Not part of a word: "(B)" or "option B" followed by a non-letter.
            if i + 1 < s.count, isWordScalar(s[i + 1]) { continue }
            if i > 0, s[i - 1] == "(", i + 1 < s.count, s[i + 1] == ")" { return k }
            var j = i - 1
            while j >= 0, s[j] == " " { j -= 1 }
            if j < i - 1, j >= 5 {
                for word in ["option", "choice"] where j - word.unicodeScalars.count + 1 >= 0 {
                    let start = j - word.unicodeScalars.count + 1
                    if match(s, at: start, word) == j + 1, start == 0 || !isWordScalar(s[start - 1]) { return k }
                }
            }
        }
        return nil
    }

    private static func letterIndex(_ c: Unicode.Scalar, count: Int, anyCase: Bool = false) -> Int? {
        var v = Int(c.value)
        if anyCase, (97...122).contains(v) { v -= 32 }
        guard (65...90).contains(v), v - 65 < count else { return nil }
        return v - 65
    }

    // MARK: matching

    /// Text as compared: lower case, whitespace collapsed, surrounding punctuation and quotes removed.
    public static func normalizedText(_ text: String) -> String {
        let words = String(text.unicodeScalars.prefix(scanLimit)).lowercased().split(whereSeparator: \.isWhitespace)
        var t = words.joined(separator: " ")
        let edge = CharacterSet.punctuationCharacters.union(.symbols).union(.whitespaces).subtracting(CharacterSet(charactersIn: "%°"))
        t = t.trimmingCharacters(in: edge)
        return t
    }

    /// Whether `response` states `gold`, as MathVista scores it: numbers by value (integers exactly,
    /// floats rounded to `precision` decimal places, by default as many as the gold answer has),
    /// text after normalisation, lists element by element, choices by index whether either side
    /// gives the letter or the text.
    ///
    /// Unlike MathVista's scorer, which reads an integer answer with `int(float(x))`, "12.7" is not
    /// the integer 12 here: a reward should not pay for a wrong number.
    public static func isCorrect(_ response: String, gold: String, type: AnswerType, precision: Int? = nil,
                                 choices: [String] = []) -> Bool {
        if type == .choice || !choices.isEmpty {
            guard let g = choice(in: gold, choices: choices), let p = choiceIndex(response, choices: choices) else { return false }
            return g == p
        }
        guard let e = extract(response) else { return false }
        return matches(e, gold: gold, type: type, precision: precision)
    }

    /// Whether an extracted answer equals `gold` under `type` (no choices).
    public static func matches(_ e: Extraction, gold: String, type: AnswerType, precision: Int? = nil) -> Bool {
        switch type {
        case .integer:
            guard let g = number(in: gold), let p = answerNumber(e) else { return false }
            return p == p.rounded() && p == g
        case .float:
            guard let g = number(in: gold), let p = answerNumber(e) else { return false }
            let places = min(12, max(0, precision ?? decimals(gold)))
            return rounded(p, places) == rounded(g, places)
        case .text, .choice:
            return normalizedText(e.text) == normalizedText(gold)
        case .list:
            let g = listElements(gold), p = listElements(e.text)
            guard !g.isEmpty, g.count == p.count else { return false }
            return zip(g, p).allSatisfy { gi, pi in
                if let gv = number(in: gi), let pv = number(in: pi),
                   normalizedText(gi).allSatisfy({ !$0.isLetter }) {
                    return rounded(pv, decimals(gi)) == rounded(gv, decimals(gi))
                }
                return normalizedText(gi) == normalizedText(pi)
            }
        }
    }

    /// The number an extraction states: the first of a boxed or marked answer ("12 cm"), the last
    /// of a bare last line ("so the total is 5 + 7 = 12").
    static func answerNumber(_ e: Extraction) -> Double? {
        number(in: e.text, last: e.source == .lastLine)
    }

    /// The elements of "[1, 2, 3]", "(a, b)" or "1, 2, 3", trimmed.
    static func listElements(_ text: String) -> [String] {
        var t = text.trimmingCharacters(in: .whitespaces)
        if let f = t.first, let l = t.last, "[(".contains(f), "])".contains(l), t.count >= 2 { t = String(t.dropFirst().dropLast()) }
        return t.split(separator: ",", omittingEmptySubsequences: false).prefix(1024)
            .map { $0.trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "'\"")) }
    }

    /// Decimal places written in the first number of `text` ("1.50" 2, "3" 0).
    static func decimals(_ text: String) -> Int {
        let s = Array(text.unicodeScalars.prefix(256))
        guard let start = s.firstIndex(where: isDigit), let dot = s[start...].firstIndex(where: { !isDigit($0) && $0 != "," }),
              s[dot] == "." else { return 0 }
        return s[(dot + 1)...].prefix(while: isDigit).count
    }

    /// `v` rounded to `places` decimal places, as text (so 0.1 + 0.2 and 0.3 agree at any precision that holds them).
    private static func rounded(_ v: Double, _ places: Int) -> String {
        let s = String(format: "%.\(min(places, 12))f", v)
        return s.hasPrefix("-") && s.dropFirst().allSatisfy({ $0 == "0" || $0 == "." }) ? String(s.dropFirst()) : s
    }

    // MARK: scalars

    /// The index after `word` if `s` holds it at `i`, ASCII letters compared in any case.
    static func match(_ s: [Unicode.Scalar], at i: Int, _ word: String) -> Int? {
        var k = i
        for w in word.unicodeScalars {
            guard k < s.count, k >= 0 else { return nil }
            var c = s[k].value
            if (65...90).contains(c) { c += 32 }
            guard c == w.value else { return nil }
            k += 1
        }
        return k
    }

    private static func skip(_ s: [Unicode.Scalar], from i: Int, _ set: String) -> Int {
        var j = i
        while j < s.count, set.unicodeScalars.contains(s[j]) { j += 1 }
        return j
    }

    static func isDigit(_ c: Unicode.Scalar) -> Bool { c.value >= 48 && c.value <= 57 }

    static func isWordScalar(_ c: Unicode.Scalar) -> Bool { c.properties.isAlphabetic || isDigit(c) || c == "_" }
}
