import Foundation
import MSTaRModel
import MSTaRTasks
import MSTaRTensor

/// A real dataset's items measured on a served model: what `eval --dataset` reports. The metrics
/// mean what the dynamics' do on digit tasks, with free-text answers matched against the gold
/// answer (`ReasoningItem.isCorrect`) and votes counted over answer keys (`answerKey`). The oracle
/// verifier's metrics (steps verified) have no counterpart on these items.
public struct ItemMetrics: Sendable, Equatable {
    /// Items measured.
    public var prompts: Int
    /// Samples per item: the K of Pass@K and majority@K.
    public var k: Int
    /// Sampling temperature of the K samples.
    public var temperature: Float
    /// Share of items whose greedy response is right (nil when not measured).
    public var greedyAcc: Double?
    /// Unbiased Pass@K over the K samples.
    public var passAtK: Double
    /// The most common answer of the K samples is right.
    public var majorityAtK: Double
    /// Either of the two responses ranked highest is right: by the served PRM's aggregated step
    /// scores when there is one (`ranker` "prm"), else by how many other samples agree (`vote`).
    public var rewardPassAt2: Double
    /// What ranked the responses for Reward-Pass@2: "prm" or "vote".
    public var ranker: String = "vote"
    /// The response the PRM scores highest is right (nil without a PRM).
    public var prmBestOfK: Double?
    /// Share of samples that state an answer at all.
    public var answered: Double
    /// Mean response length (tokens when the server gives log-probs, else words).
    public var meanLength: Double
    /// Greedy accuracy and Pass@K per answer type.
    public var byType: [String: AccuracySummary]
    /// Mean surprisal (−log π) of the sampled tokens, which estimates the entropy at temperature 1;
    /// nil when the server returned no log-probs.
    public var surprisal: Double?
}

extension ItemMetrics {
    /// The same metrics as the dynamics record them: the vote ranks responses, the answer types
    /// stand where the digit tasks' families do, the steps verified are absent (no oracle), and
    /// the entropy is the mean surprisal of the sampled tokens where the server sent log-probs.
    var dynamics: DynamicsMetrics {
        DynamicsMetrics(prompts: prompts, k: k, temperature: temperature, greedyAcc: greedyAcc, passAtK: passAtK,
                        passGap: greedyAcc.map { passAtK - $0 }, rewardPassAt2: rewardPassAt2, majorityAtK: majorityAtK, prmBestOfK: prmBestOfK,
                        entropy: surprisal, meanLen: meanLength, stepsCorrectShare: nil, ranker: ranker, families: byType)
    }
}

/// One item's responses as measured: the greedy one, the K samples, their answer keys and verdicts.
public struct ItemSamples: Sendable {
    public var item: ReasoningItem
    public var greedy: TextRollout?
    public var samples: [TextRollout]
    /// Each sample's `answerKey` (nil: no answer found).
    public var keys: [String?]
    /// Whether each sample states the gold answer.
    public var correct: [Bool]
    /// Each sample's PRM score (its step scores aggregated), when a PRM ranked this item's samples:
    /// only items with right and wrong samples are scored, since elsewhere no ranking changes
    /// Reward-Pass@2 or best-of-K.
    public var prmScores: [Float]? = nil
}

/// Reads items' images and asks a text generator about them.
public enum ItemEvaluation {
    /// The prompt of an item: its image file, read without following links and bounded, and its text.
    public static func prompt(_ item: ReasoningItem, stream: UInt64) throws -> TextPrompt {
        var image: ImageFile?
        if let info = item.image {
            let data = try InputFile.read(info.resolved, limit: DatasetImage.maxBytes, followLinks: false)
            image = ImageFile(data: data, mediaType: info.format == .png ? "image/png" : "image/jpeg")
        }
        return TextPrompt(image: image, text: item.promptText, stream: stream)
    }

