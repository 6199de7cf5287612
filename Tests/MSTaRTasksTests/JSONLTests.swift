import Foundation
import Testing
import MSTaRTasks

@Suite struct JSONLTests {
    /// The example as it comes back from an 8-bit PNG.
    func quantised(_ e: Example) throws -> Example {
        var q = e
        if let image = e.image {
            q.image = try Canvas(height: image.height, width: image.width, pixels: image.bytes.map { Float($0) / 255 })
        }
        return q
    }

    @Test func roundTripEverySplit() throws {
        let suite = try Fixture.suite()
        for split in SplitName.allCases {
            let dir = try Fixture.tempDir("rt-\(split.rawValue)")
            let examples = Array(suite.examples(split).prefix(12))
            let path = try JSONL.export(examples, to: dir.path)
            let back = try JSONL.read(path, onBadLine: .refuse)
            #expect(back.badLines.isEmpty)
            #expect(back.examples == (try examples.map(quantised)), "split \(split.rawValue)")
        }
    }

    @Test func recordLayoutIsLLaVA() throws {
        let suite = try Fixture.suite()
        let line = try JSONL.line(for: suite.example(.seed, index: 0), imagePath: "images/seed-000000.png")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["id"] as? String == "seed-000000")
        #expect(object["image"] as? String == "images/seed-000000.png")
        let turns = try #require(object["conversations"] as? [[String: String]])
        #expect(turns.count == 2)
        #expect(turns[0]["from"] == "human" && turns[0]["value"]!.hasPrefix("<image>\n"))
        #expect(turns[1]["from"] == "gpt" && turns[1]["value"] == suite.example(.seed, index: 0).chain)
        #expect(object["level"] as? String == "1" && object["family"] as? String == "arithmetic")

        let hidden = try JSONL.line(for: suite.example(.unlabelled, index: 1), imagePath: "images/u.png")
        #expect(hidden.contains("\"oracle_answer\":") && !hidden.contains("\"answer\":") && !hidden.contains("\"gpt\""))
        let labelled = try JSONL.line(for: suite.example(.labelled, index: 1), imagePath: "images/l.png")
        #expect(labelled.contains("{\"from\":\"gpt\",\"value\":\"answer "))
        let text = try JSONL.line(for: suite.example(.text, index: 1), imagePath: nil)
        #expect(!text.contains("\"image\"") && !text.contains("<image>"))
    }

    @Test func userRecordsWithoutFactsUseTheirChain() throws {
        let dir = try Fixture.tempDir("user")
        let lines = [
            #"{"id":"a","conversations":[{"from":"human","value":"given 3 7 5 what is the sum of the digits ?"},{"from":"gpt","value":"read 3 7 5 ; 7 + 5 = 12 ; 3 + 12 = 15 ; answer 15"}]}"#,
            #"{"id":"b","conversations":[{"from":"human","value":"how many digits are greater than 5 ?"}],"facts":{"reads":[[3,7,8]],"heights":[]},"oracle_answer":2}"#,
        ]
        let path = dir.appendingPathComponent("mine.jsonl").path
        try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        let got = try JSONL.read(path, onBadLine: .refuse)
        #expect(got.examples.count == 2)
        let a = got.examples[0], b = got.examples[1]
        #expect(a.family == .arithmetic && a.kind == .sum && a.answer == 15 && a.annotation == .chain)
        #expect(a.facts == SceneFacts(reads: [[3, 7, 5]]) && a.image == nil && a.level == .one)
        #expect(a.chain == "read 3 7 5 ; 7 + 5 = 12 ; 3 + 12 = 15 ; answer 15")
        #expect(b.kind == .countAbove(5) && b.answer == 2 && b.annotation == .none)
        #expect(b.chain == "read 3 7 8 ; keep 7 8 ; count 2 ; answer 2")
    }

    @Test func badLinesAreReportedWithLineNumbers() throws {
        let suite = try Fixture.suite()
        let dir = try Fixture.tempDir("bad")
        try JSONL.export(Array(suite.examples(.seed).prefix(2)), to: dir.path)
        let good = try String(contentsOfFile: dir.appendingPathComponent("data.jsonl").path, encoding: .utf8)
            .split(separator: "\n").map(String.init)
        let lines = [
            good[0],                                                                        // 1 ok
            "{not json",                                                                    // 2
            #"{"id":"x"}"#,                                                                 // 3
            #"{"id":"y","conversations":[{"from":"human","value":"what is love ?"}],"facts":{"reads":[[1]],"heights":[]}}"#,  // 4
            #"{"id":"z","conversations":[{"from":"human","value":"what is the sum of the digits ?"},{"from":"gpt","value":"answer 9"}],"facts":{"reads":[[3,5]],"heights":[]}}"#,  // 5
            #"{"id":"w","conversations":[{"from":"human","value":"what is the sum of the digits ?"},{"from":"gpt","value":"read 3 5 ; 3 + 5 = 9 ; answer 9"}],"facts":{"reads":[[3,5]],"heights":[]}}"#,  // 6
            #"{"id":"v","image":"images/missing.png","conversations":[{"from":"human","value":"<image>\nwhat is the sum of the digits ?"},{"from":"gpt","value":"answer 8"}],"facts":{"reads":[[3,5]],"heights":[]}}"#,  // 7
            "",                                                                             // 8 blank: ignored
            good[1],                                                                        // 9 ok
            good[0],                                                                        // 10 duplicate id
            #"{"id":"u","conversations":[{"from":"human","value":"what is the sum of the digits ?"}],"facts":{"reads":[[3,5]],"heights":[]}}"#,  // 11
            #"{"id":"t","level":"7","conversations":[{"from":"human","value":"what is the sum of the digits ?"},{"from":"gpt","value":"answer 8"}],"facts":{"reads":[[3,5]],"heights":[]}}"#,  // 12
        ]
        let path = dir.appendingPathComponent("data.jsonl").path
        try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)

        let got = try JSONL.read(path, onBadLine: .skip)
        #expect(got.examples.map(\.id) == ["seed-000000", "seed-000001"])
        #expect(got.badLines.map(\.line) == [2, 3, 4, 5, 6, 7, 10, 11, 12])
        #expect(got.badLines.allSatisfy { $0.file == path && $0.description.hasPrefix("\(path):\($0.line): ") })
        let messages = got.badLines.map(\.message)
        try #require(messages.count == 9)
        #expect(messages[0].contains("not valid JSON"))
        #expect(messages[1].contains("missing \"conversations\""))
        #expect(messages[2].contains("matches no question template"))
        #expect(messages[3].contains("contradicts the scene facts, which give 8"))
        #expect(messages[4].contains("step 2 \"3 + 5 = 9\" is wrongArithmetic"))
        #expect(messages[5].contains("missing.png"))
        #expect(messages[6].contains("duplicate id \"seed-000000\" (first on line 1)"))
        #expect(messages[7].contains("nothing says what the answer is"))
        #expect(messages[8].contains("level must be"))

        do {
            _ = try JSONL.read(path, onBadLine: .refuse)
            Issue.record("refuse must throw")
        } catch let bad as BadLine {
            #expect(bad.line == 2 && bad.file == path)
        }
    }
}
