import Foundation
import MSTaRTasks
import MSTaRTensor

/// `data generate`, `data show`, `data export`: the task suite (MSTaRTasks) at the prompt.
/// The suite lives in the session's engine state; commands that need one build the default
/// (session seed, standard sizes) when none was generated.
public enum DataCommands {
    /// The session's task suite, building the default one if none was generated.
    public static func suite(_ session: Session) throws -> TaskSuite {
        if let s = session.engine.suite { return s }
        let s = try TaskSuite(seed: session.seed, bank: try bank(session, path: nil))
        session.engine.suite = s
        return s
    }

    /// A dataset loaded with `data load FILE --as NAME`.
    public static func dataset(_ session: Session, _ name: String) -> [Example]? {
        session.engine.datasets[name]
    }

    static func bank(_ session: Session, path: String?) throws -> DigitBank {
        if path == nil, let b = session.engine.digits { return b }
        let b = try DigitBank.load(path: path.map(session.inputPath))
        if path == nil { session.engine.digits = b }
        return b
    }

    static let splits = SplitName.allCases.map(\.rawValue)
    static let families = Family.allCases.map(\.rawValue)

    static func register(in session: Session) {
        session.register(CommandSpec(
            "data generate", group: "data", summary: "build the task suite: every split from one seed",
            discussion: "Examples are made on demand from (seed, split, index), so this is instant; later data commands and training use this suite.",
            options: [
                OptionSpec("seed", .int, default: .setting("seed"), help: "seed of the whole suite"),
                OptionSpec("fraction", .double, default: .value(.double(1)), range: 0...100, help: "fraction of the standard split sizes"),
                OptionSpec("digits", .path, help: "digits.csv.gz to read (default: found as docs/tasks.md says)"),
            ]
        ) { cmd, s in
            let fraction = cmd.double("fraction")
            guard fraction > 0 else { throw WorkbenchError("--fraction must be above 0; got \(formatNumber(fraction))") }
            guard cmd.int("seed") >= 0 else { throw WorkbenchError("--seed must be 0 or more") }
            var sizes = SplitSizes.standard
            for split in SplitName.allCases { sizes[split] = max(1, Int((Double(sizes[split]) * fraction).rounded())) }
            let bank = try bank(s, path: cmd.optionalString("digits"))
            let suite = try TaskSuite(seed: UInt64(cmd.int("seed")), sizes: sizes, bank: bank)
            s.engine.suite = suite
            let counts = SplitName.allCases.map { "\($0.rawValue) \(sizes[$0])" }.joined(separator: ", ")
            let pools = HandwritingPool.allCases.map { "\($0.rawValue) \(suite.handwriting.allImages(in: $0).count)" }
            return CommandOutput(lines: [
                "suite seed \(cmd.int("seed")): \(counts)",
                "handwriting: \(bank.count) images (\(pools.joined(separator: ", ")))",
            ])
        })

        session.register(CommandSpec(
            "data load", group: "data", summary: "read a dataset file as a named dataset: mstar's JSONL, MathVista, M3CoT, ScienceQA or LLaVA",
            discussion: """
                --format auto tells the layout from the records' keys (docs/datasets.md). mstar's own JSONL (docs/tasks.md) loads \
                as before; a real dataset's items are cut into labelled / unlabelled / validation / test from --seed (labelled \
                takes what --unlabelled, --validation and --test leave). Bad records are listed as FILE:LINE: reason \
                (FILE[INDEX] in a JSON array) and skipped; images must be PNG or JPEG inside the file's folder.
                """,
            arguments: [ArgumentSpec("file", .path, help: "the JSONL or JSON file (relative to the script's folder)")],
            options: [
                OptionSpec("format", .choice(["auto"] + DatasetFormat.allCases.map(\.rawValue)), default: .value(.string("auto")),
                           help: "the file's layout"),
                OptionSpec("as", .string, default: .value(.string("loaded")), help: "the dataset's name"),
                OptionSpec("seed", .int, default: .setting("seed"), help: "seed of the split assignment"),
                OptionSpec("unlabelled", .double, default: .value(.double(SplitFractions.standard.unlabelled)), range: 0...1,
                           help: "fraction of the items in unlabelled"),
                OptionSpec("validation", .double, default: .value(.double(SplitFractions.standard.validation)), range: 0...1,
                           help: "fraction of the items in validation"),
                OptionSpec("test", .double, default: .value(.double(SplitFractions.standard.test)), range: 0...1,
                           help: "fraction of the items in test"),
            ]
        ) { cmd, s in
            let file = cmd.string("file"), name = cmd.string("as"), format = cmd.string("format")
            guard cmd.int("seed") >= 0 else { throw WorkbenchError("--seed must be 0 or more") }
            let fractions = try SplitFractions(unlabelled: cmd.double("unlabelled"), validation: cmd.double("validation"),
                                               test: cmd.double("test"))
            let outcome: DatasetReader.Outcome
            if format == DatasetFormat.mstar.rawValue {
                outcome = .mstar
            } else {
                outcome = try DatasetReader.read(s.inputPath(file), format: format == "auto" ? nil : try DatasetFormat(name: format),
                                                 seed: UInt64(cmd.int("seed")), fractions: fractions)
            }
            switch outcome {
            case .mstar:
                let imported = try JSONL.read(s.inputPath(file))
                s.engine.datasets[name] = imported.examples
                s.engine.reasoningSets[name] = nil
                var byFamily = [Family: Int]()
                for e in imported.examples { byFamily[e.family, default: 0] += 1 }
                let counts = Family.allCases.map { "\($0.rawValue) \(byFamily[$0] ?? 0)" }.joined(separator: ", ")
                // Bad lines are named relative to the file as given, so the output does not depend on the folder.
                let bad = imported.badLines.map { "skipped \(file):\($0.line): \($0.message)" }
                return CommandOutput(lines: bad + ["\(name): \(imported.examples.count) examples (\(counts)); \(imported.badLines.count) bad lines skipped"])
            case .dataset(var d):
                d.file = file
                s.engine.reasoningSets[name] = d
                s.engine.datasets[name] = nil
                let bad = d.badRecords.map { "skipped \(file)\($0.location.suffix): \($0.message)" }
                return CommandOutput(lines: bad + summary(d, name: name))
            }
        })

        session.register(CommandSpec(
            "data use", group: "data", summary: "run the method (step, evolve, dynamics, sample) on a real dataset's items, or on the digit suite",
            discussion: "data use NAME takes a dataset from data load --as NAME: step and evolve draw its labelled (and, with prompt_variation majority, unlabelled) items, ask the remote backend's model, reward against the gold answers, select, write the selection for an external trainer, and measure the dynamics on its validation items. data use suite goes back to the digit tasks. docs/datasets.md.",
            arguments: [ArgumentSpec("dataset", .string, help: "a dataset's name, or suite")]
        ) { cmd, s in try ItemCommands.use(cmd, s) })

        session.register(CommandSpec(
            "data show", group: "data", summary: "print one example: scene as ASCII art, question, answer, chain",
            discussion: "With --dataset, one item of a dataset from data load: question, choices, gold answer, image and split.",
            options: [
                OptionSpec("split", .choice(splits), help: "the split of the task suite"),
                OptionSpec("dataset", .string, help: "a dataset loaded with data load --as NAME (instead of --split)"),
                OptionSpec("index", .int, default: .required, help: "index of the example (within --family when given)"),
                OptionSpec("family", .choice(families), help: "count --index within this family"),
                OptionSpec("png", .outputPath, help: "also write the scene as a PNG file (inside the run directory)"),
                OptionSpec("scale", .int, default: .value(.int(4)), range: 1...32, help: "PNG pixels per scene pixel"),
            ]
        ) { cmd, s in
            if let name = cmd.optionalString("dataset") {
                guard cmd.optionalString("split") == nil, cmd.optionalString("family") == nil, cmd.optionalString("png") == nil else {
                    throw WorkbenchError("--dataset shows a loaded item: --split, --family and --png are for the task suite")
                }
                return CommandOutput(lines: try describeItem(s, dataset: name, index: cmd.int("index")))
            }
            guard let splitName = cmd.optionalString("split") else {
                throw WorkbenchError("data show needs --split NAME (the task suite) or --dataset NAME (a dataset from data load)")
            }
            let suite = try suite(s)
            let split = try SplitName(name: splitName)
            let index = cmd.int("index")
            let family = try cmd.optionalString("family").map { try Family(name: $0) }
            let count = family == nil ? suite.sizes[split] : suite.examples(split, family: family).count
            guard index >= 0, index < count else {
                throw WorkbenchError("--index \(index) is outside \(split.rawValue)\(family.map { " (\($0.rawValue))" } ?? ""): use 0 to \(count - 1)")
            }
            let global = family.map { Family.allCases.firstIndex(of: $0)! + index * Family.allCases.count } ?? index
            let example = suite.example(split, index: global)
            var out = CommandOutput(lines: describe(example))
            if let png = cmd.optionalString("png") {
                guard let image = example.image else { throw WorkbenchError("\(example.id) is text only: it has no image for --png") }
                try PNG.write(image, to: try s.writablePath(png, what: "--png"), scale: cmd.int("scale"))
                out.image(png, kind: .image)
            }
            return out
        })

        session.register(CommandSpec(
            "data export", group: "data", summary: "write a split as DIR/data.jsonl (LLaVA format) and DIR/images/*.png",
            options: [
                OptionSpec("split", .choice(splits), default: .required, help: "the split"),
                OptionSpec("out", .outputPath, default: .required, help: "output directory (inside the run directory when relative)"),
                OptionSpec("family", .choice(families), help: "only this family"),
                OptionSpec("count", .int, range: 0...10_000_000, help: "only the first N examples"),
                OptionSpec("scale", .int, default: .value(.int(1)), range: 1...32, help: "PNG pixels per scene pixel"),
            ]
        ) { cmd, s in
            let suite = try suite(s)
            let split = try SplitName(name: cmd.string("split"))
            let family = try cmd.optionalString("family").map { try Family(name: $0) }
            var examples = suite.examples(split, family: family)
            if let n = cmd.optionalInt("count") { examples = Array(examples.prefix(n)) }
            let dir = cmd.string("out")
            let images = try export(examples, to: try s.writablePath(dir, .folder, what: "--out"), scale: cmd.int("scale"), session: s)
            return CommandOutput(lines: ["wrote \(examples.count) examples to \(dir)/\(JSONL.fileName) and \(images) images to \(dir)/\(JSONL.imageDirectory)/"])
        })
    }

