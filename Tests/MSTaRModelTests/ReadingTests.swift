import MSTaRModel
import MSTaRTasks
import Testing

@Suite struct ReadingTests {
    @Test func digitsAreScoredAtTheirPlaces() {
        let row = SceneFacts(reads: [[3, 7, 5]])
        let right = scoreReading("read 3 7 5", facts: row)
        #expect(right.digits == 3 && right.digitsRight == 3 && right.exact)
        let shifted = scoreReading("read 7 5", facts: row)  // a skipped digit shifts the rest
        #expect(shifted.digitsRight == 0 && !shifted.exact)
        let extra = scoreReading("read 3 7 5 1", facts: row)
        #expect(extra.digitsRight == 3 && !extra.exact)
        #expect(scoreReading("garbage", facts: row).digitsRight == 0)
    }

    @Test func numbersAndHeightsAreScoredSeparately() {
        let pair = SceneFacts(reads: [[2, 5], [4, 7]])
        let oneGroup = scoreReading("read 2 5", facts: pair)
        #expect(oneGroup.digits == 4 && oneGroup.digitsRight == 2 && !oneGroup.exact)
        #expect(scoreReading("read 2 5 ; read 4 1", facts: pair).digitsRight == 3)
        let chart = SceneFacts(reads: [[3, 7]], heights: [2, 4])
        let s = scoreReading("read 3 7 ; height 2 5", facts: chart)
        #expect(s.digitsRight == 2 && s.heights == 2 && s.heightsRight == 1 && !s.exact)
        #expect(scoreReading("read 3 7 ; height 2 4", facts: chart).exact)
    }
}
