import Foundation
import Testing
import MSTaRTasks

/// The dataset fixtures: one folder per layout under Tests/Fixtures/datasets (made by its make_fixtures.py).
enum Datasets {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/datasets").path

    static func path(_ relative: String) -> String { folder + "/" + relative }

    /// The dataset read from a fixture (auto-detected unless `format` is given).
    static func read(_ relative: String, format: DatasetFormat? = nil, seed: UInt64 = 0,
                     fractions: SplitFractions = .standard, limits: DatasetLimits = .standard) throws -> ReasoningDataset {
        guard case .dataset(let d) = try DatasetReader.read(path(relative), format: format, seed: seed, fractions: fractions,
                                                             limits: limits) else {
            throw TasksError.invalid("\(relative) read as mstar's format")
        }
        return d
    }

    /// "LOCATION: message" of each bad record, the folder left out.
    static func bad(_ d: ReasoningDataset) -> [String] {
        d.badRecords.map { $0.location.suffix + ": " + $0.message }
    }
}

@Suite struct DatasetLayoutTests {
    @Test func readsMathVistaDictKeyedByPid() throws {
        let d = try Datasets.read("mathvista/testmini.json")
        #expect(d.format == .mathvista)
        #expect(d.items.map(\.id) == ["1", "2", "3", "4", "5", "6"])
        #expect(d.items.map(\.answerType) == [.integer, .float, .choice, .list, .choice, .text])
        #expect(d.items.map(\.answer) == ["4", "7.5", "C", "[1, 2, 3]", "B", "blue"])
        #expect(d.items[1].precision == 1)
        #expect(d.items[1].metadata["unit"] == "cm")
        #expect(d.items[1].metadata["metadata.source"] == "made-up fixture")
        #expect(d.items[1].metadata["query"]?.hasPrefix("Hint: Please answer") == true)
        #expect(d.items[2].choices == ["circle", "square", "triangle", "pentagon"])
        #expect(d.items[2].image?.format == .jpeg)
        #expect(d.items[5].image.map { [$0.width, $0.height] } == [64, 48])
        #expect(d.items[0].image?.path == "images/1.png")
        #expect(d.items[0].image?.resolved == Datasets.path("mathvista/images/1.png"))
        #expect(Datasets.bad(d) == [
            "[\"7\"]: missing \"answer\": the record needs the gold answer",
            "[\"8\"]: image \"../outside.png\" leaves the dataset's folder (\"..\"); image paths must stay inside the dataset file's folder",
            "[\"9\"]: image \"images/huge.png\" is 5000x5000 pixels; at most 4096x4096 are read: resize it",
            "[\"10\"]: \"answer\": \"hexagon\" is neither a choice's letter (A to B) nor a choice's text",
        ])
        #expect(d.badRecords[0].description == Datasets.path("mathvista/testmini.json") + "[\"7\"]: missing \"answer\": the record needs the gold answer")
        // The gold answers score the way MathVista's do.
        #expect(d.items[1].isCorrect("The side is 7.5 cm long, so the answer is 7.5."))
        #expect(d.items[2].isCorrect("The shaded one has three corners: (C) triangle"))
        #expect(d.items[4].isCorrect("x = 45°, so the answer is 45"))
        #expect(d.items[3].isCorrect("Answer: [1, 2, 3]"))
    }

    @Test func readsM3CoTJSONL() throws {
        let d = try Datasets.read("m3cot/test.jsonl")
        #expect(d.format == .m3cot)
        #expect(d.items.map(\.id) == ["m3-1", "m3-2", "m3-3", "m3-4", "m3-8"])
        #expect(d.items.map(\.answer) == ["B", "D", "B", "B", "B"])
        #expect(d.items.allSatisfy { $0.answerType == .choice })
        #expect(d.items[0].metadata["rationale"] == "Look at the picture. The answer is (B).")
        #expect(d.items[2].metadata["domain"] == "mathematics")
        #expect(d.items[3].image == nil)
        #expect(Datasets.bad(d) == [
            ":6: \"answer\": \"F\" is not one of the 4 choices (A to D)",
            ":7: missing \"question\": the record needs the question to ask",
            ":8: image \"images/truncated.png\": truncated PNG (a chunk runs past the end of the file): re-save the image",
        ])
    }

    @Test func readsScienceQAArrayWithIndexAnswers() throws {
        let d = try Datasets.read("scienceqa/problems.json")
        #expect(d.format == .scienceqa)
        // No ids in this layout: the element index names each item.
        #expect(d.items.map(\.id) == ["item-0", "item-1", "item-2", "item-3", "item-7"])
        #expect(d.items.map(\.answer) == ["A", "B", "B", "B", "B"])
        #expect(d.items[0].metadata["hint"] == "Two magnets are placed as shown.")
        #expect(d.items[0].metadata["lecture"] == "A magnet attracts iron.")
        #expect(d.items.map { $0.image?.path } == ["images/1/image.png", nil, nil, "images/4/image.png", nil])
        #expect(Datasets.bad(d) == [
            "[4]: \"answer\": \"5\" is not the index of a choice (0 to 2)",
            "[5]: image \"/etc/passwd\" is an absolute path; image paths must be relative to the dataset file's folder",
            "[6]: image \"images/7/image.jpg\": truncated JPEG (it ends inside a segment): re-save the image",
        ])
    }

    @Test func readsLLaVAConversations() throws {
        let d = try Datasets.read("llava/train.jsonl")
        #expect(d.format == .llava)
        #expect(d.items.map(\.id) == ["ll-1", "ll-2", "ll-3", "ll-4", "ll-9"])
        #expect(d.items.map(\.question) == ["How many red bars are there?", "What is the total cost?",
                                            "What colour is the sky in the picture?", "What is 12 times 12?",
                                            "Which is larger, 3 or 7?"])
        #expect(d.items.map(\.answer) == ["3", "3.50", "Blue", "144", "7"])
        #expect(d.items.map(\.answerType) == [.integer, .float, .text, .integer, .integer])
        #expect(d.items[1].precision == 2)
        #expect(d.items[2].image.map { [$0.width, $0.height] } == [24, 16])
        #expect(d.items[0].metadata["response"] == "There are two tall bars and one short one.\nThe answer is 3.")
        #expect(Datasets.bad(d) == [
            ":5: no \"gpt\" turn after the question: nothing says what the answer is",
            ":6: the question has <image> but the record has no \"image\"",
            ":7: not valid JSON",
            ":8: image \"images/escape.png\" leads outside the dataset's folder through a link; image files must lie inside the dataset file's folder",
        ])
        #expect(d.items[1].isCorrect("1.25 + 2.25 = \\boxed{3.5}"))
        #expect(d.items[2].isCorrect("The sky is blue.\nAnswer: blue"))
    }

    @Test func autoDetectsEachLayoutAndMstarsOwn() throws {
        #expect(try DatasetReader.detect(Datasets.path("mathvista/testmini.json")) == .mathvista)
        #expect(try DatasetReader.detect(Datasets.path("m3cot/test.jsonl")) == .m3cot)
        #expect(try DatasetReader.detect(Datasets.path("scienceqa/problems.json")) == .scienceqa)
        #expect(try DatasetReader.detect(Datasets.path("llava/train.jsonl")) == .llava)
        #expect(try DatasetReader.detect(Datasets.path("mstar/data.jsonl")) == .mstar)
        guard case .mstar = try DatasetReader.read(Datasets.path("mstar/data.jsonl")) else {
            Issue.record("mstar's JSONL should be handed to JSONL.read")
            return
        }
        // Keys alone: mstar's conversations ask its templates; LLaVA's ask anything.
        let turns: JSONValue = .array([.object(["from": .string("human"), "value": .string("<image>\nwhat is the sum of the digits ?")])])
        #expect(DatasetFormat.detect(["id": .string("a"), "conversations": turns]) == .mstar)
        #expect(DatasetFormat.detect(["pid": .string("1"), "question": .string("q")]) == .mathvista)
        #expect(DatasetFormat.detect(["question": .string("q")]) == nil)
        // A layout given by --format wins over what the keys say: M3CoT's letters are no ScienceQA indices.
        #expect(throws: TasksError.self) { try Datasets.read("m3cot/test.jsonl", format: .scienceqa) }
        #expect(try Datasets.read("m3cot/test.jsonl", format: .m3cot).items.count == 5)
    }

    @Test func unknownLayoutsAndAllBadFilesFailInOneLine() throws {
        let dir = try Fixture.tempDir("datasets-fail")
        let odd = dir.appendingPathComponent("odd.jsonl").path
        try "{\"foo\": 1, \"bar\": 2}\n".write(toFile: odd, atomically: true, encoding: .utf8)
        #expect(throws: TasksError.invalid("\(odd): cannot tell the layout from the records' keys (the first has bar, foo); "
                                           + "give --format mstar|mathvista|m3cot|scienceqa|llava")) {
            try DatasetReader.read(odd)
        }
        let allBad = dir.appendingPathComponent("bad.jsonl").path
        try "{\"id\": \"a\", \"question\": \"q\", \"choices\": [\"x\", \"y\"], \"answer\": \"Q\"}\n".write(toFile: allBad, atomically: true, encoding: .utf8)
        #expect(throws: TasksError.invalid("\(allBad): no valid m3cot record (1 bad: \(allBad):1: \"answer\": \"Q\" is not one of the 2 choices (A to B))")) {
            try DatasetReader.read(allBad)
        }
        let empty = dir.appendingPathComponent("empty.json").path
        try "\n \n".write(toFile: empty, atomically: true, encoding: .utf8)
        #expect(throws: TasksError.invalid("\(empty) is empty: no record to read")) { try DatasetReader.read(empty) }
        #expect(throws: (any Error).self) { try DatasetReader.read(dir.appendingPathComponent("missing.json").path) }
        #expect(throws: (any Error).self) { try DatasetReader.read(dir.path) }  // a folder, not a file
    }

    @Test func boundsLinesRecordsStringsAndNesting() throws {
        let dir = try Fixture.tempDir("datasets-limits")
        let path = dir.appendingPathComponent("d.jsonl").path
        func record(_ i: Int, question: String = "Which?") -> String {
            "{\"id\": \"r\(i)\", \"question\": \"\(question)\", \"choices\": [\"x\", \"y\"], \"answer\": \"A\", \"rationale\": \"r\"}"
        }
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        let lines = [record(1), String(repeating: " ", count: 300) + record(2), record(3, question: String(repeating: "q", count: 100)),
                     deep, "[1, 2]", record(4), record(5)]
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        var limits = DatasetLimits()
        limits.lineBytes = 256
        limits.questionLength = 50
        limits.records = 6
        let d = try Datasets.read("d.jsonl", limits: limits, in: dir.path)
        #expect(d.items.map(\.id) == ["r1", "r4"])
        #expect(Datasets.bad(d) == [
            ":2: the line is \(300 + record(2).utf8.count) bytes; a record may be at most 256",
            ":3: \"question\" is 100 bytes; at most 50 are read",
            ":4: the line is 200000 bytes; a record may be at most 256",
            ":5: a record must be a JSON object",
            ":7: more than 6 records: the rest of the file is not read; split it into smaller files",
        ])
        // Nesting is refused before the decoder recurses into it.
        try ("{\"id\": \"a\", \"question\": \"q\", \"choices\": [\"x\", \"y\"], \"answer\": \"A\", \"rationale\": " + deep.prefix(2_000) + deep.suffix(2_000) + "}\n"
             + record(9) + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        let nested = try Datasets.read("d.jsonl", format: .m3cot, in: dir.path)
        #expect(Datasets.bad(nested) == [":1: JSON nested more than 64 deep"])
    }

    @Test func splitsAreDeterministicFromTheSeed() throws {
        let a = try Datasets.read("m3cot/test.jsonl", seed: 3)
        let b = try Datasets.read("m3cot/test.jsonl", seed: 3)
        #expect(a.splits == b.splits)
        // 5 items at the standard 70 / 0 / 10 / 20: 1 test, 1 validation (0.5 rounds up), 3 labelled.
        let counts = SplitFractions.standard.counts(5)
        #expect(counts == [.test: 1, .validation: 1, .unlabelled: 0, .labelled: 3])
        #expect(DatasetSplit.allCases.map { a.items(in: $0).count } == [3, 0, 1, 1])
        // Other seeds give other assignments, with the same sizes.
        let many = (0..<20).map { SplitFractions.standard.assign(50, seed: UInt64($0)) }
        #expect(Set(many.map { $0.map(\.rawValue).joined(separator: ",") }).count == 20)
        for s in many {
            #expect(s.filter { $0 == .test }.count == 10 && s.filter { $0 == .validation }.count == 5 && s.filter { $0 == .labelled }.count == 35)
        }
        let f = try SplitFractions(unlabelled: 0.5, validation: 0.25, test: 0.25)
        #expect(f.counts(4) == [.test: 1, .validation: 1, .unlabelled: 2, .labelled: 0])
        #expect(f.assign(4, seed: 9) == f.assign(4, seed: 9))
        // Pinned: the assignment is part of what a saved session replays to.
        #expect(SplitFractions.standard.assign(10, seed: 0).map(\.rawValue) == Self.pinned)
        #expect(throws: TasksError.self) { try SplitFractions(unlabelled: 0.6, validation: 0.3, test: 0.2) }
        #expect(throws: TasksError.self) { try SplitFractions(unlabelled: -0.1, validation: 0, test: 0) }
    }

    static let pinned = ["test", "validation", "labelled", "labelled", "labelled", "labelled", "labelled", "test", "labelled", "labelled"]
}

