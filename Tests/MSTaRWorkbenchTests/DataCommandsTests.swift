import Foundation
import Testing
import MSTaRWorkbench

@Suite struct DataCommandTests {
    @Test func showPrintsTheExampleAndWritesItsPNG() throws {
        let s = try Fixture.session("data-show")
        let out = Fixture.run(s, "data show --split text --index 5")
        #expect(out == [
            "id: text-000005   family: counting   level: 2   annotation: chain",
            "(text only)",
            "question: given 8 7 8 6 8 9 how many digits are less than 8 ?",
            "answer:   2",
            "chain:    read 8 7 8 6 8 9 ; keep 7 6 ; count 2 ; answer 2",
            "facts:    reads [[8, 7, 8, 6, 8, 9]]",
        ])
        let scene = Fixture.run(s, "data show --split test --index 7 --png scenes/t7.png")
        #expect(scene.count == 32 + 2 + 5 + 1)
        #expect(scene[0] == "id: test-000007   family: chart   level: 2   annotation: chain")
        #expect(scene[1] == "+" + String(repeating: "-", count: 96) + "+")
        #expect(scene.suffix(5).first == "question: what is the total height of bars labelled below 5 ?")
        #expect(scene.last == "[image: scenes/t7.png]")
        let png = Array(try Data(contentsOf: URL(fileURLWithPath: s.runDirectory + "/scenes/t7.png")))
        #expect(Fixture.pngSize(png)! == (192, 128))
        #expect(Fixture.run(s, "data show --split test --index 800") == ["error: --index 800 is outside test: use 0 to 799"])
        #expect(Fixture.run(s, "data show --split test --index 1 --family chart").first == "id: test-000007   family: chart   level: 2   annotation: chain")
        #expect(Fixture.run(s, "data show --split text --index 0 --png x.png") == ["error: text-000000 is text only: it has no image for --png"])
    }

    @Test func loadReadsJSONLAndNamesBadLines() throws {
        let s = try Fixture.session("data-load")
        s.progressStyle = .silent
        Fixture.run(s, "data generate --fraction 0.01")
        #expect(Fixture.run(s, "data export --split seed --out seedset") == ["wrote 3 examples to seedset/data.jsonl and 3 images to seedset/images/"])
        let path = s.runDirectory + "/seedset/data.jsonl"
        try (String(contentsOfFile: path, encoding: .utf8) + "{not json\n").write(toFile: path, atomically: true, encoding: .utf8)
        #expect(Fixture.run(s, "data load \(path) --as mine") == [
            "skipped \(path):4: not valid JSON",
            "mine: 3 examples (arithmetic 1, counting 1, comparison 1, chart 0); 1 bad lines skipped",
        ])
        #expect(DataCommands.dataset(s, "mine")?.map(\.id) == ["seed-000000", "seed-000001", "seed-000002"])
    }

    @Test func generateUsesTheSessionSeedAndIsJournaledResolved() throws {
        let s = try Fixture.session("data-generate")
        Fixture.run(s, "seed 4")
        #expect(Fixture.run(s, "data generate --fraction 0.5").first
                == "suite seed 4: captions 2000, text 2000, seed 150, labelled 2000, unlabelled 2000, validation 200, test 400, ood 200")
        #expect(s.resolvedHistory.last == "data generate --seed 4 --fraction 0.5")
        #expect(Fixture.run(s, "data generate --fraction 0") == ["error: --fraction must be above 0; got 0"])
    }
}
