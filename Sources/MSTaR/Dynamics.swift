import Foundation
import MSTaRModel
import MSTaRTasks
import MSTaRTensor

/// Accuracy of one task family in the dynamics: the same record `eval` reports per family.
public typealias FamilyDynamics = AccuracySummary

/// Exploration and exploitation on held-out prompts, at one temperature.
public struct DynamicsMetrics: Codable, Equatable, Sendable {
    /// Validation prompts measured.
    public var prompts: Int
    /// Samples per prompt: the K of Pass@K and majority@K.
    public var k: Int
    /// Sampling temperature of the K samples.
    public var temperature: Float
    /// Accuracy at T = 0 (nil when not measured, as in temperature search).
    public var greedyAcc: Double?
    /// Unbiased Pass@K over the K samples.
    public var passAtK: Double
    /// Pass@K - greedy: the room left for self-evolution.
    public var passGap: Double?
    /// Either of the two responses the reward ranks highest is correct.
    public var rewardPassAt2: Double
    /// The majority answer of the K samples is correct.
    public var majorityAtK: Double
    /// The response with the highest PRM score is correct (nil without a PRM).
    public var prmBestOfK: Double?
    /// Mean of the samples' mean token entropy (nats); nil where the server gives no log-probs.
    public var entropy: Double?
    /// Mean response length in tokens (samples).
    public var meanLen: Double
    /// Among samples with the right answer, the share whose every step the oracle judges correct
    /// (nil on a real dataset's items, which have no oracle).
    public var stepsCorrectShare: Double?
    /// What ranked responses for Reward-Pass@2: "prm", or "vote" (answer agreement) without a PRM.
    public var ranker: String
    /// Greedy accuracy and Pass@K per task family, by family name (greedy 0 when not measured).
    public var families: [String: FamilyDynamics]

    enum CodingKeys: String, CodingKey {
        case prompts, k, temperature, entropy, ranker, families
        case greedyAcc = "greedy_acc", passAtK = "pass_at_k", passGap = "pass_gap", rewardPassAt2 = "reward_pass_at_2"
        case majorityAtK = "majority_at_k", prmBestOfK = "prm_best_of_k", meanLen = "mean_len"
        case stepsCorrectShare = "steps_correct_share"
    }

    /// Every metric that can be plotted against iteration, with its JSON name.
    public static let metricNames = [
        "greedy_acc", "pass_at_k", "pass_gap", "reward_pass_at_2", "majority_at_k", "prm_best_of_k",
        "entropy", "mean_len", "steps_correct_share",
    ]

    /// Metrics from per-prompt results: `answers[i]` are the K sampled answers of example i,
    /// `rankScores[i]` the reward model's scores of them, `prmScores` the PRM's (if any).
    public static func compute(
        examples: [Example], greedyAnswers: [Int?]?, answers: [[Int?]], rankScores: [[Float]], ranker: String,
        prmScores: [[Float]]?, entropies: [[Float]], lengths: [[Int]], stepsCorrect: [[Bool]], k: Int, temperature: Float
    ) -> DynamicsMetrics {
        var greedy = 0, pass = 0.0, rp2 = 0, maj = 0, best = 0, ent = 0.0, len = 0.0, samples = 0
        var rightAnswers = 0, rightSteps = 0
        var fam: [String: (n: Int, g: Int, p: Double)] = [:]
        for (i, e) in examples.enumerated() {
            let gold = e.answer
            let correct = answers[i].map { $0 != nil && $0 == gold }
            let c = correct.filter { $0 }.count
            let p = MSTaRModel.passAtK(n: answers[i].count, c: c, k: Swift.min(k, answers[i].count))
            let g = greedyAnswers.map { $0[i] != nil && $0[i] == gold } ?? false
            pass += p; greedy += g ? 1 : 0
            rp2 += MSTaR.rewardPassAt2(scores: rankScores[i], correct: correct) ? 1 : 0
            maj += gold != nil && majorityVote(answers[i]) == gold ? 1 : 0
            if let s = prmScores?[i], let top = topIndices(s, 1).first { best += correct[top] ? 1 : 0 }
            for j in answers[i].indices {
                ent += Double(entropies[i][j]); len += Double(lengths[i][j]); samples += 1
                if correct[j] { rightAnswers += 1; rightSteps += stepsCorrect[i][j] ? 1 : 0 }
            }
            var f = fam[e.family.rawValue] ?? (0, 0, 0)
            f.n += 1; f.g += g ? 1 : 0; f.p += p
            fam[e.family.rawValue] = f
        }
        let n = Double(Swift.max(examples.count, 1))
        let greedyAcc = greedyAnswers == nil ? nil : Double(greedy) / n
        return DynamicsMetrics(
            prompts: examples.count, k: k, temperature: temperature, greedyAcc: greedyAcc, passAtK: pass / n,
            passGap: greedyAcc.map { pass / n - $0 }, rewardPassAt2: Double(rp2) / n, majorityAtK: Double(maj) / n,
            prmBestOfK: prmScores == nil ? nil : Double(best) / n,
            entropy: samples > 0 ? ent / Double(samples) : 0, meanLen: samples > 0 ? len / Double(samples) : 0,
            stepsCorrectShare: rightAnswers > 0 ? Double(rightSteps) / Double(rightAnswers) : 0, ranker: ranker,
            families: fam.mapValues { FamilyDynamics(prompts: $0.n, greedyAcc: greedyAnswers == nil ? 0 : Double($0.g) / Double($0.n),
                                                     passAtK: $0.p / Double($0.n)) })
    }