    /// JSONL.export, one example at a time so it reports progress and stops at Ctrl-C.
    static func export(_ examples: [Example], to dir: String, scale: Int, session: Session) throws -> Int {
        let imageDir = (dir as NSString).appendingPathComponent(JSONL.imageDirectory)
        try FileManager.default.createDirectory(atPath: imageDir, withIntermediateDirectories: true)
        let bar = session.progress("export", total: examples.count, unit: "example")
        var text = "", images = 0
        for e in examples {
            try Interrupt.check()
            var rel: String? = nil
            if let canvas = e.image {
                let name = JSONL.imageName(for: e.id)
                rel = "\(JSONL.imageDirectory)/\(name)"
                try PNG.write(canvas, to: (imageDir as NSString).appendingPathComponent(name), scale: scale)
                images += 1
            }
            text += try JSONL.line(for: e, imagePath: rel) + "\n"
            bar.advance()
        }
        bar.finish()
        try Data(text.utf8).write(to: URL(fileURLWithPath: (dir as NSString).appendingPathComponent(JSONL.fileName)), options: .atomic)
        return images
    }

    /// A real dataset loaded with `data load FILE --as NAME`.
    public static func reasoningDataset(_ session: Session, _ name: String) -> ReasoningDataset? {
        session.engine.reasoningSets[name]
    }

