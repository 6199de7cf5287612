import Foundation
import MSTaRTasks
import MSTaRTensor

/// Unbiased Pass@k (Chen et al. 2021): the chance that at least one of k samples drawn without
/// replacement from n samples, c of them correct, is correct: 1 − C(n−c, k) / C(n, k).
public func passAtK(n: Int, c: Int, k: Int) -> Double {
    precondition(n >= 0 && c >= 0 && c <= n && k >= 1, "passAtK needs 0 <= c <= n and k >= 1")
    if c == 0 { return 0 }
    if k > n || n - c < k { return 1 }  // every draw of k must include a correct sample
    // C(n-c, k) / C(n, k) = prod_{i=n-c+1}^{n} (1 - k / i), computed stably as a product.
    var ratio = 1.0
    for i in (n - c + 1)...n { ratio *= 1 - Double(k) / Double(i) }
    return 1 - ratio
}

/// Accuracy of one group of prompts.
public struct AccuracySummary: Codable, Equatable, Sendable {
    /// Prompts the group's accuracies average over.
    public var prompts: Int
    /// Share of the prompts whose greedy answer is right, 0…1.
    public var greedyAcc: Double
    /// Unbiased Pass@K, mean over the prompts, 0…1.
    public var passAtK: Double

    /// Creates a summary from its fields.
    public init(prompts: Int, greedyAcc: Double, passAtK: Double) {
        self.prompts = prompts; self.greedyAcc = greedyAcc; self.passAtK = passAtK
    }

    enum CodingKeys: String, CodingKey {
        case prompts
        case greedyAcc = "greedy_acc", passAtK = "pass_at_k"
    }
}

/// Greedy accuracy and Pass@k of a policy on a split, overall and per family.
public struct EvaluationResult: Codable, Equatable, Sendable {
    /// Name of the split evaluated.
    public var split: String
    /// Samples per prompt: the K of Pass@K (0: greedy only).
    public var k: Int
    /// Sampling temperature of the K samples.
    public var temperature: Float
    /// Prompts scored (those with a gold answer).
    public var prompts: Int
    /// Share of the prompts whose greedy answer is right, 0…1.
    public var greedyAcc: Double
    /// Unbiased Pass@K, mean over the prompts, 0…1 (0 when K is 0).
    public var passAtK: Double
    /// Greedy accuracy and Pass@K per task family, by family name.
    public var families: [String: AccuracySummary]
    /// Wall-clock seconds of the evaluation.
    public var seconds: Double
    /// Correct samples per prompt (not in the JSON): Pass@k for every k <= K comes from these.
    public var correctCounts: [Int] = []
    /// Whether each prompt's greedy answer is right (not in the JSON): paired tests between
    /// variants compare these prompt by prompt.
    public var greedyCorrect: [Bool] = []

    /// Pass@k for k = 1...K, from `correctCounts`.
    public var passAtKCurve: [Double] {
        guard k > 0, !correctCounts.isEmpty else { return [] }
        return (1...k).map { j in correctCounts.reduce(0) { $0 + MSTaRModel.passAtK(n: k, c: $1, k: j) } / Double(correctCounts.count) }
    }

    enum CodingKeys: String, CodingKey {
        case split, k, temperature, prompts, seconds, families
        case greedyAcc = "greedy_acc", passAtK = "pass_at_k"
    }
}

