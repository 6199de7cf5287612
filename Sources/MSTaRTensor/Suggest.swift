/// "Did you mean" suggestions by edit distance (optimal string alignment: a swap of two
/// neighbouring letters counts as one edit, so "stpe" is one edit from "step").
public enum Suggest {
    /// The edit distance between `a` and `b` (insertions, deletions, substitutions, adjacent swaps).
    public static func distance(_ a: String, _ b: String) -> Int {
        let s = Array(a), t = Array(b)
        if s.isEmpty { return t.count }
        if t.isEmpty { return s.count }
        var d = [[Int]](repeating: [Int](repeating: 0, count: t.count + 1), count: s.count + 1)
        for i in 0...s.count { d[i][0] = i }
        for j in 0...t.count { d[0][j] = j }
        for i in 1...s.count {
            for j in 1...t.count {
                let cost = s[i - 1] == t[j - 1] ? 0 : 1
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
                if i > 1, j > 1, s[i - 1] == t[j - 2], s[i - 2] == t[j - 1] {
                    d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
                }
            }
        }
        return d[s.count][t.count]
    }

    /// The candidate closest to `word`, if it is close enough to be what was meant
    /// (within 1 edit for words up to 4 letters, 2 for longer ones, or the only candidate it is a prefix of).
    public static func closest(to word: String, in candidates: [String]) -> String? {
        let w = word.lowercased()
        let limit = w.count <= 4 ? 1 : 2
        var best: (String, Int)? = nil
        for c in candidates {
            // A length gap is a lower bound on the distance: most candidates end here, and a long
            // word is never compared letter by letter with every name.
            guard abs(c.count - w.count) <= limit else { continue }
            let d = distance(w, c.lowercased())
            if d <= limit, best == nil || d < best!.1 { best = (c, d) }
        }
        if let best { return best.0 }
        let prefixed = candidates.filter { $0.lowercased().hasPrefix(w) }
        return prefixed.count == 1 && !w.isEmpty ? prefixed[0] : nil
    }
}
