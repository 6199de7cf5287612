extension ReasoningItem {
    /// The user turn's text: the question, then each choice on its own line as "(A) text".
    public var promptText: String {
        guard !choices.isEmpty else { return question }
        return question + "\n" + choices.enumerated().map { "(\(Self.letter($0.offset))) \($0.element)" }.joined(separator: "\n")
    }

    /// What a response answers, in a form that two responses share exactly when they give the same
    /// answer: `goldKey` when it states the gold answer (`isCorrect`), else the choice it picks, the
    /// number it ends with, or its normalised answer text; nil when it states no answer. Majority
    /// votes and agreement rankings count these keys.
    public func answerKey(_ response: String) -> String? {
        if isCorrect(response) { return Self.goldKey }
        if !choices.isEmpty {
            return FreeTextAnswer.choiceIndex(response, choices: choices).map { "choice \(Self.letter($0))" }
        }
        guard let e = FreeTextAnswer.extract(response) else { return nil }
        switch answerType {
        case .integer, .float:
            return FreeTextAnswer.answerNumber(e).map { "number \($0)" }  // a last line without a number answers nothing
        case .list:
            return "list " + FreeTextAnswer.listElements(e.text).map(FreeTextAnswer.normalizedText).joined(separator: "|")
        case .text, .choice:
            return "text " + FreeTextAnswer.normalizedText(e.text)
        }
    }

    /// The key of a response that states the gold answer.
    public static let goldKey = "gold"
}