/// Greedy-decodes every example once and samples `k` responses at `temperature`, scoring answers
/// with the task suite's extractor against the gold answers.
public func evaluate(_ model: VisionLanguageModel, examples: [Example], split: String, k: Int = 16, temperature: Float = 1,
                     seed: UInt64 = 0, maxTokens: Int = 64, tokenizer: Tokenizer = .standard,
                     generator: (any ResponseGenerator)? = nil) throws -> EvaluationResult {
    let start = Date()
    let sampler = generator ?? Sampler(model: model, eos: tokenizer.eos)
    let prompts = try examples.enumerated().map { i, e in
        try SamplePrompt(e, stream: UInt64(i), tokenizer: tokenizer)
    }
    let greedy = try sampler.generate(prompts, k: 1, options: .greedy(maxTokens: maxTokens), seed: seed)
    let sampled = k > 0
        ? try sampler.generate(prompts, k: k, options: SamplingOptions(temperature: temperature, maxTokens: maxTokens), seed: seed)
        : []
    var byFamily: [String: (n: Int, greedy: Int, pass: Double)] = [:]
    var greedyTotal = 0, passTotal = 0.0
    var counts: [Int] = [], greedyCorrect: [Bool] = []
    for (i, e) in examples.enumerated() {
        guard let gold = e.answer else { continue }
        let g = AnswerExtractor.extract(ids: greedy[i][0].tokens, tokenizer: tokenizer) == gold ? 1 : 0
        let c = k > 0 ? sampled[i].filter { AnswerExtractor.extract(ids: $0.tokens, tokenizer: tokenizer) == gold }.count : 0
        let p = k > 0 ? passAtK(n: k, c: c, k: k) : 0
        greedyTotal += g; passTotal += p
        counts.append(c); greedyCorrect.append(g == 1)
        var f = byFamily[e.family.rawValue] ?? (0, 0, 0)
        f.n += 1; f.greedy += g; f.pass += p
        byFamily[e.family.rawValue] = f
    }
    let n = byFamily.values.reduce(0) { $0 + $1.n }
    return EvaluationResult(
        split: split, k: k, temperature: temperature, prompts: n,
        greedyAcc: n > 0 ? Double(greedyTotal) / Double(n) : 0, passAtK: n > 0 ? passTotal / Double(n) : 0,
        families: byFamily.mapValues { AccuracySummary(prompts: $0.n, greedyAcc: Double($0.greedy) / Double($0.n), passAtK: $0.pass / Double($0.n)) },
        seconds: Date().timeIntervalSince(start), correctCounts: counts, greedyCorrect: greedyCorrect)
}

/// How well a policy reads scenes, from its greedy answer to the caption question
/// ("what is in the image ?" → `read ... ; height ...`) on each example's scene.
public struct ReadingResult: Codable, Equatable, Sendable {
    /// Per group of scenes (overall or one family): digits and bar heights in the scenes, the
    /// fraction read right at their place, and the fraction of scenes read entirely right.
    public struct Summary: Codable, Equatable, Sendable {
        /// Scenes in the group, each read once by greedy decoding.
        public var scenes: Int
        /// Digits in those scenes' facts.
        public var digits: Int
        /// Share of those digits read right at their place, 0…1.
        public var digitAcc: Double
        /// Bar heights in those scenes' facts.
        public var heights: Int
        /// Share of those bar heights read right at their place, 0…1.
        public var heightAcc: Double
        /// Share of scenes whose whole reading is exactly right, 0…1.
        public var sceneAcc: Double

        enum CodingKeys: String, CodingKey {
            case scenes, digits, heights
            case digitAcc = "digit_acc", heightAcc = "height_acc", sceneAcc = "scene_acc"
        }
    }

    /// Name of the split read.
    public var split: String
    /// Reading accuracy over every scene.
    public var overall: Summary
    /// Reading accuracy per task family, by family name.
    public var families: [String: Summary]
    /// Wall-clock seconds of the evaluation.
    public var seconds: Double
}

