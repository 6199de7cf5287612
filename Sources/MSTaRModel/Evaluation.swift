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
    public var prompts: Int
    public var greedyAcc: Double
    public var passAtK: Double
}

/// Greedy accuracy and Pass@k of a policy on a split, overall and per family.
public struct EvaluationResult: Codable, Equatable, Sendable {
    public var split: String
    public var k: Int
    public var temperature: Float
    public var prompts: Int
    public var greedyAcc: Double
    public var passAtK: Double
    public var families: [String: AccuracySummary]
    public var seconds: Double
    /// Correct samples per prompt (not in the JSON): Pass@k for every k <= K comes from these.
    public var correctCounts: [Int] = []

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
                     seed: UInt64 = 0, maxTokens: Int = 64, tokenizer: Tokenizer = .standard) throws -> EvaluationResult {
    let start = Date()
    let sampler = Sampler(model: model, eos: tokenizer.eos)
    let prompts = try examples.enumerated().map { i, e in
        SamplePrompt(image: e.image, prompt: try tokenizer.encodePrompt(question: e.question, hasImage: e.image != nil), stream: UInt64(i))
    }
    let greedy = try sampler.generate(prompts, k: 1, options: .greedy(maxTokens: maxTokens), seed: seed)
    let sampled = k > 0
        ? try sampler.generate(prompts, k: k, options: SamplingOptions(temperature: temperature, maxTokens: maxTokens), seed: seed)
        : []
    var byFamily: [String: (n: Int, greedy: Int, pass: Double)] = [:]
    var greedyTotal = 0, passTotal = 0.0
    var counts: [Int] = []
    for (i, e) in examples.enumerated() {
        guard let gold = e.answer else { continue }
        let g = AnswerExtractor.extract(ids: greedy[i][0].tokens, tokenizer: tokenizer) == gold ? 1 : 0
        let c = k > 0 ? sampled[i].filter { AnswerExtractor.extract(ids: $0.tokens, tokenizer: tokenizer) == gold }.count : 0
        let p = k > 0 ? passAtK(n: k, c: c, k: k) : 0
        greedyTotal += g; passTotal += p
        counts.append(c)
        var f = byFamily[e.family.rawValue] ?? (0, 0, 0)
        f.n += 1; f.greedy += g; f.pass += p
        byFamily[e.family.rawValue] = f
    }
    let n = byFamily.values.reduce(0) { $0 + $1.n }
    return EvaluationResult(
        split: split, k: k, temperature: temperature, prompts: n,
        greedyAcc: n > 0 ? Double(greedyTotal) / Double(n) : 0, passAtK: n > 0 ? passTotal / Double(n) : 0,
        families: byFamily.mapValues { AccuracySummary(prompts: $0.n, greedyAcc: Double($0.greedy) / Double($0.n), passAtK: $0.pass / Double($0.n)) },
        seconds: Date().timeIntervalSince(start), correctCounts: counts)
}
