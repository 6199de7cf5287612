import Testing
import MSTaRTasks

@Suite struct ChainTests {
    @Test func parsesEveryStepForm() {
        let text = "read 3 7 5 ; height 2 4 1 ; keep 7 8 ; keep none ; count 2 ; largest 7 ; smallest 3 ; "
            + "47 > 25 ; 3 < 4 ; 5 = 5 ; 3 + 7 = 10 ; 7 - 3 = 4 ; answer 15"
        #expect(Chain.parse(text) == [
            .read([3, 7, 5]), .height([2, 4, 1]), .keep([7, 8]), .keep([]), .count(2), .largest(7), .smallest(3),
            .compare(47, .greater, 25), .compare(3, .less, 4), .compare(5, .equal, 5),
            .arithmetic(3, .plus, 7, 10), .arithmetic(7, .minus, 3, 4), .answer(15),
        ])
    }

    @Test func renderIsTheInverseOfParse() {
        let steps: [Step] = [.read([4, 7]), .read([2, 5]), .compare(47, .greater, 25),
                             .arithmetic(47, .minus, 25, 22), .answer(22)]
        let text = Chain.render(steps)
        #expect(text == "read 4 7 ; read 2 5 ; 47 > 25 ; 47 - 25 = 22 ; answer 22")
        #expect(Chain.parse(text) == steps)
        #expect(Chain.split(text) == ["read 4 7", "read 2 5", "47 > 25", "47 - 25 = 22", "answer 22"])
    }

    @Test func toleratesSloppySpacingAndKeepsJunkAsMalformed() {
        #expect(Chain.parse("read 3 7;3+7=10;Answer: 10.") == [.read([3, 7]), .arithmetic(3, .plus, 7, 10), .answer(10)])
        #expect(Chain.parse("7 -3 = 4") == [.arithmetic(7, .minus, 3, 4)])
        #expect(Chain.parse("4 - 7 = -3") == [.arithmetic(4, .minus, 7, -3)])
        #expect(Chain.parse("read ; blah blah ; 3 + = 4 ; answer") ==
                [.malformed("read"), .malformed("blah blah"), .malformed("3 + = 4"), .malformed("answer")])
        #expect(Chain.parse(" ;; ; ") == [])
        #expect(Chain.parse("") == [])
    }
}
