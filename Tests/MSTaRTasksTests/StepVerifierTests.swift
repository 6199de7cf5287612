import Testing
import MSTaRTasks

@Suite struct StepVerifierTests {
    let row = SceneFacts(reads: [[3, 7, 5]])
    let grid = SceneFacts(reads: [[3, 7, 8, 1]])
    let two = SceneFacts(reads: [[4, 7], [2, 5]])
    let chart = SceneFacts(reads: [[3, 7, 5]], heights: [2, 4, 1])

    func verify(_ text: String, _ kind: QuestionKind, _ facts: SceneFacts) -> Verification {
        StepVerifier.verify(text, kind: kind, facts: facts, gold: Solver.answer(kind, facts: facts))
    }

    @Test func handMadeCorrectChainsPass() {
        let cases: [(String, QuestionKind, SceneFacts)] = [
            ("read 3 7 5 ; 3 + 7 = 10 ; 10 + 5 = 15 ; answer 15", .sum, row),
            ("read 3 7 5 ; 7 + 5 = 12 ; 3 + 12 = 15 ; answer 15", .sum, row),  // another order is fine
            ("read 3 7 5 ; largest 7 ; smallest 3 ; 7 - 3 = 4 ; answer 4", .range, row),
            ("read 3 7 8 1 ; keep 7 8 ; count 2 ; answer 2", .countAbove(5), grid),
            ("read 3 7 8 1 ; keep 8 7 ; count 2 ; answer 2", .countAbove(5), grid),  // any order of kept digits
            ("read 3 7 8 1 ; keep none ; count 0 ; answer 0", .countEqual(9), grid),
            ("read 4 7 ; read 2 5 ; 47 > 25 ; 47 - 25 = 22 ; answer 22", .difference, two),
            ("read 4 7 ; read 2 5 ; 47 - 25 = 22 ; answer 22", .difference, two),  // the comparison is optional
            ("read 4 7 ; read 2 5 ; 47 + 25 = 72 ; answer 72", .total, two),
            ("read 3 7 5 ; height 2 4 1 ; keep 4 1 ; 4 + 1 = 5 ; answer 5", .chartAbove(4), chart),
            ("read 3 7 5 ; height 2 4 1 ; keep none ; answer 0", .chartAbove(8), chart),
            ("read 3 7 5 ; height 2 4 1 ; keep 2 ; answer 2", .chartBelow(4), chart),
            ("read 3 7 5 ; height 2 4 1 ; 2 + 4 = 6 ; 6 + 1 = 7 ; answer 7", .chartTotal, chart),
            ("read 3 7 5 ; height 2 4 1", .caption, chart),
        ]
        for (text, kind, facts) in cases {
            let v = verify(text, kind, facts)
            #expect(v.verdicts.allSatisfy { $0 == .correct }, "\(text): \(v.verdicts)")
            #expect(v.firstWrongStep == nil, "\(text)")
            #expect(v.answerCorrect == (kind != .caption), "\(text)")
            #expect(!v.rightAnswerWrongReasoning)
        }
    }

    @Test func wrongReading() {
        let v = verify("read 3 1 5 ; 3 + 1 = 4 ; 4 + 5 = 9 ; answer 9", .sum, row)
        #expect(v.verdicts == [.wrongReading, .correct, .correct, .correct])
        #expect(v.firstWrongStep == 0)
        #expect(v.answer == 9 && !v.answerCorrect)

        let second = verify("read 4 7 ; read 2 6 ; 47 > 26 ; 47 - 26 = 21 ; answer 21", .difference, two)
        #expect(second.verdicts == [.correct, .wrongReading, .correct, .correct, .correct])
        #expect(second.firstWrongStep == 1)

        let heights = verify("read 3 7 5 ; height 2 3 1 ; keep 3 1 ; 3 + 1 = 4 ; answer 4", .chartAbove(4), chart)
        #expect(heights.verdicts == [.correct, .wrongReading, .correct, .correct, .correct])

        let short = verify("read 3 7 ; 3 + 7 = 10 ; answer 10", .sum, row)  // a digit missed
        #expect(short.verdicts.first == .wrongReading)
    }

