import Testing
import MSTaRTasks

@Suite struct AnswerExtractorTests {
    @Test func findsTheMarkedAnswer() {
        #expect(AnswerExtractor.extract("read 3 7 ; 3 + 7 = 10 ; answer 10") == 10)
        #expect(AnswerExtractor.extract("Answer: 15") == 15)
        #expect(AnswerExtractor.extract("so the answer is 15.") == 15)
        #expect(AnswerExtractor.extract("answer = 7") == 7)
        #expect(AnswerExtractor.extract("ANSWER 7 <eos> <pad> <pad>") == 7)
        #expect(AnswerExtractor.extract("answer 15.0") == 15)
        #expect(AnswerExtractor.extract("answer 015") == 15)
        #expect(AnswerExtractor.extract("answer -3") == -3)
        #expect(AnswerExtractor.extract("answer 4 ; answer 5") == 5)  // the last one counts
        #expect(AnswerExtractor.extract("answer\n\t 12") == 12)
        #expect(AnswerExtractor.isCorrect("answer 12", gold: 12))
        #expect(!AnswerExtractor.isCorrect("answer 13", gold: 12))
    }

    @Test func malformedTextIsNoAnswer() {
        let junk = ["", "   ", "answer", "answer ;", "answer x 15", "15", "the sum is 15", "answer 15.5",
                    "answer 99999999999999999999999999", "answer: ?", "answer ٣", "答案 answer 二",
                    "answer - 3", "read 3 7 ; 3 + 7 = 10", String(repeating: "answer ", count: 1000),
                    "\u{0}\u{1}answer\u{7F}", "answer 5 wait no answer", "<eos>"]
        for text in junk {
            #expect(AnswerExtractor.extract(text) == nil, "\(text.prefix(40))")
        }
    }

    @Test func neverCrashesOnRandomText() {
        var state: UInt64 = 12345
        let alphabet = Array("answer 0123456789 -+=;:.,?<>é漢\n\t")
        for _ in 0..<2000 {
            var s = ""
            for _ in 0..<(Int(state % 40)) {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                s.append(alphabet[Int(state >> 33) % alphabet.count])
            }
            let a = AnswerExtractor.extract(s)
            _ = StepVerifier.verify(s, kind: .sum, facts: SceneFacts(reads: [[1, 2]]), gold: 3)
            // Whatever it finds was written after an "answer" marker.
            if let a { #expect(s.lowercased().contains("answer") && s.contains(String(abs(a) % 10))) }
        }
    }

    @Test func extractsFromTokenIDs() throws {
        let t = Tokenizer.standard
        let ids = try t.encodeResponse("read 3 7 ; 3 + 7 = 10 ; answer 10")
        #expect(AnswerExtractor.extract(ids: ids) == 10)
        #expect(AnswerExtractor.extract(ids: [t.pad, t.eos]) == nil)
        // Whatever follows <eos> is not part of the response.
        let after = try t.encode("read 3 7 ; 3 + 7 = 10 <eos> answer 10")
        #expect(AnswerExtractor.extract(ids: after) == nil)
        #expect(t.responseText(after) == "read 3 7 ; 3 + 7 = 10")
        let e = Example(id: "x", family: .arithmetic, level: .one, kind: .sum, question: QuestionKind.sum.text,
                        image: nil, answer: 10, chain: "read 3 7 ; 3 + 7 = 10 ; answer 10", annotation: .chain,
                        facts: SceneFacts(reads: [[3, 7]]))
        let v = StepVerifier.verify(ids: ids + [t.pad, t.pad], for: e)
        #expect(v.stepsCorrect && v.answerCorrect && v.steps.count == 3)
    }
}
