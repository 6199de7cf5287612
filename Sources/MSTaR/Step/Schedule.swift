import MSTaRModel
import MSTaRTasks
import MSTaRTensor

/// Where a prompt of a step comes from.
public enum Pool: String, Sendable {
    /// The labelled prompt set: gold answers.
    case labelled
    /// The unlabelled pool that prompt variation mixes in: pseudo-labels (or oracle ones).
    case unlabelled
}

/// One prompt a step samples from.
struct ScheduledPrompt {
    /// The example: scene, question, gold answer.
    var example: Example
    /// The pool it was drawn from.
    var pool: Pool
    /// The stream that, with the sampling seed, seeds its samples (its index in its pool).
    var stream: UInt64
}

/// What the schedule stage decides: the prompts of this step (or, under SFT, the seed chains to
/// train on) and where the cursors stand after it.
struct Schedule {
    var prompts: [ScheduledPrompt] = []
    var seedChains: [TrainingSequence] = []
    var nextCursor: Int
    var nextUnlabelled: Int
}

extension Evolution {
    /// Stage 1, schedule: the next `interval` of the labelled prompt set in a seeded order (one
    /// permutation per pass), plus, once T_mixin is reached, the next share of unlabelled prompts;
    /// under SFT the next seed chains instead.
    func schedule() throws -> Schedule {
        let s = settings
        var out = Schedule(nextCursor: cursor, nextUnlabelled: unlabelledCursor)
        if s.method == .sft {
            let seedSet = pool(.seed)
            let n = Swift.max(1, Int((s.effectiveInterval * Double(seedSet.count)).rounded()))
            let chosen = Self.take(from: cursor, count: n, size: seedSet.count, seed: seed, stream: .seedChains)
            out.nextCursor += n
            out.seedChains = try chosen.compactMap { try TrainingSequence(seedSet[$0], tokenizer: tokenizer) }
            return out
        }
        let labelled = promptSet
        let n = Swift.max(1, Int((s.effectiveInterval * Double(labelled.count)).rounded()))
        out.prompts = Self.take(from: cursor, count: n, size: labelled.count, seed: seed, stream: .labelledPrompts)
            .map { ScheduledPrompt(example: labelled[$0], pool: .labelled, stream: UInt64($0)) }
        out.nextCursor += n
        let mixedIn = Double(iteration) / Double(s.iterations) >= s.mixin - 1e-9
        if s.promptVariation.usesUnlabelled && mixedIn {
            let unlabelled = Array(pool(.unlabelled).prefix(s.unlabelledPrompts))
            let u = Swift.max(1, Int((s.effectiveInterval * Double(unlabelled.count)).rounded()))
            out.prompts += Self.take(from: unlabelledCursor, count: u, size: unlabelled.count, seed: seed, stream: .unlabelledPrompts)
                .map { ScheduledPrompt(example: unlabelled[$0], pool: .unlabelled, stream: 1 << 31 | UInt64($0)) }
            out.nextUnlabelled += u
        }
        return out
    }
}
