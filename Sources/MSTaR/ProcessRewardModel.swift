import Foundation
import MSTaRModel
import MSTaRTasks
import MSTaRTensor

/// A response with one label per reasoning step, for training the PRM.
public struct StepLabelledResponse: Sendable, Equatable {
    /// The prompt the response answers, with its gold answer.
    public var example: Example
    /// Response ids (ending with `<eos>` when the response finished).
    public var tokens: [Int]
    /// Monte-Carlo label of each step: the share (soft) or any (hard) of rollouts from the prefix
    /// ending at that step that reach the gold answer; the last step's label is the response's own
    /// correctness.
    public var labels: [Float]
}

/// What PRM training did.
public struct PRMTrainReport: Codable, Equatable, Sendable {
    /// Step-labelled responses trained on (distinct per prompt).
    public var responses: Int
    /// Step labels over all those responses.
    public var steps: Int
    /// Share of Monte-Carlo step labels that agree with the oracle verifier (label >= 0.5 versus
    /// "every step up to here is correct").
    public var labelAccuracy: Double
    /// Mean binary cross-entropy per update over the training.
    public var meanLoss: Float
    /// Binary cross-entropy of the last update's batch.
    public var lastLoss: Float
    /// Optimizer updates taken.
    public var updates: Int
    /// Sequences sampled for the Monte-Carlo labels: the responses plus every step prefix's completions.
    public var rollouts: Int
    /// Wall-clock seconds of the training (labelling included when a run trained the PRM).
    public var seconds: Double

    enum CodingKeys: String, CodingKey {
        case responses, steps, updates, rollouts, seconds
        case labelAccuracy = "label_accuracy", meanLoss = "mean_loss", lastLoss = "last_loss"
    }
}

/// PRM step scores against the oracle verifier.
public struct PRMCalibration: Codable, Equatable, Sendable {
    /// One row of the reliability table: the steps whose PRM score falls in [lower, upper).
    public struct Bin: Codable, Equatable, Sendable {
        /// Lowest score of the bin, 0…1.
        public var lower: Float
        /// Score bound above the bin, 0…1 (a score of exactly 1 falls in the last bin).
        public var upper: Float
        /// Steps whose score falls in the bin.
        public var steps: Int
        /// Mean PRM score of those steps, 0…1.
        public var meanScore: Double
        /// Share of the bin's steps whose prefix the oracle judges correct.
        public var oracleGood: Double
        enum CodingKeys: String, CodingKey {
            case lower, upper, steps
            case meanScore = "mean_score", oracleGood = "oracle_good"
        }
    }
    /// Responses scored whose parsed steps line up with their step ends.
    public var responses: Int
    /// Steps of those responses.
    public var steps: Int
    /// Share of steps where "score >= 0.5" agrees with the oracle's "prefix correct".
    public var stepAccuracy: Double
    /// Reliability table: steps grouped by PRM score.
    public var bins: [Bin]
    enum CodingKeys: String, CodingKey {
        case responses, steps, bins
        case stepAccuracy = "step_accuracy"
    }
}

/// The process reward model: a copy of the policy's backbone whose score head reads the hidden state
/// at the end of each step (each ";" and the final token) and says how likely that prefix still leads
/// to the right answer.
public final class ProcessRewardModel {
    /// The backbone and score head that produce the step scores.
    public let model: VisionLanguageModel
    /// How a response's step scores become its one score (`scores`).
    public var aggregation: Aggregation
    /// Finds step ends (separators) and encodes the prompts.
    public let tokenizer: Tokenizer

    /// A PRM reading step scores from `model`'s score head, combined by `aggregation`.
    public init(model: VisionLanguageModel, aggregation: Aggregation = .min, tokenizer: Tokenizer = .standard) {
        self.model = model; self.aggregation = aggregation; self.tokenizer = tokenizer
    }

    /// Positions in `tokens` where steps end: every separator and the final token.
    public static func stepEnds(_ tokens: [Int], tokenizer: Tokenizer = .standard) -> [Int] {
        var ends = tokens.indices.filter { tokens[$0] == tokenizer.separator }
        if let last = tokens.indices.last, ends.last != last { ends.append(last) }
        return ends
    }

