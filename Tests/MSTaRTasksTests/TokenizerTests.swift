import Testing
import MSTaRTasks

@Suite struct TokenizerTests {
    let t = Tokenizer.standard

    @Test func fixedVocabularyLayout() throws {
        #expect(t.vocabSize == 5 + 200 + 14 + 32)
        #expect([t.pad, t.bos, t.eos, t.image, t.response] == [0, 1, 2, 3, 4])
        #expect(t.words[0...4] == ["<pad>", "<bos>", "<eos>", "<image>", "<response>"])
        #expect(try t.id(of: "0") == 5 && t.id(ofNumber: 199) == 204 && t.id(ofNumber: 200) == nil)
        #expect(t.number(try t.id(of: "42")) == 42 && t.number(t.eos) == nil)
        #expect(t.words[t.separator] == ";" && t.words[t.answerWord] == "answer")
        #expect(Set(t.words).count == t.vocabSize)
    }

    @Test func encodesPromptsAndResponses() throws {
        let prompt = try t.encodePrompt(question: "what is the sum of the digits ?", hasImage: true)
        #expect(prompt.first == t.bos && prompt[1] == t.image && prompt.last == t.response && prompt.count == 11)
        #expect(try t.encodePrompt(question: "given 3 7 what is the sum of the digits ?", hasImage: false).contains(t.image) == false)
        let response = try t.encodeResponse("read 3 7 5 ; 3 + 7 = 10 ; 10 + 5 = 15 ; answer 15")
        #expect(response.count == 20 && response.last == t.eos)
        #expect(t.decode(response) == "read 3 7 5 ; 3 + 7 = 10 ; 10 + 5 = 15 ; answer 15 <eos>")
        #expect(t.decode(response, skipSpecial: true) == "read 3 7 5 ; 3 + 7 = 10 ; 10 + 5 = 15 ; answer 15")
    }

    @Test func everyGeneratedTextRoundTrips() throws {
        let suite = try Fixture.suite()
        var longestPrompt = 0, longestChain = 0, longestOODChain = 0
        for split in SplitName.allCases {
            for e in suite.examples(split) {
                let q = try t.encode(e.question), c = try t.encode(e.chain)
                #expect(t.decode(q) == e.question)
                #expect(t.decode(c) == e.chain)
                let (prompt, response) = try t.encode(e)
                #expect(prompt.count == q.count + (e.image == nil ? 2 : 3))
                #expect((response == nil) == (e.annotation == .none))
                longestPrompt = max(longestPrompt, prompt.count)
                if e.level == .ood { longestOODChain = max(longestOODChain, c.count) } else { longestChain = max(longestChain, c.count) }
            }
        }
        // Short sequences for a small model (text-only prompts carry their facts).
        #expect(longestPrompt <= 28)
        #expect(longestChain <= 40)
        #expect(longestOODChain <= 56)
    }

    @Test func unknownWordsAreNamed() throws {
        do {
            _ = try t.encode("read 3 seven 5")
            Issue.record("an unknown word must throw")
        } catch let error as TasksError {
            #expect(error == .unknownWord(word: "seven", position: 2, text: "read 3 seven 5"))
            #expect(error.description.contains("\"seven\"") && error.description.contains("word 3"))
        } catch {
            Issue.record("unexpected error \(error)")
        }
        #expect(throws: TasksError.self) { try t.encode("answer 200") }
        #expect(throws: TasksError.self) { try t.encode("answer -1") }
        #expect(throws: TasksError.self) { try t.encode("Answer 1") }
        #expect(try t.encode("") == [])
    }
}