    /// The value of a metric by its JSON name (nil when not measured).
    public func value(_ name: String) -> Double? {
        switch name {
        case "greedy_acc": return greedyAcc
        case "pass_at_k": return passAtK
        case "pass_gap": return passGap
        case "reward_pass_at_2": return rewardPassAt2
        case "majority_at_k": return majorityAtK
        case "prm_best_of_k": return prmBestOfK
        case "entropy": return entropy
        case "mean_len": return meanLen
        case "steps_correct_share": return stepsCorrectShare
        default: return nil
        }
    }
}

/// Samples `k` responses per example at `temperature` (and greedy ones when `greedy`) from any
/// generator (the seam a served model plugs into), ranks them by the scorer's steps aggregated by
/// `aggregation` when there is a scorer, else by answer votes.
public func measureDynamics(
    generator sampler: any ResponseGenerator, scorer prm: (any StepScorer)?, aggregation: Aggregation, examples: [Example],
    k: Int, temperature: Float, greedy: Bool = true, seed: UInt64, maxTokens: Int = 48, tokenizer: Tokenizer = .standard,
    shouldStop: (() -> Bool)? = nil
) throws -> DynamicsMetrics {
    try measureDynamics(generator: sampler, scorer: prm, aggregation: aggregation, examples: examples, k: k,
                        temperatures: [temperature], greedy: greedy, seed: seed, maxTokens: maxTokens, tokenizer: tokenizer,
                        shouldStop: shouldStop)[0]
}

