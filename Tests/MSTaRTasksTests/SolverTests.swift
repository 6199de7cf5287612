import Testing
import MSTaRTasks

@Suite struct SolverTests {
    @Test func canonicalChainsPerKind() {
        let row = SceneFacts(reads: [[3, 7, 5]])
        #expect(Solver.chain(.sum, facts: row) == "read 3 7 5 ; 3 + 7 = 10 ; 10 + 5 = 15 ; answer 15")
        #expect(Solver.chain(.range, facts: row) == "read 3 7 5 ; largest 7 ; smallest 3 ; 7 - 3 = 4 ; answer 4")
        #expect(Solver.chain(.caption, facts: row) == "read 3 7 5")

        let grid = SceneFacts(reads: [[3, 7, 8, 1, 7]])
        #expect(Solver.chain(.countAbove(5), facts: grid) == "read 3 7 8 1 7 ; keep 7 8 7 ; count 3 ; answer 3")
        #expect(Solver.chain(.countBelow(2), facts: grid) == "read 3 7 8 1 7 ; keep 1 ; count 1 ; answer 1")
        #expect(Solver.chain(.countEqual(9), facts: grid) == "read 3 7 8 1 7 ; keep none ; count 0 ; answer 0")

        let two = SceneFacts(reads: [[2, 5], [4, 7]])
        #expect(two.numbers == [25, 47])
        #expect(Solver.chain(.difference, facts: two) == "read 2 5 ; read 4 7 ; 25 < 47 ; 47 - 25 = 22 ; answer 22")
        #expect(Solver.chain(.total, facts: two) == "read 2 5 ; read 4 7 ; 25 + 47 = 72 ; answer 72")

        let chart = SceneFacts(reads: [[3, 7, 5]], heights: [2, 4, 1])
        #expect(Solver.chain(.chartTotal, facts: chart) == "read 3 7 5 ; height 2 4 1 ; 2 + 4 = 6 ; 6 + 1 = 7 ; answer 7")
        #expect(Solver.chain(.chartAbove(4), facts: chart) == "read 3 7 5 ; height 2 4 1 ; keep 4 1 ; 4 + 1 = 5 ; answer 5")
        #expect(Solver.chain(.chartBelow(4), facts: chart) == "read 3 7 5 ; height 2 4 1 ; keep 2 ; answer 2")
        #expect(Solver.chain(.chartAbove(8), facts: chart) == "read 3 7 5 ; height 2 4 1 ; keep none ; answer 0")
        #expect(Solver.answer(.caption, facts: chart) == nil)
    }

    @Test func questionTemplatesParseBack() {
        let kinds: [QuestionKind] = [.caption, .sum, .range, .countAbove(5), .countBelow(3), .countEqual(0),
                                     .difference, .total, .chartTotal, .chartAbove(2), .chartBelow(7)]
        for k in kinds {
            #expect(QuestionKind(text: k.text) == k)
            #expect(QuestionKind(text: "given 1 2 3 " + k.text) == k)
        }
        #expect(QuestionKind(text: "what is the product of the digits ?") == nil)
        #expect(QuestionKind(text: "how many digits are greater than x ?") == nil)
        #expect(QuestionKind(text: "") == nil)
    }
}