    /// The oracle's label of each step of `tokens`: 1 while every step so far is correct.
    public static func oracleStepLabels(_ tokens: [Int], for example: Example, tokenizer: Tokenizer = .standard) -> [Float]? {
        let ends = stepEnds(tokens, tokenizer: tokenizer)
        let v = StepVerifier.verify(ids: tokens, for: example, tokenizer: tokenizer)
        guard v.steps.count == ends.count else { return nil }
        let firstWrong = v.firstWrongStep ?? Int.max
        return ends.indices.map { $0 < firstWrong ? 1 : 0 }
    }

    /// Sigmoid score of every step of every response; `items` are (example, response ids).
    /// Each distinct scene is encoded once, however many responses it has.
    public func stepScores(_ items: [(example: Example, tokens: [Int])], batchSize: Int = 64) throws -> [[Float]] {
        // Identical responses to one prompt are scored once, and similar lengths share a batch
        // (less padding); the scores are the same either way.
        struct Key: Hashable { var id: String; var tokens: [Int] }
        var firstOf: [Key: Int] = [:], unique: [(example: Example, tokens: [Int])] = [], source: [Int] = []
        for item in items {
            let key = Key(id: item.example.id, tokens: item.tokens)
            if let u = firstOf[key] { source.append(u); continue }
            firstOf[key] = unique.count; source.append(unique.count); unique.append(item)
        }
        let order = unique.indices.sorted { (unique[$0].tokens.count, $0) < (unique[$1].tokens.count, $1) }
        let scored = try scoreInOrder(order.map { unique[$0] }, batchSize: batchSize)
        var byUnique = [[Float]](repeating: [], count: unique.count)
        for (i, u) in order.enumerated() { byUnique[u] = scored[i] }
        return source.map { byUnique[$0] }
    }

    /// Scores responses grouped by prompt: each prompt's prefix (image tokens and question) goes
    /// through the model once and its responses continue it (`hidden(continuing:)`), batches of
    /// `batchSize` responses spanning several prompts, so a response costs its own tokens only. The
    /// scores have the bits a forward over each whole sequence (`layout`) gives them.
    func scoreInOrder(_ items: [(example: Example, tokens: [Int])], batchSize: Int) throws -> [[Float]] {
        var out = [[Float]](repeating: [], count: items.count)
        let prefixes = try scenePrefixes(items.map(\.example))
        // Items prompt by prompt (in first-seen order), then in batches.
        var groups: [[Int]] = [], groupOf: [String: Int] = [:]
        for (i, item) in items.enumerated() {
            if let g = groupOf[item.example.id] { groups[g].append(i) } else { groupOf[item.example.id] = groups.count; groups.append([i]) }
        }
        let order = groups.flatMap { $0 }
        // Each batch is a job of its own on one thread (a batch's rows do not depend on the thread).
        try out.withUnsafeMutableBufferPointer { out in
            try parallelJobs((order.count + batchSize - 1) / batchSize) { batch in
                let start = batch * batchSize
                try scoreBatch(Array(order[start..<Swift.min(order.count, start + batchSize)]), items, prefixes, into: out)
            }
        }
        return out
    }

    /// Scores `members` of `items` as one batch: their prompts prefilled once each, their
    /// responses continuing them; writes each member's step scores to `out`.
    private func scoreBatch(_ members: [Int], _ items: [(example: Example, tokens: [Int])], _ prefixes: (tensor: Tensor, row: [Int]),
                            into out: UnsafeMutableBufferPointer<[Float]>) throws {
        try Tensor.withoutGrad {
            let c = model.config
            let rowSize = c.imageTokens * c.dModel
            // The batch's prompts, each prefilled once.
            var rowOf: [String: Int] = [:], firsts: [Int] = []
            let rows = members.map { i -> Int in
                let id = items[i].example.id
                if let r = rowOf[id] { return r }
                rowOf[id] = firsts.count; firsts.append(i)
                return firsts.count - 1
            }
            let images = Tensor(uninitialized: [firsts.count, c.imageTokens, c.dModel])
            withExtendedLifetime(prefixes.tensor) {
                for (g, i) in firsts.enumerated() {
                    (images.ptr + g * rowSize).update(from: prefixes.tensor.ptr + prefixes.row[i] * rowSize, count: rowSize)
                }
            }
            let prompts = try firsts.map { i in
                try tokenizer.encodePrompt(question: items[i].example.question, hasImage: items[i].example.image != nil)
            }
            let (prefix, _) = try model.prefill(images: images, prompts: prompts.map { $0.map(Int32.init) }, pad: Int32(tokenizer.pad))
            // As in `layout`: the inputs stop one short of maxText, and a step end is scored
            // where it is an input.
            let suffixes = zip(members, rows).map { i, r in Array(items[i].tokens.prefix(c.maxText - 1 - prompts[r].count)) }
            let length = Swift.max(1, suffixes.map(\.count).max()!)
            var tokens = [Int32](repeating: Int32(tokenizer.pad), count: members.count * length)
            for (b, suffix) in suffixes.enumerated() {
                for (j, t) in suffix.enumerated() { tokens[b * length + j] = Int32(t) }
            }
            let h = try model.hidden(continuing: prefix, rows: rows, tokens: tokens, batch: members.count, length: length)
            let s = try model.scores(h)
            withExtendedLifetime(s) {
                for (b, i) in members.enumerated() {
                    out[i] = Self.stepEnds(items[i].tokens, tokenizer: tokenizer).filter { $0 < suffixes[b].count }
                        .map { 1 / (1 + Foundation.exp(-s.ptr[b * length + $0])) }
                }
            }
        }
    }

