/// A fixed word-level vocabulary: special tokens, the numbers 0...199 as single tokens, then the
/// step and question words. Words are separated by whitespace; ids never change between versions.
public struct Tokenizer: Sendable, Equatable {
    /// The largest number with its own token.
    public static let maxNumber = 199
    /// Special tokens, ids 0...4 in this order.
    public static let specialWords = ["<pad>", "<bos>", "<eos>", "<image>", "<response>"]
    /// Step words and symbols of the chain grammar.
    public static let stepWords = ["read", "height", "keep", "none", "count", "largest", "smallest", "answer",
                                   "+", "-", "=", ">", "<", ";"]
    /// Words of the question templates and of text-only prompts.
    public static let questionWords = ["what", "is", "the", "sum", "of", "digits", "?", "digit", "minus",
                                       "how", "many", "are", "greater", "than", "less", "equal", "to",
                                       "difference", "between", "two", "numbers", "total", "bars",
                                       "labelled", "above", "below", "in", "image", "given", "and", "labels",
                                       "heights"]

    /// The standard vocabulary every layer shares.
    public static let standard = Tokenizer()

    /// Every word, indexed by id.
    public let words: [String]
    private let ids: [String: Int]

    /// Padding (id 0).
    public let pad: Int
    /// Start of every sequence.
    public let bos: Int
    /// End of the response.
    public let eos: Int
    /// Stands for the image; the model puts the image's patch embeddings here.
    public let image: Int
    /// Begins the response: a sequence is `<bos> [<image>] question <response> chain <eos>`.
    public let response: Int
    /// The step separator ";".
    public let separator: Int
    /// The "answer" step word.
    public let answerWord: Int
    /// Id of the number 0; number n has id `firstNumber + n`.
    public let firstNumber: Int

    private init() {
        let w = Self.specialWords + (0...Self.maxNumber).map(String.init) + Self.stepWords + Self.questionWords
        var map = [String: Int]()
        for (i, word) in w.enumerated() {
            precondition(map[word] == nil, "duplicate vocabulary word \(word)")
            map[word] = i
        }
        words = w
        ids = map
        (pad, bos, eos, image, response) = (0, 1, 2, 3, 4)
        firstNumber = Self.specialWords.count
        separator = map[";"]!
        answerWord = map["answer"]!
    }

    /// Number of tokens.
    public var vocabSize: Int { words.count }

    /// The id of `word`, or an error naming it.
    public func id(of word: String) throws -> Int {
        guard let i = ids[word] else { throw TasksError.unknownWord(word: word, position: 0, text: word) }
        return i
    }

    /// Whether `word` is in the vocabulary.
    public func contains(_ word: String) -> Bool { ids[word] != nil }

    /// The id of the number `n`, if it has its own token.
    public func id(ofNumber n: Int) -> Int? { (0...Self.maxNumber).contains(n) ? firstNumber + n : nil }

    /// The number a token stands for, if it is a number token.
    public func number(_ id: Int) -> Int? {
        (firstNumber...(firstNumber + Self.maxNumber)).contains(id) ? id - firstNumber : nil
    }

    /// Whether `id` is one of the special tokens.
    public func isSpecial(_ id: Int) -> Bool { id >= 0 && id < Self.specialWords.count }

    /// Ids of the whitespace-separated words of `text`; an unknown word throws an error naming it.
    public func encode(_ text: String) throws -> [Int] {
        let w = text.split(whereSeparator: \.isWhitespace)
        var out = [Int]()
        out.reserveCapacity(w.count)
        for (p, word) in w.enumerated() {
            guard let i = ids[String(word)] else {
                throw TasksError.unknownWord(word: String(word), position: p, text: text)
            }
            out.append(i)
        }
        return out
    }

    /// The words of `ids` joined by single spaces; ids outside the vocabulary are a programming error.
    public func decode(_ ids: [Int], skipSpecial: Bool = false) -> String {
        var parts = [String]()
        parts.reserveCapacity(ids.count)
        for i in ids {
            precondition(i >= 0 && i < words.count, "token id \(i) outside the vocabulary 0..<\(words.count)")
            if skipSpecial && isSpecial(i) { continue }
            parts.append(words[i])
        }
        return parts.joined(separator: " ")
    }

    /// The text of a generated response: ids up to the first `<eos>`, special tokens left out.
    public func responseText(_ ids: [Int]) -> String {
        decode(Array(ids.prefix { $0 != eos }), skipSpecial: true)
    }

    /// `<bos> [<image>] question <response>`: what the policy conditions on.
    public func encodePrompt(question: String, hasImage: Bool) throws -> [Int] {
        [bos] + (hasImage ? [image] : []) + (try encode(question)) + [response]
    }

    /// `chain <eos>`: what the policy writes.
    public func encodeResponse(_ chain: String) throws -> [Int] { try encode(chain) + [eos] }

    /// Prompt and response ids for `example`, with its visible target (or the oracle chain if `oracle`).
    public func encode(_ example: Example, oracle: Bool = false) throws -> (prompt: [Int], response: [Int]?) {
        let prompt = try encodePrompt(question: example.question, hasImage: example.image != nil)
        guard let target = oracle ? example.chain : example.visibleTarget else { return (prompt, nil) }
        return (prompt, try encodeResponse(target))
    }
}