@Suite struct DatasetImageTests {
    @Test func readsPNGAndJPEGHeaders() throws {
        for (file, format, w, h) in [("mathvista/images/1.png", ImageInfo.Format.png, 16, 12), ("mathvista/images/4.png", .png, 8, 8),
                                     ("mathvista/images/3.jpg", .jpeg, 16, 16), ("llava/images/0003.jpg", .jpeg, 24, 16)] {
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Datasets.path(file))))
            let header = try DatasetImage.header(bytes)
            #expect(header.format == format && header.width == w && header.height == h, "\(file)")
        }
        // The PNG the repo writes passes too.
        let canvas = try Canvas(height: 32, width: 48, pixels: [Float](repeating: 0.5, count: 32 * 48))
        #expect(try DatasetImage.header(PNG.encode(canvas, scale: 2)).width == 96)
    }

    @Test func refusesDamagedImages() throws {
        let png = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Datasets.path("mathvista/images/1.png"))))
        let jpeg = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Datasets.path("mathvista/images/3.jpg"))))
        var badCRC = png
        badCRC[20] ^= 1
        var noEnd = jpeg
        noEnd.removeLast(2)
        let cases: [([UInt8], String)] = [
            ([], "not a PNG or JPEG file (its first bytes are neither's signature)"),
            (Array("GIF89a".utf8), "not a PNG or JPEG file (its first bytes are neither's signature)"),
            (Array(png.prefix(30)), "truncated PNG (a chunk runs past the end of the file): re-save the image"),
            (Array(png.dropLast(12)), "truncated PNG (it ends inside a chunk, before IEND): re-save the image"),
            (badCRC, "PNG chunk IHDR has a bad CRC (the file is damaged): re-save the image"),
            (noEnd, "truncated JPEG (no end-of-image marker): re-save the image"),
            ([0xFF, 0xD8, 0xFF, 0xD9], "JPEG ends before its image data"),
            ([0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x02, 0xFF, 0xD9], "JPEG has no frame header (SOF) before its image data"),
            (Array(jpeg.prefix(40)), "truncated JPEG (it ends inside a segment): re-save the image"),
        ]
        for (bytes, message) in cases {
            #expect(throws: TasksError.invalid(message)) { try DatasetImage.header(bytes) }
        }
    }

    @Test func keepsPathsInsideTheDatasetFolder() throws {
        let dir = try Fixture.tempDir("datasets-paths")
        let folder = dir.appendingPathComponent("set").path
        try FileManager.default.createDirectory(atPath: folder + "/img", withIntermediateDirectories: true)
        let png = try Data(contentsOf: URL(fileURLWithPath: Datasets.path("mathvista/images/1.png")))
        try png.write(to: URL(fileURLWithPath: folder + "/img/a.png"))
        try png.write(to: URL(fileURLWithPath: dir.path + "/outside.png"))
        try FileManager.default.createSymbolicLink(atPath: folder + "/img/inside-link.png", withDestinationPath: "a.png")
        try FileManager.default.createSymbolicLink(atPath: folder + "/img/out-link.png", withDestinationPath: "../../outside.png")
        try FileManager.default.createSymbolicLink(atPath: folder + "/linked-dir", withDestinationPath: dir.path)
        let real = try #require(realpath(folder, nil))
        let base = String(cString: real)
        free(real)

        #expect(try DatasetImage.check("img/a.png", folder: base).width == 16)
        #expect(try DatasetImage.check("./img//a.png", folder: base).height == 12)
        #expect(try DatasetImage.check("img/inside-link.png", folder: base).resolved == base + "/img/a.png")
        let refused: [(String, String)] = [
            ("../outside.png", "leaves the dataset's folder"),
            ("img/../../outside.png", "leaves the dataset's folder"),
            ("/etc/passwd", "is an absolute path"),
            ("~/x.png", "is an absolute path"),
            ("img/out-link.png", "leads outside the dataset's folder through a link"),
            ("linked-dir/outside.png", "leads outside the dataset's folder through a link"),
            ("https://example.com/a.png", "is a URL; images are not fetched"),
            ("img/missing.png", "cannot be read: No such file or directory"),
            ("img", "cannot be read"),
            ("", "a path must be 1 to 1024 bytes"),
            ("img/a\u{0}.png", "a path must be 1 to 1024 bytes"),
        ]
        for (path, reason) in refused {
            do {
                _ = try DatasetImage.check(path, folder: base)
                Issue.record("\(path) was accepted")
            } catch {
                #expect("\(error)".contains(reason), "\(path): \(error)")
            }
        }
        // A FIFO is not read (it would block), whatever it is called.
        #expect(mkfifo(folder + "/img/fifo.png", 0o600) == 0)
        #expect(throws: TasksError.self) { try DatasetImage.check("img/fifo.png", folder: base) }
    }
}

extension Datasets {
    /// The dataset read from `relative` under `folder` (for files written by a test).
    static func read(_ relative: String, format: DatasetFormat? = nil, limits: DatasetLimits = .standard, in folder: String) throws -> ReasoningDataset {
        guard case .dataset(let d) = try DatasetReader.read(folder + "/" + relative, format: format, limits: limits) else {
            throw TasksError.invalid("\(relative) read as mstar's format")
        }
        return d
    }
}