    @Test func wrongArithmetic() {
        let v = verify("read 3 7 5 ; 3 + 7 = 11 ; 11 + 5 = 16 ; answer 16", .sum, row)
        #expect(v.verdicts == [.correct, .wrongArithmetic, .correct, .correct])
        #expect(v.firstWrongStep == 1)
        #expect(!v.answerCorrect)

        #expect(verify("read 3 7 5 ; largest 5 ; smallest 3 ; 5 - 3 = 2 ; answer 2", .range, row).verdicts
                == [.correct, .wrongArithmetic, .correct, .correct, .correct])
        #expect(verify("read 3 7 8 1 ; keep 7 ; count 1 ; answer 1", .countAbove(5), grid).verdicts
                == [.correct, .wrongArithmetic, .correct, .correct])
        #expect(verify("read 3 7 8 1 ; keep 7 8 ; count 3 ; answer 3", .countAbove(5), grid).verdicts
                == [.correct, .correct, .wrongArithmetic, .correct])
        #expect(verify("read 4 7 ; read 2 5 ; 47 < 25 ; 47 - 25 = 22 ; answer 22", .difference, two).verdicts
                == [.correct, .correct, .wrongArithmetic, .correct, .correct])
        #expect(verify("read 3 7 5 ; height 2 4 1 ; keep 4 ; answer 4", .chartAbove(4), chart).verdicts
                == [.correct, .correct, .wrongArithmetic, .correct])
    }

    @Test func inconsistentSteps() {
        // 8 was never read or computed.
        let v = verify("read 3 7 5 ; 3 + 8 = 11 ; 11 + 5 = 16 ; answer 16", .sum, row)
        #expect(v.verdicts[1] == .inconsistent)
        #expect(v.firstWrongStep == 1)
        // Reuses a digit that was already added (consumed).
        #expect(verify("read 3 7 5 ; 3 + 7 = 10 ; 3 + 5 = 8 ; answer 8", .sum, row).verdicts[2] == .inconsistent)
        // An answer that does not follow from the steps: a right answer on wrong reasoning.
        let lucky = verify("read 3 7 5 ; 3 + 7 = 11 ; 11 + 5 = 16 ; answer 15", .sum, row)
        #expect(lucky.verdicts == [.correct, .wrongArithmetic, .correct, .inconsistent])
        #expect(lucky.answerCorrect && lucky.rightAnswerWrongReasoning)
        // Skipping the work: the answer is not derived.
        #expect(verify("read 3 7 5 ; answer 15", .sum, row).verdicts == [.correct, .inconsistent])
        // The smaller minus the larger.
        #expect(verify("read 4 7 ; read 2 5 ; 25 - 47 = -22 ; answer 22", .difference, two).verdicts[2] == .inconsistent)
        // A step the question does not call for, and the wrong operation.
        #expect(verify("read 3 7 5 ; largest 7 ; 3 + 7 = 10", .sum, row).verdicts[1] == .inconsistent)
        #expect(verify("read 3 7 5 ; 7 - 3 = 4", .sum, row).verdicts[1] == .inconsistent)
        // Computing before reading, and reading after computing.
        #expect(verify("3 + 7 = 10 ; read 3 7 5", .sum, row).verdicts == [.inconsistent, .correct])
        #expect(verify("read 4 7 ; 47 - 25 = 22", .difference, two).verdicts[1] == .inconsistent)
        // A comparison of numbers that were not read.
        #expect(verify("read 4 7 ; read 2 5 ; 48 > 25", .difference, two).verdicts[2] == .inconsistent)
        // keep lists a digit that is not in the scene as read.
        #expect(verify("read 3 7 8 1 ; keep 9 ; count 1", .countAbove(5), grid).verdicts[1] == .inconsistent)
        // Anything after the answer.
        #expect(verify("read 3 7 5 ; 3 + 7 = 10 ; 10 + 5 = 15 ; answer 15 ; 1 + 1 = 2", .sum, row).verdicts.last
                == .inconsistent)
    }

    @Test func missingAnswer() {
        let v = verify("read 3 7 5 ; 3 + 7 = 10 ; 10 + 5 = 15", .sum, row)
        #expect(v.verdicts == [.correct, .correct, .correct])
        #expect(v.firstWrongStep == 3)  // the step that should have come next
        #expect(v.answer == nil && !v.answerCorrect)
        #expect(verify("", .sum, row).firstWrongStep == 0)
        #expect(verify("read 3 7 5", .caption, chart).firstWrongStep == 1)  // the heights were not read
    }

    @Test func malformedSteps() {
        let v = verify("read 3 7 5 ; three plus seven ; answer 15", .sum, row)
        #expect(v.verdicts == [.correct, .malformed, .inconsistent])
        #expect(v.firstWrongStep == 1)
        #expect(v.answerCorrect)
    }

    @Test func everyGeneratedChainVerifies() throws {
        let suite = try Fixture.suite()
        var checked = 0
        for split in SplitName.allCases {
            for e in suite.examples(split) {
                let v = StepVerifier.verify(e.chain, for: e)
                #expect(v.firstWrongStep == nil, "\(e.id): \(e.chain) -> \(v.verdicts)")
                #expect(v.answerCorrect == (e.answer != nil))
                #expect(e.answer == nil || v.answer == e.answer)
                checked += 1
            }
        }
        #expect(checked == 440)
    }

    @Test func checkWithoutSceneJudgesStepsOnTheChainsOwnReading() throws {
        // What holds on its own reading passes, even a misreading (only the scene could show it).
        for (text, kind) in [("read 3 7 5 ; 3 + 7 = 10 ; 10 + 5 = 15 ; answer 15", QuestionKind.sum),
                             ("read 3 1 5 ; 3 + 1 = 4 ; 4 + 5 = 9 ; answer 9", .sum),
                             ("read 4 7 ; read 2 6 ; 47 > 26 ; 47 - 26 = 21 ; answer 21", .difference),
                             ("read 3 7 8 1 ; keep 7 8 ; count 2 ; answer 2", .countAbove(5)),
                             ("read 3 7 5 ; height 2 3 1 ; keep 3 1 ; 3 + 1 = 4 ; answer 4", .chartAbove(4))] {
            #expect(StepVerifier.checkWithoutScene(text, kind: kind), "\(text)")
        }
        // Wrong arithmetic, a false comparison or count, numbers not established, an answer not
        // derived, and scenes of the wrong shape fail.
        for (text, kind) in [("read 3 7 5 ; 3 + 7 = 11 ; 11 + 5 = 16 ; answer 16", QuestionKind.sum),
                             ("read 3 7 5 ; 3 + 7 = 11 ; 11 + 5 = 16 ; answer 15", .sum),
                             ("read 4 7 ; read 2 5 ; 47 < 25 ; 47 - 25 = 22 ; answer 22", .difference),
                             ("read 4 7 ; read 2 5 ; 74 > 52 ; 74 - 52 = 22 ; answer 22", .difference),
                             ("read 3 7 8 1 ; keep 7 8 ; count 3 ; answer 3", .countAbove(5)),
                             ("read 3 7 8 1 ; keep 7 ; count 1 ; answer 1", .countAbove(5)),
                             ("read 3 7 5 ; answer 15", .sum),
                             ("read 4 7 ; 47 + 25 = 72 ; answer 72", .total),
                             ("read 4 7 ; read 2 5 ; read 1 ; 47 + 25 = 72 ; answer 72", .total),
                             ("read 3 7 5 ; keep 4 1 ; 4 + 1 = 5 ; answer 5", .chartAbove(4)),
                             ("read 3 7 5 ; height 2 4 ; keep 4 ; answer 4", .chartAbove(4)),
                             ("read 3 7 5 ; height 2 4 1", .caption),
                             ("", .sum)] {
            #expect(!StepVerifier.checkWithoutScene(text, kind: kind), "\(text)")
        }
        // On every gold chain of the suite it agrees with the oracle, which accepts them all; and on a
        // gold chain whose reading is changed but whose steps still follow from it, it still passes.
        let suite = try Fixture.suite()
        for split in SplitName.allCases where split != .captions {
            for e in suite.examples(split) {
                #expect(StepVerifier.checkWithoutScene(e.chain, kind: e.kind), "\(e.id): \(e.chain)")
                guard e.family == .arithmetic, e.kind == .sum else { continue }
                var facts = e.facts
                facts.reads[0][0] = (facts.reads[0][0] + 1) % 10
                let misread = Solver.chain(e.kind, facts: facts)
                #expect(StepVerifier.checkWithoutScene(misread, kind: e.kind))
                #expect(!StepVerifier.verify(misread, for: e).stepsCorrect)
            }
        }
    }
}