    /// Greedy (when `greedy`) and `k` sampled responses to each item, and the metrics over them;
    /// with a `scorer`, the samples are ranked by its step scores aggregated by `aggregation`.
    /// Item i's samples are seeded by (`seed`, i), so a replay asks the same requests.
    public static func measure(_ items: [ReasoningItem], generator: any TextGenerator, scorer: (any TextStepScorer)? = nil,
                               aggregation: Aggregation = .min, k: Int, temperature: Float, greedy: Bool = true,
                               seed: UInt64, maxTokens: Int, shouldStop: (() -> Bool)? = nil) throws -> (ItemMetrics, [ItemSamples]) {
        let prompts = try items.enumerated().map { try prompt($0.element, stream: UInt64($0.offset)) }
        let greedyDrawn = greedy ? try generator.generateText(prompts, k: 1, options: .greedy(maxTokens: maxTokens), seed: seed, shouldStop: shouldStop) : nil
        if let g = greedyDrawn, g.count < items.count { throw EvolutionInterrupted() }
        var drawn: [[TextRollout]] = []
        if k > 0 {
            drawn = try generator.generateText(prompts, k: k, options: SamplingOptions(temperature: temperature, maxTokens: maxTokens),
                                               seed: seed, shouldStop: shouldStop)
            if drawn.count < items.count { throw EvolutionInterrupted() }
        } else {
            drawn = items.map { _ in [] }
        }
        var out: [ItemSamples] = []
        for (i, item) in items.enumerated() {
            let keys = drawn[i].map { item.answerKey($0.text) }
            out.append(ItemSamples(item: item, greedy: greedyDrawn?[i].first, samples: drawn[i], keys: keys,
                                   correct: keys.map { $0 == ReasoningItem.goldKey }))
        }
        if let scorer {
            let mixed = out.indices.filter { i in out[i].correct.contains(true) && out[i].correct.contains(false) }
            let scores = try score(mixed.flatMap { i in out[i].samples.map { (prompts[i], $0.text) } }, scorer: scorer,
                                   aggregation: aggregation, shouldStop: shouldStop)
            var next = 0
            for i in mixed {
                out[i].prmScores = Array(scores[next..<(next + out[i].samples.count)])
                next += out[i].samples.count
            }
        }
        return (metrics(out, k: k, temperature: temperature, greedy: greedy, ranker: scorer == nil ? "vote" : "prm"), out)
    }

    /// The aggregated PRM score of each (prompt, response); an interrupt throws `EvolutionInterrupted`.
    public static func score(_ items: [(prompt: TextPrompt, response: String)], scorer: any TextStepScorer, aggregation: Aggregation,
                             shouldStop: (() -> Bool)?) throws -> [Float] {
        guard !items.isEmpty else { return [] }
        let steps = try scorer.stepScores(items, shouldStop: shouldStop)
        guard steps.count == items.count else { throw EvolutionInterrupted() }
        return steps.map { aggregation.apply($0) }
    }

    /// The metrics of measured items; `ranker` "prm" ranks by their `prmScores` (an item without
    /// them has only right or only wrong samples, which any ranking ranks alike).
    public static func metrics(_ measured: [ItemSamples], k: Int, temperature: Float, greedy: Bool, ranker: String = "vote") -> ItemMetrics {
        var g = 0, pass = 0.0, maj = 0, rp2 = 0, best = 0, answered = 0, samples = 0, length = 0
        var surprisal = 0.0, scored = 0
        var types: [String: (n: Int, g: Int, p: Double)] = [:]
        for m in measured {
            let c = m.correct.filter { $0 }.count
            let p = k > 0 ? MSTaRModel.passAtK(n: m.samples.count, c: c, k: k) : 0
            let right = m.greedy.map { m.item.isCorrect($0.text) } ?? false
            pass += p; g += right ? 1 : 0
            maj += majorityVote(m.keys) == ReasoningItem.goldKey ? 1 : 0
            let ranks = ranker == "prm" ? m.prmScores ?? [Float](repeating: 0, count: m.samples.count) : voteShares(m.keys)
            rp2 += !m.samples.isEmpty && rewardPassAt2(scores: ranks, correct: m.correct) ? 1 : 0
            if let top = topIndices(ranks, 1).first { best += m.correct[top] ? 1 : 0 }
            answered += m.keys.filter { $0 != nil }.count
            samples += m.samples.count
            length += m.samples.reduce(0) { $0 + $1.length }
            for r in m.samples where !r.logProbs.isEmpty {
                surprisal += -Double(r.logProbs.reduce(0, +)) / Double(r.logProbs.count); scored += 1
            }
            var t = types[m.item.answerType.rawValue] ?? (0, 0, 0)
            t.n += 1; t.g += right ? 1 : 0; t.p += p
            types[m.item.answerType.rawValue] = t
        }
        let n = Double(max(measured.count, 1))
        return ItemMetrics(
            prompts: measured.count, k: k, temperature: temperature, greedyAcc: greedy ? Double(g) / n : nil, passAtK: pass / n,
            majorityAtK: Double(maj) / n, rewardPassAt2: Double(rp2) / n, ranker: ranker, prmBestOfK: ranker == "prm" ? Double(best) / n : nil,
            answered: samples > 0 ? Double(answered) / Double(samples) : 0, meanLength: samples > 0 ? Double(length) / Double(samples) : 0,
            byType: types.mapValues { AccuracySummary(prompts: $0.n, greedyAcc: greedy ? Double($0.g) / Double($0.n) : 0, passAtK: $0.p / Double($0.n)) },
            surprisal: scored > 0 ? surprisal / Double(scored) : nil)
    }
}