/// The dynamics at each of `temperatures` (the temperature search's candidates) from one request
/// to the generator, so that it can share each prompt's prefix among them, and one to the scorer,
/// which scores a response drawn at several temperatures once. Each result is the one the
/// single-temperature `measureDynamics` gives.
public func measureDynamics(
    generator sampler: any ResponseGenerator, scorer prm: (any StepScorer)?, aggregation: Aggregation, examples: [Example],
    k: Int, temperatures: [Float], greedy: Bool = true, seed: UInt64, maxTokens: Int = 48, tokenizer: Tokenizer = .standard,
    shouldStop: (() -> Bool)? = nil
) throws -> [DynamicsMetrics] {
    let prompts = try examples.enumerated().map { i, e in
        try SamplePrompt(e, stream: UInt64(i), tokenizer: tokenizer)
    }
    var greedyAnswers: [Int?]?
    if greedy {
        let g = try sampler.generate(prompts, k: 1, options: .greedy(maxTokens: maxTokens), seed: seed, shouldStop: shouldStop)
        guard g.count == prompts.count else { throw EvolutionInterrupted() }
        greedyAnswers = g.map { AnswerExtractor.extract(ids: $0[0].tokens, tokenizer: tokenizer) }
    }
    let drawn = try sampler.generate(prompts, k: k, temperatures: temperatures, options: SamplingOptions(maxTokens: maxTokens),
                                     seed: seed, shouldStop: shouldStop)
    guard drawn.count == temperatures.count, drawn.allSatisfy({ $0.count == prompts.count }) else { throw EvolutionInterrupted() }
    let answers = drawn.map { $0.map { $0.map { AnswerExtractor.extract(ids: $0.tokens, tokenizer: tokenizer) } } }
    var prmScores: [[[Float]]]?
    if let prm {
        // The PRM's scores are read only to rank a prompt's responses (Reward-Pass@2, best-of-K),
        // and where all K are right or all wrong any ranking gives the same answer: only prompts
        // with both are scored; the others' scores stay 0.
        let mixed = temperatures.indices.flatMap { t in
            examples.indices.compactMap { i -> (Int, Int)? in
                let right = answers[t][i].filter { $0 != nil && $0 == examples[i].answer }.count
                return right > 0 && right < answers[t][i].count ? (t, i) : nil
            }
        }
        let flat = try prm.stepScores(mixed.flatMap { t, i in drawn[t][i].map { (examples[i], $0.tokens) } }).map { aggregation.apply($0) }
        var scores = drawn.map { $0.map { [Float](repeating: 0, count: $0.count) } }
        var next = 0
        for (t, i) in mixed {
            scores[t][i] = Array(flat[next..<(next + drawn[t][i].count)])
            next += drawn[t][i].count
        }
        prmScores = scores
    }
    return temperatures.indices.map { t in
        let stepsCorrect = zip(examples, drawn[t]).map { e, rs in
            rs.map { StepVerifier.verify(ids: $0.tokens, for: e, tokenizer: tokenizer).stepsCorrect }
        }
        return DynamicsMetrics.compute(
            examples: examples, greedyAnswers: greedyAnswers, answers: answers[t],
            rankScores: prmScores?[t] ?? answers[t].map { voteShares($0) }, ranker: prm == nil ? "vote" : "prm",
            prmScores: prmScores?[t], entropies: drawn[t].map { $0.map(\.meanEntropy) },
            lengths: drawn[t].map { $0.map { r in r.tokens.count } }, stepsCorrect: stepsCorrect, k: k, temperature: temperatures[t])
    }
}

/// One dynamic-temperature decision: every candidate's metrics and the winner.
public struct TemperatureSearch: Codable, Equatable, Sendable {
    /// One candidate temperature and what it scored on the temperature prompts.
    public struct Candidate: Codable, Equatable, Sendable {
        /// The candidate sampling temperature.
        public var temperature: Float
        /// Share of prompts, 0…1, where either of the two responses the reward ranks highest is correct.
        public var rewardPassAt2: Double
        /// Unbiased Pass@K at this temperature, mean over the prompts, 0…1.
        public var passAtK: Double
        /// Creates a candidate from its fields.
        public init(temperature: Float, rewardPassAt2: Double, passAtK: Double) {
            self.temperature = temperature; self.rewardPassAt2 = rewardPassAt2; self.passAtK = passAtK
        }
        enum CodingKeys: String, CodingKey {
            case temperature
            case rewardPassAt2 = "reward_pass_at_2", passAtK = "pass_at_k"
        }
    }
    /// The step (from 1) that searched and samples at the chosen temperature.
    public var iteration: Int
    /// The metric the choice maximised.
    public var criterion: TemperatureCriterion
    /// Every candidate measured, from temperature_min to temperature_max in steps of temperature_step.
    public var candidates: [Candidate]
    /// The winning temperature: the step samples at it and the run keeps it.
    public var chosen: Float

    /// The candidate with the highest criterion value. Among tied candidates the one closest to
    /// the `current` temperature wins (then the lower): Reward-Pass@2 saturates early, and a tie is
    /// no evidence for moving.
    public static func choose(_ candidates: [Candidate], by criterion: TemperatureCriterion, current: Float) -> Float {
        let values = candidates.map { criterion == .rewardPassAt2 ? $0.rewardPassAt2 : $0.passAtK }
        let best = values.max()!
        let tied = candidates.indices.filter { values[$0] == best }
        let pick = tied.min { (abs(candidates[$0].temperature - current), candidates[$0].temperature)
            < (abs(candidates[$1].temperature - current), candidates[$1].temperature) }!
        return candidates[pick].temperature
    }
}
