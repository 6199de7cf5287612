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
    public var tokens: [Int]
    public var text: String
    /// The extracted final answer.
    public var answer: Int?
    /// Outcome reward against the prompt's label (gold or pseudo).
    public var reward: Float
    /// Whether the answer equals the true answer (for pseudo-labelled prompts this can differ from reward).
    public var correct: Bool
    public var logProbs: [Float]
    public var entropy: Float
    public var finished: Bool
    /// PRM step scores and their aggregate, when a PRM scored this step's samples.
    public var stepScores: [Float]?
    public var prmScore: Float?
    public var selected: Bool

    public init(tokens: [Int], text: String, answer: Int?, reward: Float, correct: Bool, logProbs: [Float], entropy: Float,
                finished: Bool, stepScores: [Float]?, prmScore: Float?, selected: Bool) {
        self.tokens = tokens; self.text = text; self.answer = answer; self.reward = reward; self.correct = correct
        self.logProbs = logProbs; self.entropy = entropy; self.finished = finished; self.stepScores = stepScores
        self.prmScore = prmScore; self.selected = selected
    }
}

/// One prompt of a step, with its samples.
public struct PromptRecord: Sendable, Equatable {
    public var example: Example
    /// "labelled" or "unlabelled".
    public var pool: String
    /// The label the reward used (nil: no label could be formed, so nothing is rewarded).
    public var label: Int?
    public var labelSource: LabelSource
    public var responses: [ResponseRecord]

    public init(example: Example, pool: String, label: Int?, labelSource: LabelSource, responses: [ResponseRecord]) {
        self.example = example; self.pool = pool; self.label = label; self.labelSource = labelSource; self.responses = responses
    }
}

/// Seconds per phase of one step (not part of dynamics.jsonl: timings differ run to run).
public struct PhaseTimes: Codable, Equatable, Sendable {
    public var step: Int = 0
    public var temperature: Double = 0
    public var sample: Double = 0
    public var prm: Double = 0
    public var select: Double = 0
    public var train: Double = 0
    public var dynamics: Double = 0
    public var total: Double = 0
}

/// One line of dynamics.jsonl: what a step did and what the monitor measured afterwards.
/// Contains no wall-clock times, so a seeded run writes the same bytes every time (timings go to
/// timings.jsonl).
public struct DynamicsRecord: Codable, Equatable, Sendable {
    public var step: Int
    /// Passes over the prompt set done after this step (step x interval; 1 per step for RFT and ReST-EM).
    public var epoch: Double
    public var method: String
    /// Sampling temperature of this step.
    public var temperature: Float
    public var prompts: Int
    public var unlabelled: Int
    public var samples: Int
    /// Samples whose answer matched the label the reward used.
    public var correct: Int
    public var selected: Int
    /// Share of pseudo-labelled prompts whose pseudo label is the true answer (nil without them).
    public var pseudoLabelAcc: Double?
    public var trainLoss: Float?
    public var trainTokens: Int
    public var updates: Int
    // The monitor, on validation prompts.
    public var validation: Int
    public var k: Int
    public var greedyAcc: Double?
    public var passAtK: Double
    public var passGap: Double?
    public var rewardPassAt2: Double
    public var majorityAtK: Double
    public var prmBestOfK: Double?
    public var entropy: Double
    public var meanLen: Double
    public var stepsCorrectShare: Double
    public var ranker: String
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
    public var record: DynamicsRecord
    public var times: PhaseTimes
    public var prompts: [PromptRecord]
    public var train: TrainReport?
    public var dynamics: DynamicsMetrics
}