    /// The summary `data load` prints for a real dataset: items and bad records, splits, answer types, images.
    static func summary(_ d: ReasoningDataset, name: String) -> [String] {
        var splitCounts = [DatasetSplit: Int](), typeCounts = [AnswerType: Int](), formats = [ImageInfo.Format: Int]()
        for s in d.splits { splitCounts[s, default: 0] += 1 }
        for item in d.items { typeCounts[item.answerType, default: 0] += 1 }
        let images = d.items.compactMap(\.image)
        for i in images { formats[i.format, default: 0] += 1 }
        var imageLine = "images: \(images.count) (" + ImageInfo.Format.allCases.map { "\($0.rawValue) \(formats[$0] ?? 0)" }.joined(separator: ", ") + ")"
        if let w = images.map(\.width).max(), let h = images.map(\.height).max() { imageLine += ", at most \(w)x\(h) pixels" }
        let textOnly = d.items.count - images.count
        if textOnly > 0 { imageLine += "; \(textOnly) text-only item\(textOnly == 1 ? "" : "s")" }
        return [
            "\(name): \(d.items.count) \(d.format.rawValue) items; \(d.badRecords.count) bad records skipped",
            "splits (seed \(d.seed)): " + DatasetSplit.allCases.map { "\($0.rawValue) \(splitCounts[$0] ?? 0)" }.joined(separator: ", "),
            "answer types: " + AnswerType.allCases.map { "\($0.rawValue) \(typeCounts[$0] ?? 0)" }.joined(separator: ", "),
            imageLine,
        ]
    }