/// Scores one caption response against the scene's facts: digits and heights right at their place
/// (a missing or extra group or value counts against), and whether the whole reading is right.
public func scoreReading(_ text: String, facts: SceneFacts) -> (digits: Int, digitsRight: Int, heights: Int, heightsRight: Int, exact: Bool) {
    var reads: [[Int]] = [], heights: [Int] = []
    for step in Chain.parse(text) {
        switch step {
        case .read(let d): reads.append(d)
        case .height(let h): heights = h
        default: break
        }
    }
    var digits = 0, digitsRight = 0
    for (i, gold) in facts.reads.enumerated() {
        let got = i < reads.count ? reads[i] : []
        digits += gold.count
        digitsRight += zip(gold, got).filter { $0 == $1 }.count
    }
    let heightsRight = zip(facts.heights, heights).filter { $0 == $1 }.count
    return (digits, digitsRight, facts.heights.count, heightsRight, reads == facts.reads && heights == facts.heights)
}

/// Greedy-decodes the caption question on every example's scene and scores the reading against
/// the scene's facts, overall and per family. Examples without a scene are skipped.
public func evaluateReading(_ model: VisionLanguageModel, examples: [Example], split: String, maxTokens: Int = 64,
                            tokenizer: Tokenizer = .standard) throws -> ReadingResult {
    let start = Date()
    let scenes = examples.filter { $0.image != nil }
    let prompt = try tokenizer.encodePrompt(question: QuestionKind.caption.text, hasImage: true)
    let prompts = scenes.enumerated().map { i, e in SamplePrompt(image: e.image, prompt: prompt, stream: UInt64(i)) }
    let greedy = try Sampler(model: model, eos: tokenizer.eos).generate(prompts, k: 1, options: .greedy(maxTokens: maxTokens), seed: 0)
    typealias Tally = (scenes: Int, digits: Int, digitsRight: Int, heights: Int, heightsRight: Int, exact: Int)
    func add(_ t: Tally?, _ s: (digits: Int, digitsRight: Int, heights: Int, heightsRight: Int, exact: Bool)) -> Tally {
        let t = t ?? (0, 0, 0, 0, 0, 0)
        return (t.scenes + 1, t.digits + s.digits, t.digitsRight + s.digitsRight, t.heights + s.heights,
                t.heightsRight + s.heightsRight, t.exact + (s.exact ? 1 : 0))
    }
    var total: Tally?
    var byFamily: [String: Tally] = [:]
    for (e, g) in zip(scenes, greedy) {
        let s = scoreReading(tokenizer.responseText(g[0].tokens), facts: e.facts)
        total = add(total, s)
        byFamily[e.family.rawValue] = add(byFamily[e.family.rawValue], s)
    }
    func summary(_ t: Tally?) -> ReadingResult.Summary {
        let t = t ?? (0, 0, 0, 0, 0, 0)
        func ratio(_ a: Int, _ b: Int) -> Double { b > 0 ? Double(a) / Double(b) : 0 }
        return .init(scenes: t.scenes, digits: t.digits, digitAcc: ratio(t.digitsRight, t.digits), heights: t.heights,
                     heightAcc: ratio(t.heightsRight, t.heights), sceneAcc: ratio(t.exact, t.scenes))
    }
    return ReadingResult(split: split, overall: summary(total), families: byFamily.mapValues(summary),
                         seconds: Date().timeIntervalSince(start))
}

/// Where a policy's greedy chains go wrong, by the oracle verifier: each response falls in one
/// category, by its answer and its first step the verifier rejects.
public struct ErrorAnalysis: Codable, Equatable, Sendable {
    /// The categories, in the order reports list them.
    public static let categories = [
        "right",                    // right answer, every step right
        "right answer, wrong steps", // right answer through a wrong or missing step
        "misread",                  // wrong answer; first wrong step a `read` or `height` of the scene
        "wrong arithmetic",         // wrong answer; first wrong step a false computation
        "inconsistent",             // wrong answer; first wrong step uses numbers not established, or out of order
        "malformed",                // wrong answer; first wrong step fits no step form
        "incomplete",               // wrong answer; every step right but the chain stops short
    ]

    /// Responses per category, per group of prompts.
    public struct Summary: Codable, Equatable, Sendable {
        /// Greedy responses sorted: one per labelled prompt of the group.
        public var prompts: Int
        /// Responses per category name (a category with none may be absent).
        public var counts: [String: Int]

