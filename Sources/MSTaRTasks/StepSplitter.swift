/// Splits a free-text response into reasoning steps, the units a process reward model scores.
///
/// Real models mark steps in different ways: one step a line, "Step 1:" headings, or the tag a
/// PRM was trained with (Math-Shepherd's "ки", or a blank line "\n\n"). The digit tasks' chains
/// split at " ; " (`Chain.split`); this is for everything else. Steps are returned as written
/// (trimmed), so a PRM sees the text the policy produced.
public enum StepSplitter {
    /// Only the first `scanLimit` Unicode scalars are split: a runaway response costs no more.
    public static let scanLimit = 65_536
    /// At most this many steps; the text past the last split stays in the last step.
    public static let maxSteps = 256

    /// The steps of `response`: split at every `tag` when one is given (e.g. "ки" or "\n\n"),
    /// else at "Step k:" markers when there are any (text before the first marker is a step of
    /// its own), else at line breaks. Empty and all-whitespace steps are dropped; CR LF reads as LF.
    public static func split(_ response: String, tag: String? = nil) -> [String] {
        var s = [Unicode.Scalar]()
        s.reserveCapacity(min(response.utf8.count, scanLimit))  // utf8.count is O(1); counting scalars would walk it all
        for c in response.unicodeScalars.prefix(scanLimit) {
            if c == "\n", s.last == "\r" { s.removeLast() }
            s.append(c)
        }
        if let tag, !tag.isEmpty {
            var t = Array(tag.unicodeScalars.prefix(64))
            if t.count > 1, t.contains("\r") { t.removeAll { $0 == "\r" } }  // "\r\n\r\n" as "\n\n"
            return pieces(s, cuts: occurrences(of: t, in: s).map { ($0, $0 + t.count) })
        }
        let markers = stepMarkers(s)
        if !markers.isEmpty { return pieces(s, cuts: markers.map { ($0, $0) }) }
        return pieces(s, cuts: s.indices.filter { s[$0] == "\n" }.map { ($0, $0 + 1) })
    }

    /// The text between cuts (each cut removes `s[from..<to]`), trimmed, empty pieces dropped.
    private static func pieces(_ s: [Unicode.Scalar], cuts: [(Int, Int)]) -> [String] {
        var out = [String]()
        var start = 0
        func add(_ r: Range<Int>) {
            let text = String(String.UnicodeScalarView(s[r])).trimmingWhitespace()
            if !text.isEmpty { out.append(text) }
        }
        for (from, to) in cuts where from >= start {
            if out.count == maxSteps - 1 { break }
            add(start..<from)
            start = to
        }
        add(start..<s.count)
        return out
    }

    /// Start of every non-overlapping occurrence of `t` in `s`.
    private static func occurrences(of t: [Unicode.Scalar], in s: [Unicode.Scalar]) -> [Int] {
        guard !t.isEmpty, t.count <= s.count else { return [] }
        var out = [Int](), i = 0
        while i + t.count <= s.count {
            if s[i] == t[0], Array(s[i..<(i + t.count)]) == t {
                out.append(i)
                i += t.count
            } else {
                i += 1
            }
        }
        return out
    }

    /// Where each "Step k" marker starts: the word "step" (any case, not inside a word, after
    /// optional markdown "#", "*" or "-" at a line's start) with a number and then ":", ".", ")"
    /// or "**". The markdown before it belongs to the marker's step.
    private static func stepMarkers(_ s: [Unicode.Scalar]) -> [Int] {
        var out = [Int]()
        var i = 0
        while i + 5 < s.count {
            defer { i += 1 }
            guard let end = FreeTextAnswer.match(s, at: i, "step"), i == 0 || !FreeTextAnswer.isWordScalar(s[i - 1]) else { continue }
            var j = end
            while j < s.count, s[j] == " " { j += 1 }
            let digits = j
            while j < s.count, FreeTextAnswer.isDigit(s[j]), j - digits < 6 { j += 1 }
            guard j > digits else { continue }
            while j < s.count, s[j] == " " { j += 1 }
            guard j < s.count, ":.)*".unicodeScalars.contains(s[j]) else { continue }
            if s[j] == ".", j + 1 < s.count, FreeTextAnswer.isDigit(s[j + 1]) { continue }  // "step 1.5"
            // Markdown in front of the marker on its line ("## Step 2:", "**Step 2:**") moves with it.
            var start = i
            while start > 0, "#*- \t".unicodeScalars.contains(s[start - 1]) { start -= 1 }
            if start > 0, s[start - 1] != "\n" { start = i }
            out.append(start)
        }
        return out
    }
}

extension StringProtocol {
    /// Trimmed of whitespace and newlines at both ends (Unicode's White_Space property).
    func trimmingWhitespace() -> String {
        let u = unicodeScalars
        guard let first = u.firstIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        let last = u.lastIndex(where: { !$0.properties.isWhitespace })!
        return String(String.UnicodeScalarView(u[first...last]))
    }
}