    /// The lines `data show --dataset NAME --index I` prints for one item.
    static func describeItem(_ s: Session, dataset name: String, index: Int) throws -> [String] {
        let d = try ItemCommands.dataset(s, name)
        guard index >= 0, index < d.items.count else {
            throw WorkbenchError("--index \(index) is outside \(name): use 0 to \(d.items.count - 1)")
        }
        let item = d.items[index]
        let pad = String(repeating: " ", count: 10)
        func block(_ label: String, _ text: String) -> [String] {
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false).prefix(40)
            return lines.enumerated().map { ($0.offset == 0 ? label.padding(toLength: 10, withPad: " ", startingAt: 0) : pad) + $0.element }
        }
        var type = item.answerType.rawValue
        if let p = item.precision, item.answerType == .float { type += " (\(p) decimal place\(p == 1 ? "" : "s"))" }
        var out = ["id: \(item.id)   split: \(d.splits[index].rawValue)   format: \(d.format.rawValue)   answer type: \(type)"]
        out += block("question:", item.question)
        for (k, c) in item.choices.enumerated() {
            out += block(k == 0 ? "choices:" : "", "(\(ReasoningItem.letter(k))) \(c)")
        }
        var gold = item.answer
        if item.answerType == .choice, let k = item.answer.unicodeScalars.first.map({ Int($0.value) - 65 }), item.choices.indices.contains(k) {
            gold += " (\(item.choices[k]))"
        }
        out += block("answer:", gold)
        if let i = item.image {
            out.append("image:    \(i.path) (\(i.format.rawValue), \(i.width)x\(i.height) pixels, \(i.bytes) bytes)")
        } else {
            out.append("image:    (text only)")
        }
        for (k, v) in item.metadata.sorted(by: { $0.key < $1.key }) {
            let flat = v.split(whereSeparator: \.isNewline).joined(separator: " ")
            out.append("\(k): " + (flat.count > 100 ? String(flat.prefix(97)) + "..." : flat))
        }
        return out
    }

    /// The lines `data show` prints for an example (the same layout as `mstar data show`).
    public static func describe(_ e: Example) -> [String] {
        var lines = ["id: \(e.id)   family: \(e.family.rawValue)   level: \(e.level)   annotation: \(e.annotation.rawValue)"]
        if let image = e.image {
            let border = "+" + String(repeating: "-", count: 2 * image.width) + "+"
            lines.append(border)
            for row in image.ascii().split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
                lines.append("|\(row)|")
            }
            lines.append(border)
        } else {
            lines.append("(text only)")
        }
        lines.append("question: \(e.question)")
        lines.append("answer:   \(e.answer.map(String.init) ?? "-")")
        lines.append("chain:    \(e.chain)")
        lines.append("facts:    reads \(e.facts.reads)" + (e.facts.heights.isEmpty ? "" : ", heights \(e.facts.heights)"))
        return lines
    }
}
