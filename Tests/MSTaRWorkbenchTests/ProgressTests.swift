import Foundation
import Testing
import MSTaRWorkbench

@Suite struct ProgressTests {
    @Test func plainLinesAtEveryTenthWithRateAndTimeLeft() {
        var written: [String] = []
        var now = 0.0
        let p = Progress("evolve", total: 20, unit: "step", style: .lines, write: { written.append($0) }, clock: { now })
        for _ in 0..<20 { now += 0.5; p.advance() }
        p.finish()
        #expect(written.count == 10)
        #expect(written[0] == "evolve 2/20 steps (10%), 2.00 steps/s, 9s left\n")
        #expect(written[9] == "evolve 20/20 steps (100%), 2.00 steps/s, 10s\n")
    }

    @Test func barFitsTheWidth() {
        var written: [String] = []
        var now = 0.0
        let p = Progress("eval", total: 100, unit: "prompt", style: .bar, width: 80, write: { written.append($0) }, clock: { now })
        now = 2
        p.advance(by: 25)
        #expect(written.last == "\reval [##########..............................] 25/100 12 prompts/s, 6s left   ")
        #expect(written.last!.count == 80, "\\r and 79 columns")
        p.finish()
        #expect(written.last!.hasSuffix("\n"))
        #expect(Progress.duration(42) == "42s")
        #expect(Progress.duration(185) == "3m05s")
        #expect(Progress.duration(3720) == "1h02m")
    }

    @Test func historyPathFollowsTheEnvironment() {
        #expect(LineEditor.defaultHistoryPath(environment: ["MSTAR_HISTORY": "/x/h", "HOME": "/home/u"]) == "/x/h")
        #expect(LineEditor.defaultHistoryPath(environment: ["XDG_DATA_HOME": "/d", "HOME": "/home/u"]) == "/d/mstar/history")
        #expect(LineEditor.defaultHistoryPath(environment: ["HOME": "/home/u"]) == "/home/u/.local/share/mstar/history")
    }
}
