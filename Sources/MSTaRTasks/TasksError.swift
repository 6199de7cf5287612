/// Errors from the task layer; each message says what was wrong and, where it can, what to do.
public enum TasksError: Error, CustomStringConvertible, Equatable, Sendable {
    /// A data file that cannot be found or read.
    case missingData(String)
    /// A malformed file, value or argument.
    case invalid(String)
    /// A word the tokenizer does not know.
    case unknownWord(word: String, position: Int, text: String)

    public var description: String {
        switch self {
        case .missingData(let m), .invalid(let m): return m
        case .unknownWord(let w, let p, let t):
            return "unknown word \"\(w)\" at word \(p + 1) of \"\(t)\"; the vocabulary is listed by "
                + "Tokenizer.standard.words (numbers 0...\(Tokenizer.maxNumber), the step words and question words)"
        }
    }
}
