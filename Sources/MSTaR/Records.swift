import Foundation
import MSTaRModel
import MSTaRTasks

/// Where a prompt's label came from.
public enum LabelSource: String, Codable, Sendable {
    /// The labelled split's gold answer.
    case gold
    /// Majority vote over the K samples (unlabelled prompt).
    case majority
    /// PRM-weighted vote over the K samples (unlabelled prompt).
    case prmVote = "prm-vote"
    /// The hidden true answer of an unlabelled prompt (analysis).
    case oracle
}

/// One sampled response and everything the step decided about it.
public struct ResponseRecord: Sendable, Equatable {
    /// Response ids as sampled (ending with `<eos>` when finished).
    public var tokens: [Int]
    /// The response decoded to text.
    public var text: String
    /// The extracted final answer.
    public var answer: Int?
    /// Outcome reward against the prompt's label (gold or pseudo).
    public var reward: Float
    /// Whether the answer equals the true answer (for pseudo-labelled prompts this can differ from reward).
    public var correct: Bool
    /// Log-probability of each response token under the policy at temperature 1.
    public var logProbs: [Float]
    /// Mean next-token entropy (nats) of the policy over the response, at temperature 1.
    public var entropy: Float
    /// Whether the response ended with `<eos>` rather than at the token limit.
    public var finished: Bool
    /// PRM step scores and their aggregate, when a PRM scored this step's samples.
    public var stepScores: [Float]?
    /// The aggregate of `stepScores`, 0…1 (nil without PRM scores).
    public var prmScore: Float?
    /// Whether selection kept the response for training.
    public var selected: Bool

    /// Creates a record from its fields.
    public init(tokens: [Int], text: String, answer: Int?, reward: Float, correct: Bool, logProbs: [Float], entropy: Float,
                finished: Bool, stepScores: [Float]?, prmScore: Float?, selected: Bool) {
        self.tokens = tokens; self.text = text; self.answer = answer; self.reward = reward; self.correct = correct
        self.logProbs = logProbs; self.entropy = entropy; self.finished = finished; self.stepScores = stepScores
        self.prmScore = prmScore; self.selected = selected
    }
}

/// One prompt of a step, with its samples.
public struct PromptRecord: Sendable, Equatable {
    /// The prompt's task example: scene, question and true answer.
    public var example: Example
    /// "labelled" or "unlabelled".
    public var pool: String
    /// The label the reward used (nil: no label could be formed, so nothing is rewarded).
    public var label: Int?
    /// Where `label` came from.
    public var labelSource: LabelSource
    /// The prompt's K sampled responses, in sampling order.
    public var responses: [ResponseRecord]

    /// Creates a record from its fields.
    public init(example: Example, pool: String, label: Int?, labelSource: LabelSource, responses: [ResponseRecord]) {
        self.example = example; self.pool = pool; self.label = label; self.labelSource = labelSource; self.responses = responses
    }
}

/// Seconds per phase of one step (not part of dynamics.jsonl: timings differ run to run).
public struct PhaseTimes: Codable, Equatable, Sendable {
    /// The step these timings belong to (from 1).
    public var step: Int = 0
    /// Seconds spent on the temperature search.
    public var temperature: Double = 0
    /// Seconds spent sampling the K responses per prompt.
    public var sample: Double = 0
    /// Seconds spent training the PRM and scoring samples with it.
    public var prm: Double = 0
    /// Seconds spent on labels, rewards and selection.
    public var select: Double = 0
    /// Seconds spent training on the selection.
    public var train: Double = 0
    /// Seconds spent measuring the dynamics on the validation prompts.
    public var dynamics: Double = 0
    /// Wall-clock seconds of the whole step.
    public var total: Double = 0
}

/// One line of dynamics.jsonl: what a step did and what the monitor measured afterwards.
/// Contains no wall-clock times, so a seeded run writes the same bytes every time (timings go to
/// timings.jsonl).
public struct DynamicsRecord: Codable, Equatable, Sendable {
    /// The iteration, from 1.
    public var step: Int
    /// Passes over the prompt set done after this step (step x interval; 1 per step for RFT and ReST-EM).
    public var epoch: Double
    /// The training method's name, as `set method` takes it.
    public var method: String
    /// Sampling temperature of this step.
    public var temperature: Float
    /// Labelled prompts sampled this step (for SFT: seed chains trained on).
    public var prompts: Int
    /// Unlabelled prompts sampled this step.
    public var unlabelled: Int
    /// Responses sampled this step (K per prompt).
    public var samples: Int
    /// Samples the reward accepted: the answer matched the label the reward used, and the step check
    /// and reading vote passed where they are on.
    public var correct: Int
    /// Sequences kept for training (0 under GRPO, which trains on every rollout).
    public var selected: Int
    /// Share of pseudo-labelled prompts whose pseudo label is the true answer (nil without them).
    public var pseudoLabelAcc: Double?
    /// Mean training loss over the step's updates (per-token cross-entropy, or GRPO's objective); nil without updates.
    public var trainLoss: Float?
    /// Response tokens that carried training loss.
    public var trainTokens: Int
    /// Optimizer updates of the step's training.
    public var updates: Int
    // The monitor, on validation prompts.
    /// Validation prompts the monitor measured.
    public var validation: Int
    /// Samples per validation prompt: the K of Pass@K and majority@K.
    public var k: Int
    /// Share of validation prompts answered right at temperature 0, 0…1.
    public var greedyAcc: Double?
    /// Unbiased Pass@K on the validation prompts, 0…1.
    public var passAtK: Double
    /// Pass@K minus greedy accuracy: the room left for self-evolution.
    public var passGap: Double?
    /// Share of validation prompts where either of the two responses the reward ranks highest is correct.
    public var rewardPassAt2: Double
    /// Share of validation prompts whose majority answer over the K samples is correct.
    public var majorityAtK: Double
    /// Share of validation prompts whose highest-scored sample by the PRM is correct (nil without a PRM).
    public var prmBestOfK: Double?
    /// Mean token entropy (nats) of the validation samples.
    public var entropy: Double?
    /// Mean length in tokens of the validation samples.
    public var meanLen: Double
    /// Among validation samples with the right answer, the share whose every step the oracle accepts.
    public var stepsCorrectShare: Double?
    /// What ranked responses for Reward-Pass@2: "prm", or "vote" (answer agreement) without a PRM.
    public var ranker: String
    /// Greedy accuracy and Pass@K per task family on the validation prompts, by family name.
    public var families: [String: FamilyDynamics]
    /// The dynamic temperature's evaluation, on steps that made one.
    public var temperatureSearch: TemperatureSearch?

