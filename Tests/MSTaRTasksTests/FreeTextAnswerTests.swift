import Foundation
import Testing
import MSTaRTasks

@Suite struct FreeTextAnswerTests {
    /// Responses in the shapes real models write them, and the answer each states.
    static let extractions: [(response: String, text: String, source: FreeTextAnswer.Source)] = [
        ("The bars are 3, 5 and 2 high, so the total is 10.\n\\boxed{10}", "10", .boxed),
        ("First \\boxed{4}, but checking again the count is \\boxed{5}.", "5", .boxed),
        ("$\\boxed{\\frac{3}{4}}$", "\\frac{3}{4}", .boxed),
        ("So the set is \\boxed{\\{1, 2\\}}.", "\\{1, 2\\}", .boxed),
        ("The area is \\boxed{12 \\text{ cm}^2} and \\boxed{unfinished", "12 \\text{ cm}^2", .boxed),
        ("Let me think.\nThe answer is 42.", "42", .marker),
        ("ANSWER: B", "B", .marker),
        ("Final answer: 3.50", "3.50", .marker),
        ("The answer is 7. I double-checked the sum.", "7", .marker),
        ("answer is 1 at first.\nAfter correcting: the answer is (C).", "(C)", .marker),
        ("**Answer:** 45°", "45°", .marker),
        ("**Final Answer**\n\n$12$", "12", .marker),
        ("Answer:\n\n  triangle  \n", "triangle", .marker),
        ("The answers vary.\n30%", "30%", .lastLine),
        ("We add 5 and 7.\n\nSo 5 + 7 = 12.\n\n", "So 5 + 7 = 12", .lastLine),
        ("答案是 answer: 五", "五", .marker),
    ]

    @Test func extractsTheFinalAnswer() {
        for (response, text, source) in Self.extractions {
            #expect(FreeTextAnswer.extract(response) == .init(text: text, source: source), "\(response)")
        }
        for empty in ["", "   ", "\n\n\t", "\\boxed{}"] {
            #expect(FreeTextAnswer.extract(empty) == nil || FreeTextAnswer.extract(empty)!.source == .lastLine, "\(empty)")
        }
        #expect(FreeTextAnswer.extract("") == nil)
        #expect(FreeTextAnswer.extract(" \n ") == nil)
    }

    @Test func readsNumbersWithUnitsAndSeparators() {
        let cases: [(String, Double?)] = [
            ("12 cm", 12), ("$3.50", 3.5), ("1,234", 1234), ("1,234,567.5 people", 1_234_567.5), ("45°", 45),
            ("30%", 30), ("-2.5", -2.5), ("\u{2212}7", -7), ("x = 0.75", 0.75), (".5", 0.5), ("3/4", 0.75),
            ("\\frac{1}{8}", 0.125), ("\\dfrac{6}{3}", 2), ("45^\\circ", 45), ("about 1,23 things", 1), ("no number", nil),
            ("x2 y", nil), ("1/0", 1), ("1" + String(repeating: "0", count: 100), nil),
        ]
        for (text, value) in cases {
            #expect(FreeTextAnswer.number(in: text) == value, "\(text)")
        }
        #expect(FreeTextAnswer.number(in: "5 + 7 = 12", last: true) == 12)
        #expect(FreeTextAnswer.number(in: "3-4", last: true) == 4)
    }

    /// (response, gold, type, precision, choices, correct): a table of scored responses.
    static let scored: [(String, String, AnswerType, Int?, [String], Bool)] = [
        ("The answer is 12 cm.", "12", .integer, nil, [], true),
        ("\\boxed{12.0}", "12", .integer, nil, [], true),
        ("The answer is 12.7", "12", .integer, nil, [], false),
        ("So there are 1,234 apples in total.\nAnswer: 1,234", "1234", .integer, nil, [], true),
        ("The total cost is $3.50.", "3.5", .float, 1, [], true),
        ("Answer: 3.54", "3.5", .float, 1, [], true),
        ("Answer: 3.56", "3.5", .float, 1, [], false),
        ("The ratio is \\boxed{0.33}", "0.333", .float, 2, [], true),
        ("x is 1.5", "1.50", .float, nil, [], true),
        ("Answer: 45°", "45", .integer, nil, [], true),
        ("About 30% of the students.\nThe answer is 30%.", "30", .integer, nil, [], true),
        ("The answer is Blue.", "blue", .text, nil, [], true),
        ("Answer: \"New York City\"", "new york  city", .text, nil, [], true),
        ("Answer: red", "blue", .text, nil, [], false),
        ("The answer is [1, 2, 3].", "[1, 2, 3]", .list, nil, [], true),
        ("Answer: 1,2,3", "[1, 2, 3]", .list, nil, [], true),
        ("Answer: [3, 2, 1]", "[1, 2, 3]", .list, nil, [], false),
        ("Answer: [1.0, 2.5]", "[1, 2.5]", .list, nil, [], true),
        // Multiple choice: the gold may be the letter or the text, the response too.
        ("The shaded shape has three sides, so the answer is (C).", "C", .choice, nil, ["circle", "square", "triangle"], true),
        ("The answer is C. triangle", "triangle", .choice, nil, ["circle", "square", "triangle"], true),
        ("It has three sides: it is a triangle.\nAnswer: triangle", "C", .choice, nil, ["circle", "square", "triangle"], true),
        ("I'd pick option B.", "B", .choice, nil, ["circle", "square", "triangle"], true),
        ("B) square", "B", .choice, nil, ["circle", "square", "triangle"], true),
        ("B.", "square", .choice, nil, ["circle", "square", "triangle"], true),
        ("\\boxed{A}", "B", .choice, nil, ["circle", "square", "triangle"], false),
        ("Answer: 45", "B", .choice, nil, ["30", "45", "60"], true),
        ("Answer: (D)", "A", .choice, nil, ["30", "45", "60"], false),
        ("I cannot tell.", "A", .choice, nil, ["30", "45", "60"], false),
        ("", "12", .integer, nil, [], false),
    ]

