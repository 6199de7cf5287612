import ArgumentParser
import Foundation
import MSTaRModel
import MSTaRTasks
import MSTaRTensor

/// Options every training or evaluation command shares.
struct ComputeOptions: ParsableArguments {
    @Option(help: "Threads for BLAS and element-wise work (default: the number of cores). Results are reproducible for a fixed count.")
    var threads: Int?

    func apply() {
        Runtime.setThreads(threads ?? ProcessInfo.processInfo.activeProcessorCount)
    }
}

/// Prints training progress: a bar with rate and time left on a terminal, plain lines otherwise.
final class ProgressPrinter {
    let isTerminal = isatty(STDERR_FILENO) == 1
    var lastLine = Date.distantPast

    func report(_ phase: String, _ p: TrainProgress) {
        let remaining = p.step > 0 ? p.elapsed / Double(p.step) * Double(p.totalSteps - p.step) : 0
        let text = String(format: "%@ %d/%d  loss %.4f  %.0f tok/s  %ds left", phase, p.step, p.totalSteps, p.loss,
                          p.tokensPerSecond, Int(remaining))
        if isTerminal {
            let width = 24, filled = p.totalSteps > 0 ? width * p.step / p.totalSteps : width
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
            FileHandle.standardError.write(Data("\r[\(bar)] \(text)\u{1B}[K".utf8))
            if p.step == p.totalSteps { FileHandle.standardError.write(Data("\n".utf8)) }
        } else if p.step == p.totalSteps || Date().timeIntervalSince(lastLine) > 10 {
            lastLine = Date()
            FileHandle.standardError.write(Data((text + "\n").utf8))
        }
    }
}

/// `mstar pre-evolve`: pretraining on captions and text skills, then warm-up on the seed chains.
struct PreEvolveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pre-evolve",
        abstract: "Build the pre-evolved policy: pretrain on captions and text skills, warm up on the seed chains of thought.")

    @Option(help: "Checkpoint directory to write.")
    var out = "checkpoints/pre-evolved"
    @Option(help: "Seed of the task suite and of training.")
    var seed: UInt64 = 0
    @Option(help: "Pretraining epochs over captions and text skills.")
    var pretrainEpochs = PreEvolutionRecipe().pretrainEpochs
    @Option(help: "Warm-up epochs over the seed chains of thought.")
    var warmupEpochs = PreEvolutionRecipe().warmupEpochs
    @Option(help: "Peak learning rate of pretraining (cosine schedule).")
    var pretrainLR = PreEvolutionRecipe().pretrainLR
    @Option(help: "Learning rate of the warm-up.")
    var warmupLR = PreEvolutionRecipe().warmupLR
    @Option(help: "Caption scenes in the pretraining corpus (default: the suite's standard size).")
    var captions: Int?
    @Option(help: "Text-only skill examples in the pretraining corpus (default: the suite's standard size).")
    var text: Int?
    @Flag(inversion: .prefixedNo, help: "Distort the handwriting of the pretraining caption scenes (rotation, shear, scale, shift, stroke width, ink).")
    var augment = PreEvolutionRecipe().captionAugmentation != nil
    @Flag(inversion: .prefixedNo, help: "Draw new caption scenes and text examples every pretraining epoch instead of repeating the same ones.")
    var fresh = PreEvolutionRecipe().freshEachEpoch
    @Option(help: "Steps of vision-encoder pretraining on the dense reading objective (naming the digit under each image token) before captioning; 0: none.")
    var visionSteps = PreEvolutionRecipe().vision?.steps ?? 0
    @Option(help: "Peak learning rate of the vision-encoder pretraining.")
    var visionLR = PreEvolutionRecipe().vision?.lr ?? VisionPretrainOptions().lr
    @Option(help: "Seed chains of thought to warm up on (default: the suite's 300). More is an upper-bound experiment: the study's recipe may use only the standard seed set.")
    var seedChains: Int?
    @Option(help: "Pretraining examples (captions and text, half each, new every epoch) mixed into each warm-up epoch so that it does not overwrite reading; 0: seed chains only.")
    var warmupReplay = PreEvolutionRecipe().warmupReplay
    @Option(help: "Continue from this checkpoint instead of a fresh model (e.g. with --pretrain-epochs 0 to redo only the warm-up).")
    var from: String?
    @Option(help: "Path of digits.csv.gz.")
    var digits: String?
    @OptionGroup var compute: ComputeOptions

    func run() throws {
        Numerics.warnIfSlow()
        compute.apply()
        var sizes = SplitSizes.standard
        if let captions { sizes.captions = captions }
        if let text { sizes.text = text }
        if let seedChains {
            guard seedChains > 0 else { throw ValidationError("--seed-chains must be at least 1") }
            sizes.seed = seedChains
        }
        let suite = try TaskSuite(seed: seed, sizes: sizes, bank: try DigitBank.load(path: digits))
        let initial = try from.map { try Checkpoint.load(from: URL(fileURLWithPath: $0), vocab: Tokenizer.standard.vocabSize).model }
        var recipe = PreEvolutionRecipe(seed: seed)
        recipe.pretrainEpochs = pretrainEpochs
        recipe.warmupEpochs = warmupEpochs
        recipe.pretrainLR = pretrainLR
        recipe.warmupLR = warmupLR
        recipe.captionAugmentation = augment ? .standard : nil
        recipe.freshEachEpoch = fresh
        recipe.warmupReplay = warmupReplay
        recipe.vision = visionSteps > 0 ? VisionPretrainOptions(steps: visionSteps, lr: visionLR, augmentation: augment ? .standard : nil) : nil
        let printer = ProgressPrinter()
        let (model, state, phases) = try preEvolve(suite: suite, recipe: recipe, from: initial) { printer.report($0, $1) }
        let dir = URL(fileURLWithPath: out)
        try Checkpoint.save(model: model, state: state, to: dir)
        for p in phases {
            print(String(format: "%@: %d examples, %d steps, last loss %.4f, %.1f s", p.phase, p.examples, p.report.steps,
                         p.report.lastLoss, p.report.seconds))
            if let t = p.tokenReading {
                print(String(format: "  validation image tokens: digit named %.1f%% of %d, empty %.1f%% of %d", 100 * t.digitAcc, t.digitTokens,
                             100 * t.emptyAcc, t.emptyTokens))
            }
        }
        print("saved \(out) (\(model.parameterCount) parameters)")
    }
}