    enum CodingKeys: String, CodingKey {
        case step, epoch, method, temperature, prompts, unlabelled, samples, correct, selected, updates, validation, k
        case entropy, ranker, families
        case pseudoLabelAcc = "pseudo_label_acc", trainLoss = "train_loss", trainTokens = "train_tokens"
        case greedyAcc = "greedy_acc", passAtK = "pass_at_k", passGap = "pass_gap", rewardPassAt2 = "reward_pass_at_2"
        case majorityAtK = "majority_at_k", prmBestOfK = "prm_best_of_k", meanLen = "mean_len"
        case stepsCorrectShare = "steps_correct_share", temperatureSearch = "temperature_search"
    }

    init(step: Int, epoch: Double, method: TrainingMethod, temperature: Float, prompts: Int, unlabelled: Int, samples: Int, correct: Int,
         selected: Int, pseudoLabelAcc: Double?, train: TrainReport?, dynamics d: DynamicsMetrics, search: TemperatureSearch?) {
        self.step = step; self.epoch = epoch; self.method = method.rawValue; self.temperature = temperature
        self.prompts = prompts; self.unlabelled = unlabelled; self.samples = samples; self.correct = correct
        self.selected = selected; self.pseudoLabelAcc = pseudoLabelAcc
        trainLoss = train.flatMap { $0.steps > 0 ? $0.meanLoss : nil }
        trainTokens = train?.tokens ?? 0; updates = train?.steps ?? 0
        validation = d.prompts; k = d.k; greedyAcc = d.greedyAcc; passAtK = d.passAtK; passGap = d.passGap
        rewardPassAt2 = d.rewardPassAt2; majorityAtK = d.majorityAtK; prmBestOfK = d.prmBestOfK
        entropy = d.entropy; meanLen = d.meanLen; stepsCorrectShare = d.stepsCorrectShare; ranker = d.ranker
        families = d.families; temperatureSearch = search
    }

    /// The JSON line (sorted keys, no spaces).
    public func jsonLine() throws -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try e.encode(self), as: UTF8.self)
    }

    /// A numeric column by its JSON name, as plots read it (families as "family/greedy_acc").
    public func value(_ name: String) -> Double? {
        switch name {
        case "step": return Double(step)
        case "epoch": return epoch
        case "temperature": return Double(temperature)
        case "prompts": return Double(prompts)
        case "samples": return Double(samples)
        case "correct": return Double(correct)
        case "selected": return Double(selected)
        case "pseudo_label_acc": return pseudoLabelAcc
        case "train_loss": return trainLoss.map(Double.init)
        case "train_tokens": return Double(trainTokens)
        case "greedy_acc": return greedyAcc
        case "pass_at_k": return passAtK
        case "pass_gap": return passGap
        case "reward_pass_at_2": return rewardPassAt2
        case "majority_at_k": return majorityAtK
        case "prm_best_of_k": return prmBestOfK
        case "entropy": return entropy
        case "mean_len": return meanLen
        case "steps_correct_share": return stepsCorrectShare
        default:
            let parts = name.split(separator: "/")
            guard parts.count == 2, let f = families[String(parts[0])] else { return nil }
            return parts[1] == "greedy_acc" ? f.greedyAcc : parts[1] == "pass_at_k" ? f.passAtK : nil
        }
    }
}

/// Everything one step produced; kept on the run until the next step for inspection.
public struct StepResult: Sendable {
    /// The step's line of dynamics.jsonl.
    public var record: DynamicsRecord
    /// Seconds per phase: the step's line of timings.jsonl.
    public var times: PhaseTimes
    /// Every prompt sampled, with its responses, rewards and selection (empty for SFT).
    public var prompts: [PromptRecord]
    /// What training did (nil when there was nothing to train on).
    public var train: TrainReport?
    /// The monitor's metrics on the validation prompts after training.
    public var dynamics: DynamicsMetrics
}
