import ArgumentParser
import Foundation
import MSTaRTasks

/// `mstar data`: build, export, inspect and check task datasets.
struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Build, export, inspect and check the task datasets (see docs/tasks.md).",
        subcommands: [Export.self, Show.self, Check.self]
    )

    /// Options every subcommand that builds a suite shares.
    struct SuiteOptions: ParsableArguments {
        @Option(help: "Split: \(SplitName.allCases.map(\.rawValue).joined(separator: ", ")).")
        var split: String

        @Option(help: "Only this family: \(Family.allCases.map(\.rawValue).joined(separator: ", ")).")
        var family: String?

        @Option(help: "Seed of the whole suite.")
        var seed: UInt64 = 0

        @Option(help: "Size of the split before --family picks one family in four (default: the standard size).")
        var count: Int?

        @Option(help: "Path of digits.csv.gz (default: $MSTAR_DIGITS, else data/digits.csv.gz in the checkout).")
        var digits: String?

        func suite() throws -> (TaskSuite, SplitName, Family?) {
            let name = try SplitName(name: split)
            let fam = try family.map { try Family(name: $0) }
            var sizes = SplitSizes.standard
            if let n = count {
                guard n >= 0 else { throw ValidationError("--count must be >= 0") }
                sizes[name] = n
            }
            let suite = try TaskSuite(seed: seed, sizes: sizes, bank: try DigitBank.load(path: digits))
            return (suite, name, fam)
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write DIR/data.jsonl (LLaVA conversation format) and DIR/images/*.png for a split.")

        @OptionGroup var options: SuiteOptions

        @Option(help: "Output directory.")
        var out: String

        @Option(help: "Enlarge every image pixel to SCALE x SCALE in the PNG files.")
        var scale: Int = 1

        func run() throws {
            guard scale >= 1 else { throw ValidationError("--scale must be >= 1") }
            let (suite, split, family) = try options.suite()
            let examples = suite.examples(split, family: family)
            let path = try JSONL.export(examples, to: out, imageScale: scale)
            let images = examples.filter { $0.image != nil }.count
            print("wrote \(examples.count) examples to \(path) and \(images) images to \(out)/\(JSONL.imageDirectory)/")
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print one example: the scene as ASCII art, question, answer and chain of thought.")

        @Option(help: "Split: \(SplitName.allCases.map(\.rawValue).joined(separator: ", ")).")
        var split: String?

        @Option(help: "Read the example from this JSONL file instead of building a split.")
        var jsonl: String?

        @Option(help: "Index of the example (within --family when given).")
        var index: Int

        @Option(help: "Only this family.")
        var family: String?

        @Option(help: "Seed of the whole suite.")
        var seed: UInt64 = 0

        @Option(help: "Path of digits.csv.gz.")
        var digits: String?

        @Flag(help: "Distort the handwriting as pretraining scenes do (HandwritingAugmentation.standard).")
        var augment = false

        func run() throws {
            guard index >= 0 else { throw ValidationError("--index must be >= 0") }
            let example: Example
            if let file = jsonl {
                let imported = try JSONL.read(file)
                for b in imported.badLines { FileHandle.standardError.write(Data("skipped \(b)\n".utf8)) }
                guard index < imported.examples.count else {
                    throw ValidationError("\(file) has \(imported.examples.count) usable examples; --index \(index) is past the end")
                }
                example = imported.examples[index]
            } else {
                guard let split else { throw ValidationError("give --split NAME or --jsonl FILE") }
                let name = try SplitName(name: split)
                let fam = try family.map { try Family(name: $0) }
                let suite = try TaskSuite(seed: seed, bank: try DigitBank.load(path: digits),
                                          style: RenderStyle(augmentation: augment ? .standard : nil))
                // Family f holds the indices f, f + 4, f + 8, ...
                let global = fam.map { Family.allCases.firstIndex(of: $0)! + index * Family.allCases.count } ?? index
                example = suite.example(name, index: global)
            }
            print(Self.describe(example), terminator: "")
        }

        static func describe(_ e: Example) -> String {
            var s = "id: \(e.id)   family: \(e.family.rawValue)   level: \(e.level)   annotation: \(e.annotation.rawValue)\n"
            if let image = e.image {
                let border = "+" + String(repeating: "-", count: 2 * image.width) + "+\n"
                s += border
                for line in image.ascii().split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
                    s += "|\(line)|\n"
                }
                s += border
            } else {
                s += "(text only)\n"
            }
            s += "question: \(e.question)\n"
            s += "answer:   \(e.answer.map(String.init) ?? "-")\n"
            s += "chain:    \(e.chain)\n"
            s += "facts:    reads \(e.facts.reads)" + (e.facts.heights.isEmpty ? "" : ", heights \(e.facts.heights)") + "\n"
            return s
        }
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import a JSONL file and report every bad line with its line number.")

        @Argument(help: "The JSONL file.")
        var file: String

        @Flag(help: "Stop at the first bad line with a non-zero exit status instead of skipping it.")
        var refuseBadLines = false

        func run() throws {
            let imported = try JSONL.read(file, onBadLine: refuseBadLines ? .refuse : .skip)
            for b in imported.badLines { FileHandle.standardError.write(Data("skipped \(b)\n".utf8)) }
            var byFamily = [String: Int]()
            for e in imported.examples { byFamily[e.family.rawValue, default: 0] += 1 }
            let counts = Family.allCases.map { "\($0.rawValue) \(byFamily[$0.rawValue] ?? 0)" }.joined(separator: ", ")
            print("\(imported.examples.count) examples (\(counts)); \(imported.badLines.count) bad lines skipped")
            if !imported.badLines.isEmpty { throw ExitCode(2) }
        }
    }
}
