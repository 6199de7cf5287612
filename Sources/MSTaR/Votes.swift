/// Answer votes and rank-based metrics over the K samples of one prompt. Pure functions on small
/// arrays: the dynamics monitor, pseudo-labelling and the tests share them.

/// The answer most samples give (nil answers do not vote); ties go to the answer seen first.
/// Answers are numbers on the digit tasks and answer keys (`ReasoningItem.answerKey`) on real items.
public func majorityVote<Answer: Hashable>(_ answers: [Answer?]) -> Answer? {
    weightedVote(answers, weights: [Float](repeating: 1, count: answers.count))
}

/// `majorityVote` of numbers (so that a literal such as `[nil, nil]` needs no type).
public func majorityVote(_ answers: [Int?]) -> Int? {
    weightedVote(answers, weights: [Float](repeating: 1, count: answers.count))
}

/// The answer with the largest summed weight (PRM-weighted vote); ties go to the answer seen first.
public func weightedVote<Answer: Hashable>(_ answers: [Answer?], weights: [Float]) -> Answer? {
    precondition(answers.count == weights.count, "one weight per answer")
    var order: [Answer] = []
    var total: [Answer: Float] = [:]
    for (a, w) in zip(answers, weights) {
        guard let a else { continue }
        if total[a] == nil { order.append(a) }
        total[a, default: 0] += w
    }
    var best: Answer?
    var bestWeight = -Float.infinity
    for a in order where total[a]! > bestWeight { best = a; bestWeight = total[a]! }
    return best
}

/// Indices of the `n` highest `scores`, highest first; ties go to the lower index.
public func topIndices(_ scores: [Float], _ n: Int) -> [Int] {
    Array(scores.indices.sorted { scores[$0] != scores[$1] ? scores[$0] > scores[$1] : $0 < $1 }.prefix(n))
}

/// Reward-Pass@2 for one prompt: whether either of the two responses the reward model ranks highest
/// is correct. Joins exploration (a correct response exists) with exploitation (the reward finds it).
public func rewardPassAt2(scores: [Float], correct: [Bool]) -> Bool {
    precondition(scores.count == correct.count, "one score per response")
    return topIndices(scores, 2).contains { correct[$0] }
}

/// How many of `answers` agree with each one: a reward that needs no model (self-consistency),
/// used to rank responses when there is no PRM.
public func voteShares<Answer: Hashable>(_ answers: [Answer?]) -> [Float] {
    var count: [Answer: Int] = [:]
    for case let a? in answers { count[a, default: 0] += 1 }
    return answers.map { a in a.map { Float(count[$0]!) / Float(answers.count) } ?? 0 }
}

/// Which of one prompt's responses read the scene the way most of them do: self-consistency for the
/// perception steps, as a majority vote is for answers. `readings[i]` is response i's reading (its
/// `read` and `height` steps as text; nil if it read nothing, which does not vote and never passes);
/// every response whose reading ties for the most common passes.
public func commonReading(_ readings: [String?]) -> [Bool] {
    var count: [String: Int] = [:]
    for case let r? in readings { count[r, default: 0] += 1 }
    guard let most = count.values.max() else { return readings.map { _ in false } }
    return readings.map { r in r.map { count[$0] == most } ?? false }
}
