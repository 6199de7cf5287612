/// One lexical token of generated or hand-written text.
enum Lexeme: Equatable, Sendable {
    case number(Int)
    case word(String)
    case symbol(Character)
}

/// Splits any text into numbers, lower-case words and single-character symbols; never fails.
///
/// "-" directly before a digit is a sign unless the previous token is a number ("7 -3" is 7 minus 3);
/// "15.0" is the number 15, "15.5" and numbers too large for Int become words, so they never count
/// as answers.
func lex(_ text: String) -> [Lexeme] {
    var out = [Lexeme]()
    let chars = Array(text.lowercased())
    var i = 0
    func isDigit(_ c: Character) -> Bool { c.isASCII && c.isNumber }
    while i < chars.count {
        let c = chars[i]
        if c.isWhitespace { i += 1; continue }
        let signed: Bool = {
            guard c == "-", i + 1 < chars.count, isDigit(chars[i + 1]) else { return false }
            if case .number = out.last { return false }
            return true
        }()
        if isDigit(c) || signed {
            var j = i + (signed ? 1 : 0)
            while j < chars.count, isDigit(chars[j]) { j += 1 }
            var literal = String(chars[i..<j])
            var fractionIsZero = true
            // A decimal point followed by digits belongs to the number.
            if j + 1 < chars.count, chars[j] == ".", isDigit(chars[j + 1]) {
                var k = j + 1
                while k < chars.count, isDigit(chars[k]) { k += 1 }
                let fraction = chars[(j + 1)..<k]
                fractionIsZero = fraction.allSatisfy { $0 == "0" }
                if !fractionIsZero { literal = String(chars[i..<k]) }
                j = k
            }
            if fractionIsZero, let n = Int(literal) { out.append(.number(n)) } else { out.append(.word(literal)) }
            i = j
        } else if c.isLetter || c == "<" && i + 1 < chars.count && chars[i + 1].isLetter {
            // Words, and special tokens such as <eos>, stay whole.
            var j = i + 1
            while j < chars.count, chars[j].isLetter || chars[j] == "_" || (c == "<" && chars[j] == ">") {
                if chars[j] == ">" { j += 1; break }
                j += 1
            }
            out.append(.word(String(chars[i..<j])))
            i = j
        } else {
            out.append(.symbol(c))
            i += 1
        }
    }
    return out
}