    /// Image tokens of each distinct scene among `examples` ([U, imageTokens, dModel]) and, per
    /// example, its row.
    func scenePrefixes(_ examples: [Example]) throws -> (tensor: Tensor, row: [Int]) {
        var index: [String: Int] = [:], unique: [Example] = [], row: [Int] = []
        for e in examples {
            if let i = index[e.id] { row.append(i); continue }
            index[e.id] = unique.count; row.append(unique.count); unique.append(e)
        }
        let c = model.config, pixels = c.imageHeight * c.imageWidth
        let out = Tensor(uninitialized: [unique.count, c.imageTokens, c.dModel])
        let rowSize = c.imageTokens * c.dModel
        // Batches of 64 scenes, each a job of its own on one thread.
        try parallelJobs((unique.count + 63) / 64) { batch in
            let start = batch * 64, end = Swift.min(unique.count, start + 64)
            let images = Tensor.zeros([end - start, c.imageHeight, c.imageWidth])
            for (i, e) in unique[start..<end].enumerated() {
                guard let image = e.image else { continue }
                guard image.height == c.imageHeight, image.width == c.imageWidth else {
                    throw TensorError.shapeMismatch("scene \(image.height)x\(image.width) does not fit the model's \(c.imageHeight)x\(c.imageWidth) input")
                }
                image.pixels.withUnsafeBufferPointer { (images.ptr + i * pixels).update(from: $0.baseAddress!, count: pixels) }
            }
            let p = try Tensor.withoutGrad { try model.vision(images) }
            withExtendedLifetime(p) { (out.ptr + start * rowSize).update(from: p.ptr, count: (end - start) * rowSize) }
        }
        return (out, row)
    }

    /// One process score per response: the aggregate of its step scores.
    public func scores(_ items: [(example: Example, tokens: [Int])]) throws -> [Float] {
        try stepScores(items).map { aggregation.apply($0) }
    }

    /// Packs responses as `prompt + response + <pad>` (so the final token is an input position) and
    /// returns, per response, the flat [B·T] indices of its step ends.
    func layout(_ items: [(Example, [Int])]) throws -> (SequenceBatch, [[Int]]) {
        let seqs = try items.map { e, t in
            TrainingSequence(image: e.image, prompt: try tokenizer.encodePrompt(question: e.question, hasImage: e.image != nil),
                             response: t + [tokenizer.pad])
        }
        let batch = try SequenceBatch(seqs, config: model.config, pad: tokenizer.pad)
        let positions = zip(seqs, items).enumerated().map { i, pair in
            Self.stepEnds(pair.1.1, tokenizer: tokenizer)
                .map { pair.0.prompt.count + $0 }
                .filter { $0 < batch.length }
                .map { i * batch.length + $0 }
        }
        return (batch, positions)
    }

    // MARK: Monte-Carlo labels

    /// Samples `samples` responses per example from `policy` and labels each step by `rollouts`
    /// completions from the prefix that ends with it.
    public static func monteCarloLabels(
        policy: VisionLanguageModel, examples: [Example], samples: Int, rollouts: Int, kind: StepLabelKind,
        temperature: Float = 1, maxTokens: Int = 48, seed: UInt64, tokenizer: Tokenizer = .standard,
        shouldStop: (() -> Bool)? = nil
    ) throws -> (responses: [StepLabelledResponse], rollouts: Int) {
        try monteCarloLabels(generator: Sampler(model: policy, eos: tokenizer.eos), examples: examples, samples: samples,
                             rollouts: rollouts, kind: kind, temperature: temperature, maxTokens: maxTokens, seed: seed,
                             tokenizer: tokenizer, shouldStop: shouldStop)
    }