/// `mstar eval`: greedy accuracy and Pass@k of a checkpoint on a split.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval", abstract: "Greedy accuracy and Pass@k of a checkpoint on a split, overall and per family.")

    @Option(help: "Checkpoint directory.")
    var checkpoint = "checkpoints/pre-evolved"
    @Option(help: "Split: \(SplitName.allCases.map(\.rawValue).joined(separator: ", ")).")
    var split = "test"
    @Option(help: "Samples per prompt for Pass@k (0: greedy only).")
    var k = 16
    @Option(help: "Sampling temperature for the k samples.")
    var temperature: Float = 1
    @Option(help: "Seed of the task suite.")
    var seed: UInt64 = 0
    @Option(help: "Seed of the samples.")
    var sampleSeed: UInt64 = 0
    @Option(help: "Evaluate only the first N prompts.")
    var limit: Int?
    @Option(help: "Path of digits.csv.gz.")
    var digits: String?
    @Flag(help: "Print one JSON object.")
    var json = false
    @Option(help: "Also print the greedy responses to the first N prompts.")
    var show = 0
    @Flag(help: "Measure reading instead: greedy caption (\"what is in the image ?\") of each scene, scored digit by digit against the scene.")
    var reading = false
    @Flag(help: "Where the greedy chains go wrong instead: each response's category by the oracle verifier (right, right answer with wrong steps, or its first wrong step: misread, wrong arithmetic, inconsistent, malformed, incomplete), per family.")
    var errors = false
    @OptionGroup var compute: ComputeOptions

    /// One JSON object on one line, keys sorted.
    func printJSON<T: Encodable>(_ value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    func validate() throws {
        if reading && errors { throw ValidationError("--reading and --errors are two different measurements: give one") }
    }

    func run() throws {
        Numerics.warnIfSlow()
        compute.apply()
        let splitName = try SplitName(name: split)
        let loaded = try Checkpoint.load(from: URL(fileURLWithPath: checkpoint), vocab: Tokenizer.standard.vocabSize)
        let suite = try TaskSuite(seed: seed, bank: try DigitBank.load(path: digits))
        var examples = suite.examples(splitName)
        if let limit { examples = Array(examples.prefix(limit)) }
        if reading {
            let r = try evaluateReading(loaded.model, examples: examples, split: split)
            if json {
                try printJSON(r)
            } else {
                func line(_ name: String, _ s: ReadingResult.Summary) -> String {
                    String(format: "  %-11@ %4d scenes  digits %5.1f%% of %d  heights %5.1f%% of %d  scenes read right %5.1f%%", name, s.scenes,
                           100 * s.digitAcc, s.digits, 100 * s.heightAcc, s.heights, 100 * s.sceneAcc)
                }
                print(String(format: "%@ reading: %.1f s", split, r.seconds))
                print(line("all", r.overall))
                for (family, f) in r.families.sorted(by: { $0.key < $1.key }) { print(line(family, f)) }
            }
            return
        }
        if errors {
            let r = try analyzeErrors(loaded.model, examples: examples, split: split)
            if json {
                try printJSON(r)
            } else {
                r.lines.forEach { print($0) }
            }
            return
        }
        if show > 0 {
            let tokenizer = Tokenizer.standard
            let shown = Array(examples.prefix(show))
            let prompts = try shown.enumerated().map { i, e in
                try SamplePrompt(e, stream: UInt64(i), tokenizer: tokenizer)
            }
            let greedy = try Sampler(model: loaded.model).generate(prompts, k: 1, options: .greedy(maxTokens: 64), seed: sampleSeed)
            for (e, g) in zip(shown, greedy) {
                print("\(e.id) [\(e.family.rawValue) \(e.level)] \(e.question)")
                print("  gold:  \(e.chain)")
                print("  model: \(tokenizer.responseText(g[0].tokens))")
            }
        }
        let r = try evaluate(loaded.model, examples: examples, split: split, k: k, temperature: temperature, seed: sampleSeed)
        if json {
            try printJSON(r)
        } else {
            print(String(format: "%@: %d prompts  greedy %.1f%%  pass@%d %.1f%% (T=%.2f)  %.1f s", split, r.prompts,
                         100 * r.greedyAcc, k, 100 * r.passAtK, temperature, r.seconds))
            for (family, f) in r.families.sorted(by: { $0.key < $1.key }) {
                print(String(format: "  %-11@ %4d  greedy %5.1f%%  pass@%d %5.1f%%", family, f.prompts, 100 * f.greedyAcc, k, 100 * f.passAtK))
            }
        }
    }
}
