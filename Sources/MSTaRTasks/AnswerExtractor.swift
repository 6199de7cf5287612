/// Finds the final answer in any text; anything it cannot read is "no answer" (nil), never a crash.
public enum AnswerExtractor {
    /// The number after the last "answer" marker ("answer 15", "Answer: 15", "the answer is 15."),
    /// or nil when there is none, it is not an integer, or it does not fit in an Int.
    public static func extract(_ text: String) -> Int? {
        let tokens = lex(text)
        guard let marker = tokens.lastIndex(of: .word("answer")) else { return nil }
        var i = marker + 1
        // Fillers allowed between the marker and the number.
        while i < tokens.count, [.symbol(":"), .symbol("="), .word("is")].contains(tokens[i]) { i += 1 }
        guard i < tokens.count, case .number(let n) = tokens[i] else { return nil }
        return n
    }

    /// Whether `text` states `gold` as its final answer.
    public static func isCorrect(_ text: String, gold: Int) -> Bool { extract(text) == gold }

    /// The answer in generated token ids, read up to the first `<eos>`.
    public static func extract(ids: [Int], tokenizer: Tokenizer = .standard) -> Int? {
        extract(tokenizer.responseText(ids))
    }
}