    /// Monte-Carlo step labels with responses and rollouts from any generator (the seam a served
    /// model plugs into): `samples` responses per example, each step labelled by `rollouts`
    /// completions from the prefix that ends with it.
    public static func monteCarloLabels(
        generator sampler: any ResponseGenerator, examples: [Example], samples: Int, rollouts: Int, kind: StepLabelKind,
        temperature: Float = 1, maxTokens: Int = 48, seed: UInt64, tokenizer: Tokenizer = .standard,
        shouldStop: (() -> Bool)? = nil
    ) throws -> (responses: [StepLabelledResponse], rollouts: Int) {
        let options = SamplingOptions(temperature: temperature, maxTokens: maxTokens)
        let prompts = try examples.enumerated().map { i, e in
            try SamplePrompt(e, stream: UInt64(i), tokenizer: tokenizer)
        }
        let drawn = try sampler.generate(prompts, k: samples, options: options, seed: seed, shouldStop: shouldStop)
        if drawn.count < prompts.count { throw EvolutionInterrupted() }

        // Every (response, non-final step) prefix becomes a prompt for N rollouts.
        var prefixes: [SamplePrompt] = []
        var owner: [(response: Int, step: Int)] = []
        var responses: [StepLabelledResponse] = []
        for (i, e) in examples.enumerated() {
            var seen = Set<[Int]>()
            for r in drawn[i] where seen.insert(r.tokens).inserted {
                let ends = stepEnds(r.tokens, tokenizer: tokenizer)
                guard !ends.isEmpty, let gold = e.answer else { continue }
                let final: Float = AnswerExtractor.extract(ids: r.tokens, tokenizer: tokenizer) == gold ? 1 : 0
                let index = responses.count
                responses.append(StepLabelledResponse(example: e, tokens: r.tokens, labels: [Float](repeating: 0, count: ends.count - 1) + [final]))
                for (j, end) in ends.dropLast().enumerated() {
                    prefixes.append(SamplePrompt(image: e.image, prompt: prompts[i].prompt + r.tokens[...end],
                                                 stream: UInt64(index) << 8 | UInt64(j)))
                    owner.append((index, j))
                }
            }
        }
        let completions = try sampler.generate(prefixes, k: rollouts, options: options, seed: seed ^ 0x4D43, shouldStop: shouldStop)
        if completions.count < prefixes.count { throw EvolutionInterrupted() }
        for (p, (ri, j)) in owner.enumerated() {
            let e = responses[ri].example
            let prefix = responses[ri].tokens[...stepEnds(responses[ri].tokens, tokenizer: tokenizer)[j]]
            let hits = completions[p].filter { AnswerExtractor.extract(ids: Array(prefix) + $0.tokens, tokenizer: tokenizer) == e.answer }.count
            let share = Float(hits) / Float(rollouts)
            responses[ri].labels[j] = kind == .soft ? share : (hits > 0 ? 1 : 0)
        }
        return (responses, prefixes.count * rollouts + examples.count * samples)
    }

    // MARK: Training

