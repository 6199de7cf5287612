import MSTaRTensor
import Testing
import MSTaRWorkbench

@Suite struct LexerTests {
    func words(_ s: String) -> [String] {
        guard case .words(let w) = Lexer.split(s) else { Issue.record("incomplete: \(s)"); return [] }
        return w.map(\.text)
    }

    @Test func splitsOnWhitespaceAndKeepsNumbers() {
        #expect(words("set temperature 0.7") == ["set", "temperature", "0.7"])
        #expect(words("  evolve 3   --k 16\t") == ["evolve", "3", "--k", "16"])
        #expect(words("eval --split test --k 16 --temperature 1.0") == ["eval", "--split", "test", "--k", "16", "--temperature", "1.0"])
    }

    @Test func quotesGroupAndEscape() {
        #expect(words(#"plot greedy_acc --title "a b # c" --out 'x y.png'"#) == ["plot", "greedy_acc", "--title", "a b # c", "--out", "x y.png"])
        #expect(words(#"say "q\"uote" it\ s"#) == ["say", "q\"uote", "it s"])
        #expect(words(#"--title="two words""#) == ["--title=two words"])
        #expect(words(#"x """#) == ["x", ""])
    }

    @Test func quotedWordsAreMarked() {
        guard case .words(let w) = Lexer.split(#"a "--b" c"#) else { Issue.record("incomplete"); return }
        #expect(w.map(\.quoted) == [false, true, false])
        #expect(w.map(\.start) == [0, 2, 8])
    }

    @Test func commentsRunToTheEndOfTheLine() {
        #expect(words("seed 3 # the usual seed") == ["seed", "3"])
        #expect(words("# only a comment").isEmpty)
        #expect(words("a#b") == ["a#b"])
    }

    @Test func openQuoteOrTrailingBackslashIsIncomplete() {
        #expect(Lexer.isIncomplete(#"plot x --title "open"#))
        #expect(Lexer.isIncomplete("evolve 3 \\"))
        #expect(!Lexer.isIncomplete("evolve 3"))
        #expect(words("evolve 3 \\\n  --k 16") == ["evolve", "3", "--k", "16"])
        #expect(words("x \"line one\nline two\"") == ["x", "line one\nline two"])
    }

    @Test func assemblerJoinsContinuedLines() {
        var a = LineAssembler()
        #expect(a.feed("evolve 3 \\") == nil)
        #expect(a.isPending)
        #expect(a.feed("--k 16") == "evolve 3 \\\n--k 16")
        #expect(!a.isPending)
        #expect(a.feed("say \"hello") == nil)
        #expect(a.reset() == "say \"hello")
        #expect(a.feed("seed 1") == "seed 1")
    }

    @Test func quoteIfNeededReadsBackUnchanged() {
        for s in ["plain", "two words", "q\"uote", "back\\slash", "new\nline", "#hash", "", "tab\there"] {
            let q = Lexer.quoteIfNeeded(s)
            #expect(words("x " + q) == ["x", s], "\(q)")
        }
        #expect(Lexer.quoteIfNeeded("plots/a.png") == "plots/a.png")
        #expect(Lexer.quoteIfNeeded("a b") == "\"a b\"")
    }
}

@Suite struct SuggestTests {
    @Test func editDistanceCountsSwapsAsOneEdit() {
        #expect(Suggest.distance("stpe", "step") == 1)
        #expect(Suggest.distance("kitten", "sitting") == 3)
        #expect(Suggest.distance("", "abc") == 3)
        #expect(Suggest.distance("temprature", "temperature") == 1)
        #expect(Suggest.distance("same", "same") == 0)
    }

    @Test func closestIsWithinReach() {
        #expect(Suggest.closest(to: "stpe", in: ["step", "seed", "set"]) == "step")
        #expect(Suggest.closest(to: "temprature", in: ["temperature", "k"]) == "temperature")
        #expect(Suggest.closest(to: "xyz", in: ["step", "seed"]) == nil)
        #expect(Suggest.closest(to: "hist", in: ["history", "help"]) == "history")  // unique prefix
    }
}
