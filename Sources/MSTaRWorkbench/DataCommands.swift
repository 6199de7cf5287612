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
            "data load", group: "data", summary: "read a JSONL file of examples (LLaVA format, docs/tasks.md) as a named dataset",
            discussion: "Bad lines are listed as FILE:LINE: reason and skipped.",
            arguments: [ArgumentSpec("file", .path, help: "the JSONL file (relative to the script's folder)")],
            options: [OptionSpec("as", .string, default: .value(.string("loaded")), help: "the dataset's name")]
        ) { cmd, s in
            let file = cmd.string("file")
            let imported = try JSONL.read(s.inputPath(file))
            s.engine.datasets[cmd.string("as")] = imported.examples
            var byFamily = [Family: Int]()
            for e in imported.examples { byFamily[e.family, default: 0] += 1 }
            let counts = Family.allCases.map { "\($0.rawValue) \(byFamily[$0] ?? 0)" }.joined(separator: ", ")
            // Bad lines are named relative to the file as given, so the output does not depend on the folder.
            let bad = imported.badLines.map { "skipped \(file):\($0.line): \($0.message)" }
            return CommandOutput(lines: bad + ["\(cmd.string("as")): \(imported.examples.count) examples (\(counts)); \(imported.badLines.count) bad lines skipped"])
        })

        session.register(CommandSpec(
            "data show", group: "data", summary: "print one example: scene as ASCII art, question, answer, chain",
            options: [
                OptionSpec("split", .choice(splits), default: .required, help: "the split"),
                OptionSpec("index", .int, default: .required, help: "index of the example (within --family when given)"),
                OptionSpec("family", .choice(families), help: "count --index within this family"),
                OptionSpec("png", .outputPath, help: "also write the scene as a PNG file (inside the run directory)"),
                OptionSpec("scale", .int, default: .value(.int(4)), range: 1...32, help: "PNG pixels per scene pixel"),
            ]
        ) { cmd, s in
            let suite = try suite(s)
            let split = try SplitName(name: cmd.string("split"))
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