    /// A PRM initialised from `base` (backbone and all) and trained on `data` with binary
    /// cross-entropy on the step-end scores.
    public static func train(
        from base: VisionLanguageModel, data: [StepLabelledResponse], epochs: Int, lr: Float, batchSize: Int = 32,
        aggregation: Aggregation, seed: UInt64, tokenizer: Tokenizer = .standard,
        progress: ((TrainProgress) -> Void)? = nil, shouldStop: (() -> Bool)? = nil
    ) throws -> (ProcessRewardModel, PRMTrainReport) {
        let start = Date()
        let prm = ProcessRewardModel(model: try base.copy(), aggregation: aggregation, tokenizer: tokenizer)
        let params = prm.model.namedParameters.map(\.1)
        let optimizer = AdamW(params: params, config: .init(lr: lr, beta1: 0.9, beta2: 0.98, eps: 1e-8, weightDecay: 0.01))
        var rng = RNG(seed: seed, stream: 0x9E3)
        // Similar lengths together, batches in a seeded order.
        let order = data.indices.sorted { (data[$0].tokens.count, $0) < (data[$1].tokens.count, $1) }
        var batches: [[Int]] = stride(from: 0, to: order.count, by: batchSize).map { Array(order[$0..<Swift.min(order.count, $0 + batchSize)]) }
        var sum: Float = 0, last: Float = 0, updates = 0
        let total = epochs * batches.count
        for _ in 0..<epochs {
            rng.shuffle(&batches)
            for b in batches {
                if shouldStop?() == true { throw EvolutionInterrupted() }
                let items = b.map { (data[$0].example, data[$0].tokens) }
                let (batch, positions) = try prm.layout(items)
                var labels = [Float](repeating: 0, count: batch.batch * batch.length)
                var weights = labels
                for (i, ps) in positions.enumerated() {
                    for (j, p) in ps.enumerated() { labels[p] = data[b[i]].labels[j]; weights[p] = 1 }
                }
                last = try optimizer.safeUpdate(lr: lr, clip: 1) { _ in
                    let h = try prm.model.hidden(images: batch.images, tokens: batch.tokens, batch: batch.batch, length: batch.length)
                    return try binaryCrossEntropy(logits: try prm.model.scores(h), labels: labels, weights: weights)
                }.loss
                sum += last; updates += 1
                let elapsed = Date().timeIntervalSince(start)
                progress?(TrainProgress(step: updates, totalSteps: total, loss: last, tokensPerSecond: 0, elapsed: elapsed))
            }
        }
        var agree = 0, steps = 0
        for r in data {
            guard let oracle = oracleStepLabels(r.tokens, for: r.example, tokenizer: tokenizer) else { continue }
            for (l, o) in zip(r.labels, oracle) { steps += 1; agree += (l >= 0.5) == (o >= 0.5) ? 1 : 0 }
        }
        let report = PRMTrainReport(
            responses: data.count, steps: data.reduce(0) { $0 + $1.labels.count },
            labelAccuracy: steps > 0 ? Double(agree) / Double(steps) : 0,
            meanLoss: updates > 0 ? sum / Float(updates) : .nan, lastLoss: last, updates: updates, rollouts: 0,
            seconds: Date().timeIntervalSince(start))
        return (prm, report)
    }

    // MARK: Calibration

    /// Step accuracy and a reliability table of the PRM's step scores against the oracle verifier,
    /// on `items` (responses whose parsed steps line up with their step ends).
    public func calibration(_ items: [(example: Example, tokens: [Int])], bins: Int = 10) throws -> PRMCalibration {
        let scored = try stepScores(items)
        var counts = [Int](repeating: 0, count: bins), sums = [Double](repeating: 0, count: bins), good = counts
        var agree = 0, steps = 0, responses = 0
        for (item, s) in zip(items, scored) {
            guard let oracle = Self.oracleStepLabels(item.tokens, for: item.example, tokenizer: tokenizer), oracle.count == s.count else { continue }
            responses += 1
            // A non-finite score (weights that are NaN, as a damaged checkpoint can hold) fits no
            // bin: it is left out rather than trapping on the conversion.
            for (score, o) in zip(s, oracle) where score.isFinite {
                steps += 1
                agree += (score >= 0.5) == (o >= 0.5) ? 1 : 0
                let b = Swift.min(bins - 1, Swift.max(0, Int(score * Float(bins))))
                counts[b] += 1; sums[b] += Double(score); good[b] += o >= 0.5 ? 1 : 0
            }
        }
        let table = (0..<bins).map { b in
            PRMCalibration.Bin(lower: Float(b) / Float(bins), upper: Float(b + 1) / Float(bins), steps: counts[b],
                               meanScore: counts[b] > 0 ? sums[b] / Double(counts[b]) : 0,
                               oracleGood: counts[b] > 0 ? Double(good[b]) / Double(counts[b]) : 0)
        }
        return PRMCalibration(responses: responses, steps: steps, stepAccuracy: steps > 0 ? Double(agree) / Double(steps) : 0, bins: table)
    }
}

/// Thrown when a long phase is stopped at a safe point (Ctrl-C); the run's state is as it was
/// before the step began.
public struct EvolutionInterrupted: Error, CustomStringConvertible {
    /// Creates the interruption.
    public init() {}
    /// The message shown when a phase is interrupted.
    public var description: String { "interrupted; the run is as it was before this step" }
}

extension ProcessRewardModel: StepScorer {
    /// Step scores in batches of 64 (the `StepScorer` requirement).
    public func stepScores(_ items: [(example: Example, tokens: [Int])]) throws -> [[Float]] {
        try stepScores(items, batchSize: 64)
    }
}