        /// Creates a summary from its fields.
        public init(prompts: Int, counts: [String: Int]) { self.prompts = prompts; self.counts = counts }

        /// The share of this group's responses in `category`.
        public func share(_ category: String) -> Double { prompts > 0 ? Double(counts[category] ?? 0) / Double(prompts) : 0 }
    }

    /// Name of the split analysed.
    public var split: String
    /// Counts over every labelled prompt.
    public var overall: Summary
    /// Counts per task family, by family name.
    public var families: [String: Summary]
    /// Wall-clock seconds of the analysis.
    public var seconds: Double

    /// Creates an analysis from its fields.
    public init(split: String, overall: Summary, families: [String: Summary], seconds: Double) {
        self.split = split; self.overall = overall; self.families = families; self.seconds = seconds
    }

    /// A table: one row per category, shares of the responses overall and per family.
    public var lines: [String] {
        let groups = [("all", overall)] + Family.allCases.compactMap { f in families[f.rawValue].map { (f.rawValue, $0) } }
        func pad(_ s: String, _ w: Int) -> String { s.count >= w ? s + " " : s + String(repeating: " ", count: w - s.count) }
        var out = ["\(split): where \(overall.prompts) greedy chains go wrong, by the oracle verifier (share of responses)"]
        out.append("  " + pad("", 27) + groups.map { pad($0.0 + " (\($0.1.prompts))", 18) }.joined())
        for c in Self.categories {
            out.append("  " + pad(c, 27) + groups.map { pad(String(format: "%5.1f%%", 100 * $0.1.share(c)), 18) }.joined())
        }
        return out.map { $0.replacingOccurrences(of: " +$", with: "", options: .regularExpression) }
    }

    /// The category of one verified response.
    public static func category(_ v: Verification) -> String {
        if v.answerCorrect { return v.stepsCorrect ? "right" : "right answer, wrong steps" }
        guard let first = v.firstWrongStep, first < v.verdicts.count else { return "incomplete" }
        switch v.verdicts[first] {
        case .wrongReading: return "misread"
        case .wrongArithmetic: return "wrong arithmetic"
        case .inconsistent: return "inconsistent"
        case .malformed: return "malformed"
        case .correct: return "incomplete"  // not reached: the first wrong step is not correct
        }
    }
}

/// Greedy-decodes every labelled example and sorts the responses by `ErrorAnalysis.category`,
/// overall and per family: which part of the chain (reading the scene, the arithmetic, the form)
/// self-training would have to fix.
public func analyzeErrors(_ model: VisionLanguageModel, examples: [Example], split: String, maxTokens: Int = 64,
                          tokenizer: Tokenizer = .standard) throws -> ErrorAnalysis {
    let start = Date()
    let labelled = examples.filter { $0.answer != nil }
    let prompts = try labelled.enumerated().map { i, e in try SamplePrompt(e, stream: UInt64(i), tokenizer: tokenizer) }
    let greedy = try Sampler(model: model, eos: tokenizer.eos).generate(prompts, k: 1, options: .greedy(maxTokens: maxTokens), seed: 0)
    var overall = ErrorAnalysis.Summary(prompts: 0, counts: [:])
    var families: [String: ErrorAnalysis.Summary] = [:]
    for (e, g) in zip(labelled, greedy) {
        let c = ErrorAnalysis.category(StepVerifier.verify(ids: g[0].tokens, for: e, tokenizer: tokenizer))
        overall.prompts += 1; overall.counts[c, default: 0] += 1
        families[e.family.rawValue, default: .init(prompts: 0, counts: [:])].prompts += 1
        families[e.family.rawValue]!.counts[c, default: 0] += 1
    }
    return ErrorAnalysis(split: split, overall: overall, families: families, seconds: Date().timeIntervalSince(start))
}