    @Test func matchesGoldAnswersAsMathVistaDoes() {
        for (response, gold, type, precision, choices, correct) in Self.scored {
            #expect(FreeTextAnswer.isCorrect(response, gold: gold, type: type, precision: precision, choices: choices) == correct,
                    "\(response) vs \(gold)")
        }
        let item = ReasoningItem(id: "1", question: "Which?", answer: "B", choices: ["cat", "dog"], answerType: .choice)
        #expect(item.isCorrect("The answer is dog."))
        #expect(!item.isCorrect("The answer is cat."))
    }

    @Test func findsChoiceLetters() {
        let choices = ["circle", "square", "triangle", "pentagon"]
        let cases: [(String, Int?)] = [
            ("(B)", 1), ("B.", 1), ("B)", 1), ("option B", 1), ("the answer is B", 1), ("Choice D fits.", 3),
            ("b", 1), ("pentagon", 3), ("E", nil), ("(E)", nil), ("A triangle", nil), ("Because (A) is wrong, I pick (C)", 2),
        ]
        for (text, index) in cases {
            #expect(FreeTextAnswer.choiceIndex(text, choices: choices) == index, "\(text)")
        }
        #expect(FreeTextAnswer.choiceIndex("A", choices: []) == nil)
    }

    @Test func normalisesText() {
        #expect(FreeTextAnswer.normalizedText("  The  Eiffel\tTower. ") == "the eiffel tower")
        #expect(FreeTextAnswer.normalizedText("\"(yes)\"") == "yes")
        #expect(FreeTextAnswer.normalizedText("30%") == "30%")
    }

    @Test func neverCrashesAndStaysBoundedOnAnyText() {
        var rng = UInt64(0x5EED)
        func next() -> UInt64 {
            rng = rng &* 6364136223846793005 &+ 1442695040888963407
            return rng >> 33
        }
        let alphabet = Array("answer is: \\boxed{}()[]ABCD 0123456789.,-−$%°/ \n\t*ки é漢👍🏽\u{0}\u{301}\r\n")
        let choices = ["cat", "dog", "3", "4.5"]
        for _ in 0..<3000 {
            var s = ""
            for _ in 0..<Int(next() % 60) { s.append(alphabet[Int(next()) % alphabet.count]) }
            _ = FreeTextAnswer.extract(s)
            _ = FreeTextAnswer.number(in: s)
            _ = FreeTextAnswer.choiceIndex(s, choices: choices)
            for type in AnswerType.allCases { _ = FreeTextAnswer.isCorrect(s, gold: s, type: type, choices: type == .choice ? choices : []) }
            _ = StepSplitter.split(s)
            _ = StepSplitter.split(s, tag: "ки")
        }
        // Huge responses: only a bounded window is scanned, so these finish at once.
        let huge = String(repeating: "\\boxed{ answer is ( 1,", count: 200_000)
        let start = Date()
        _ = FreeTextAnswer.extract(huge)
        _ = FreeTextAnswer.choiceIndex(huge, choices: choices)
        _ = FreeTextAnswer.isCorrect(huge, gold: "1", type: .list)
        #expect(StepSplitter.split(huge, tag: ",").count <= StepSplitter.maxSteps)
        #expect(StepSplitter.split(String(repeating: "step\n", count: 100_000)).count == StepSplitter.maxSteps)
        #expect(Date().timeIntervalSince(start) < 10)
        #expect(FreeTextAnswer.extract(String(repeating: "x", count: 1_000_000) + "\nThe answer is 9.")?.text == "9")
    }
}

@Suite struct StepSplitterTests {
    @Test func splitsAtLinesStepMarkersOrATag() {
        #expect(StepSplitter.split("First, read the bars.\n\nThe sum is 10.\r\nAnswer: 10\n") ==
                ["First, read the bars.", "The sum is 10.", "Answer: 10"])
        #expect(StepSplitter.split("Step 1: read 3 and 7. Step 2: 3 + 7 = 10.\nStep 3: the answer is 10.") ==
                ["Step 1: read 3 and 7.", "Step 2: 3 + 7 = 10.", "Step 3: the answer is 10."])
        #expect(StepSplitter.split("Let's go.\n## Step 1:\nread\nthe scene\n**Step 2:** add") ==
                ["Let's go.", "## Step 1:\nread\nthe scene", "**Step 2:** add"])
        #expect(StepSplitter.split("In step 1.5 we do nothing\nthen stop") == ["In step 1.5 we do nothing", "then stop"])
        #expect(StepSplitter.split("Step 1: a ки\nStep 2: b ки\nThe answer is: 3 ки", tag: "ки") ==
                ["Step 1: a", "Step 2: b", "The answer is: 3"])
        #expect(StepSplitter.split("a\nb\n\nc\r\n\r\nd", tag: "\n\n") == ["a\nb", "c", "d"])
        #expect(StepSplitter.split("a\n\n\n\nb", tag: "\n\n") == ["a", "b"])
        #expect(StepSplitter.split("", tag: "ки") == [])
        #expect(StepSplitter.split("  \n \n") == [])
        #expect(StepSplitter.split("one line", tag: "") == ["one line"])
    }
}
