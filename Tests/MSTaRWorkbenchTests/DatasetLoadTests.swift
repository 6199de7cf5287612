import Foundation
import Testing
import MSTaRWorkbench
import MSTaRTasks

/// `data load --format` on the real-dataset fixtures (Tests/Fixtures/datasets) and `data show --dataset`.
@Suite struct DatasetLoadTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/datasets").path

    @Test func loadsEachLayoutAndSummarises() throws {
        let s = try Fixture.session("dataset-load", inputs: Self.fixtures)
        let mv = "mathvista/testmini.json"
        #expect(Fixture.run(s, "data load mathvista/testmini.json --as mv") == [
            "skipped \(mv)[\"7\"]: missing \"answer\": the record needs the gold answer",
            "skipped \(mv)[\"8\"]: image \"../outside.png\" leaves the dataset's folder (\"..\"); image paths must stay inside the dataset file's folder",
            "skipped \(mv)[\"9\"]: image \"images/huge.png\" is 5000x5000 pixels; at most 4096x4096 are read: resize it",
            "skipped \(mv)[\"10\"]: \"answer\": \"hexagon\" is neither a choice's letter (A to B) nor a choice's text",
            "mv: 6 mathvista items; 4 bad records skipped",
            "splits (seed 0): labelled 4, unlabelled 0, validation 1, test 1",
            "answer types: integer 1, float 1, text 1, list 1, choice 2",
            "images: 6 (png 5, jpeg 1), at most 64x48 pixels",
        ])
        #expect(s.resolvedHistory.last == "data load \(Self.fixtures)/\(mv) --format auto --as mv --seed 0 --unlabelled 0 --validation 0.1 --test 0.2")
        #expect(DataCommands.reasoningDataset(s, "mv")?.items.count == 6)

        let m3 = Fixture.run(s, "data load m3cot/test.jsonl --as m3 --format m3cot --seed 5 --unlabelled 0.4 --validation 0.2 --test 0.2")
        #expect(m3.first == "skipped m3cot/test.jsonl:6: \"answer\": \"F\" is not one of the 4 choices (A to D)")
        #expect(Array(m3.suffix(4)) == [
            "m3: 5 m3cot items; 3 bad records skipped",
            "splits (seed 5): labelled 1, unlabelled 2, validation 1, test 1",
            "answer types: integer 0, float 0, text 0, list 0, choice 5",
            "images: 4 (png 3, jpeg 1), at most 20x16 pixels; 1 text-only item",
        ])
        let sq = Fixture.run(s, "data load scienceqa/problems.json --as sq")
        #expect(sq.count == 3 + 4 && sq[0].hasSuffix("problems.json[4]: \"answer\": \"5\" is not the index of a choice (0 to 2)"))
        #expect(sq[3] == "sq: 5 scienceqa items; 3 bad records skipped")
        let ll = Fixture.run(s, "data load llava/train.jsonl --as ll")
        #expect(ll[2] == "skipped llava/train.jsonl:7: not valid JSON")
        #expect(Array(ll.suffix(3)) == [
            "splits (seed 0): labelled 3, unlabelled 0, validation 1, test 1",
            "answer types: integer 3, float 1, text 1, list 0, choice 0",
            "images: 4 (png 3, jpeg 1), at most 24x16 pixels; 1 text-only item",
        ])
        // mstar's own format still loads as examples, auto-detected.
        #expect(Fixture.run(s, "data load mstar/data.jsonl --as digits") == [
            "digits: 2 examples (arithmetic 2, counting 0, comparison 0, chart 0); 0 bad lines skipped",
        ])
        #expect(DataCommands.dataset(s, "digits")?.map(\.id) == ["text-a", "text-b"])
        // Reusing a name replaces the dataset, whichever kind it was.
        Fixture.run(s, "data load mstar/data.jsonl --as mv --format mstar")
        #expect(DataCommands.reasoningDataset(s, "mv") == nil && DataCommands.dataset(s, "mv") != nil)
    }

    @Test func showsOneItem() throws {
        let s = try Fixture.session("dataset-show", inputs: Self.fixtures)
        Fixture.run(s, "data load mathvista/testmini.json --as mv")
        let out = Fixture.run(s, "data show --dataset mv --index 2")
        let split = DataCommands.reasoningDataset(s, "mv")!.splits[2].rawValue
        #expect(Array(out.prefix(8)) == [
            "id: 3   split: \(split)   format: mathvista   answer type: choice",
            "question: Which shape is shaded?",
            "choices:  (A) circle",
            "          (B) square",
            "          (C) triangle",
            "          (D) pentagon",
            "answer:   C (triangle)",
            "image:    images/3.jpg (jpeg, 16x16 pixels, 333 bytes)",
        ])
        #expect(out.contains("question_type: multi_choice"))
        #expect(out.contains("metadata.source: made-up fixture"))
        #expect(Fixture.run(s, "data show --dataset mv --index 1").first?.hasSuffix("answer type: float (1 decimal place)") == true)
        #expect(Fixture.run(s, "data show --dataset mv --index 6") == ["error: --index 6 is outside mv: use 0 to 5"])
        #expect(Fixture.run(s, "data show --dataset nope --index 0") == ["error: no dataset nope; loaded: mv"])
        #expect(Fixture.run(s, "data show --index 0") == ["error: data show needs --split NAME (the task suite) or --dataset NAME (a dataset from data load)"])
        #expect(Fixture.run(s, "data show --dataset mv --split test --index 0")
                == ["error: --dataset shows a loaded item: --split, --family and --png are for the task suite"])
    }

    @Test func optionsCompleteAndShowInHelp() throws {
        let s = try Fixture.session("dataset-complete", inputs: Self.fixtures)
        #expect(Completer.complete("data load x --format m", session: s).candidates == ["m3cot", "mathvista", "mstar"])
        #expect(Completer.complete("data load x --va", session: s).candidates == ["--validation"])
        #expect(Completer.complete("data show --da", session: s).candidates == ["--dataset"])
        #expect(Fixture.run(s, "help data load").dropFirst().first
                == "usage: data load FILE [--format auto|mstar|mathvista|m3cot|scienceqa|llava] [--as TEXT] [--seed N] [--unlabelled X] [--validation X] [--test X]")
    }

    @Test func badOptionsAndFilesFailInOneLine() throws {
        let s = try Fixture.session("dataset-errors", inputs: Self.fixtures)
        #expect(Fixture.run(s, "data load m3cot/test.jsonl --validation 0.6 --test 0.6") == [
            "error: --unlabelled, --validation and --test add up to 1.2; they must leave 0 or more for labelled (at most 1 in all)",
        ])
        #expect(Fixture.run(s, "data load m3cot/test.jsonl --format scienceqa").first?.hasPrefix("error: \(Self.fixtures)/m3cot/test.jsonl: no valid scienceqa record (8 bad: ") == true)
        #expect(Fixture.run(s, "data load m3cot/test.jsonl --format vqa").first?.hasPrefix("error: ") == true)
    }
}
