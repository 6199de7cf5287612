import Foundation
import MSTaRModel
import MSTaRTasks
import Testing

@Suite struct EvaluationTests {
    /// The unbiased estimator equals the fraction of all k-subsets of the n samples that contain a
    /// correct one, counted by enumerating every subset.
    @Test func passAtKMatchesExactEnumeration() {
        for n in 1...8 {
            for c in 0...n {
                for k in 1...n {
                    var hit = 0, total = 0
                    for mask in 0..<(1 << n) where mask.nonzeroBitCount == k {
                        total += 1
                        // Samples 0..<c are the correct ones.
                        if mask & ((1 << c) - 1) != 0 { hit += 1 }
                    }
                    #expect(abs(passAtK(n: n, c: c, k: k) - Double(hit) / Double(total)) < 1e-12, "n \(n) c \(c) k \(k)")
                }
            }
        }
        #expect(passAtK(n: 3, c: 1, k: 16) == 1)
        #expect(passAtK(n: 3, c: 0, k: 16) == 0)
    }

    /// `eval --json` uses the same snake_case names overall and per family.
    @Test func jsonKeysAreSnakeCaseAtEveryLevel() throws {
        let text = #"{"split":"test","k":16,"temperature":1,"prompts":2,"greedy_acc":0.5,"pass_at_k":1,"seconds":0,"families":{"counting":{"prompts":2,"greedy_acc":0.5,"pass_at_k":1}}}"#
        let r = try JSONDecoder().decode(EvaluationResult.self, from: Data(text.utf8))
        #expect(r.families["counting"] == AccuracySummary(prompts: 2, greedyAcc: 0.5, passAtK: 1))
        let json = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(r)) as! [String: Any]
        let family = (json["families"] as! [String: Any])["counting"] as! [String: Any]
        #expect(json["greedy_acc"] as? Double == 0.5 && json["pass_at_k"] as? Double == 1)
        #expect(Set(family.keys) == ["prompts", "greedy_acc", "pass_at_k"])
        #expect(try JSONDecoder().decode(EvaluationResult.self, from: try JSONEncoder().encode(r)).families == r.families)
    }

    /// Each hand-made chain for "sum of 3 7 5" lands in the category its first wrong step names.
    @Test func errorCategoriesFollowTheFirstWrongStep() {
        let facts = SceneFacts(reads: [[3, 7, 5]])
        func category(_ text: String) -> String {
            ErrorAnalysis.category(StepVerifier.verify(text, kind: .sum, facts: facts, gold: 15))
        }
        #expect(category("read 3 7 5 ; 3 + 7 = 10 ; 10 + 5 = 15 ; answer 15") == "right")
        #expect(category("read 3 7 6 ; 3 + 7 = 10 ; 10 + 6 = 15 ; answer 15") == "right answer, wrong steps")
        #expect(category("read 3 7 6 ; 3 + 7 = 10 ; 10 + 6 = 16 ; answer 16") == "misread")
        #expect(category("read 3 7 5 ; 3 + 7 = 11 ; 11 + 5 = 16 ; answer 16") == "wrong arithmetic")
        #expect(category("read 3 7 5 ; 3 + 9 = 12 ; answer 12") == "inconsistent")
        #expect(category("read 3 7 5 ; banana") == "malformed")
        #expect(category("read 3 7 5 ; 3 + 7 = 10") == "incomplete")
        #expect(category("") == "incomplete")
    }

    /// The report's shares are each category's count over the group's prompts, families in suite order.
    @Test func errorReportShowsSharesPerFamily() {
        let r = ErrorAnalysis(split: "test", overall: .init(prompts: 4, counts: ["right": 1, "misread": 3]),
                              families: ["chart": .init(prompts: 1, counts: ["right": 1]),
                                         "arithmetic": .init(prompts: 3, counts: ["misread": 3])],
                              seconds: 0)
        let lines = r.lines
        #expect(lines.count == 2 + ErrorAnalysis.categories.count)
        #expect(lines[1].split(separator: " ").map(String.init) == ["all", "(4)", "arithmetic", "(3)", "chart", "(1)"])
        #expect(lines[2].split(separator: " ").map(String.init) == ["right", "25.0%", "0.0%", "100.0%"])
        #expect(lines[4].split(separator: " ").map(String.init) == ["misread", "75.0%", "100.0%", "0.0%"])
    }
}
