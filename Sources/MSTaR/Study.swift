import Foundation
import MSTaRTensor

/// The MSTaR study's comparisons as data: each experiment is a list of variants, each variant a
/// complete set of method settings (or the untrained baseline). `mstar reproduce` runs them.
public struct StudyVariant: Sendable {
    /// The variant's name: its row in the tables and what `--variants` matches.
    public var name: String
    /// nil: the pre-evolved policy itself, evaluated without evolution.
    public var settings: EvolutionSettings?

    /// Creates a variant from its name and settings (nil: the pre-evolved baseline).
    public init(_ name: String, _ settings: EvolutionSettings?) { self.name = name; self.settings = settings }

    /// Identical settings are one run, shared by every experiment that lists them.
    public var key: String {
        guard let settings else { return "pre-evolved" }
        let e = JSONEncoder()
        e.outputFormatting = .sortedKeys
        let data = (try? e.encode(settings)) ?? Data()
        var h = FNV1a()
        h.add(bytes: data)
        return h.hex
    }
}

/// One comparison of the study: a question and the variants that answer it.
public struct StudyExperiment: Sendable {
    /// Short name: the `--only` key and the name of its table file.
    public var name: String
    /// Heading of the experiment's table and plots.
    public var title: String
    /// What the study found, for the report.
    public var finding: String
    /// The variants compared, in table order; the first is the baseline the others are tested against.
    public var variants: [StudyVariant]
    /// What the study found, as pairs of variants (the first better): the report says, for each
    /// pair present, whether the runs agree, disagree or do not resolve it.
    public var claims: [StudyClaim] = []
    /// The experiment's questions for its plots, one panel each: a name and the variants it draws
    /// (empty: one panel of every variant).
    public var panels: [(name: String, variants: [String])] = []
}

/// One finding of the study as a comparison: variant `better` beats variant `worse`.
public struct StudyClaim: Sendable, Equatable {
    /// The variant the study found better, and the one it beat.
    public var better: String, worse: String
    /// `better` beats `worse`.
    public init(_ better: String, beats worse: String) { self.better = better; self.worse = worse }
}

/// How large the study's runs are.
public struct StudyScale: Codable, Sendable, Equatable {
    /// Labelled prompts in every run's prompt set.
    public var prompts: Int
    /// Passes over the prompt set that make each run.
    public var epochs: Double
    /// Validation prompts the dynamics monitor measures each step.
    public var dynamicsPrompts: Int
    /// Validation prompts each candidate temperature is measured on.
    public var temperaturePrompts: Int
    /// Test prompts every run's final policy is evaluated on.
    public var testPrompts: Int
    /// Out-of-distribution prompts every run's final policy is evaluated on.
    public var oodPrompts: Int
    /// Prompts whose samples label the PRM's training steps (Monte-Carlo rollouts).
    public var prmPrompts: Int = EvolutionSettings().prmPrompts
    /// Passes over each iteration's selection (`train_epochs`) in every run.
    public var trainEpochs: Int = EvolutionSettings().trainEpochs

    /// The study's scale: 512 prompts, 2 epochs, 32 dynamics and temperature prompts, 800 test and 200 OOD prompts.
    public static let full = StudyScale(prompts: 512, epochs: 2, dynamicsPrompts: 32, temperaturePrompts: 32, testPrompts: 800, oodPrompts: 200)
    /// The `--quick` scale: as `full` but 1 epoch, 16 temperature prompts and 400 test prompts.
    public static let quick = StudyScale(prompts: 512, epochs: 1, dynamicsPrompts: 32, temperaturePrompts: 16, testPrompts: 400, oodPrompts: 200)

    /// The smallest scale measured at which the recipe's gain over the pre-evolved policy and the
    /// gains of every method over it are significant (three seeds): as `full` on all 4,000 labelled
    /// prompts, one pass (docs/findings.md, "The scale that resolves the study").
    public static let resolving = StudyScale(prompts: 4000, epochs: 1, dynamicsPrompts: 32, temperaturePrompts: 32, testPrompts: 800, oodPrompts: 200)

    /// The scales `reproduce --scale` names, in the order its help lists them.
    public static let named: [(name: String, scale: StudyScale)] = [("full", .full), ("quick", .quick), ("resolving", .resolving)]

    /// A named scale's name, or the numbers of any other scale (a folder name for its runs).
    public var name: String {
        if let named = Self.named.first(where: { $0.scale == self }) { return named.name }
        return "prompts\(prompts)-epochs\(formatNumber(epochs))-dynamics\(dynamicsPrompts)-temperature\(temperaturePrompts)"
            + "-test\(testPrompts)-ood\(oodPrompts)-prm\(prmPrompts)"
            + (trainEpochs == EvolutionSettings().trainEpochs ? "" : "-train\(trainEpochs)")
    }
}

/// The study's experiments, which `mstar reproduce` runs.
public enum Study {
    /// The experiments, at `scale`; `quick` keeps one variant per question.
    public static func experiments(scale: StudyScale, quick: Bool) -> [StudyExperiment] {
        func base(_ r: Recipe) -> EvolutionSettings {
            var s = r.settings
            s.prompts = scale.prompts; s.epochs = scale.epochs
            s.dynamicsPrompts = scale.dynamicsPrompts; s.temperaturePrompts = scale.temperaturePrompts
            s.trainEpochs = scale.trainEpochs
            return s
        }
        func with(_ r: Recipe, _ change: (inout EvolutionSettings) -> Void) -> EvolutionSettings {
            var s = base(r); change(&s); return s
        }
        let intervals: [Double] = quick ? [0.25] : [1, 0.5, 0.25, 0.125, 0.0625]
        var methods: [StudyVariant] = [
            StudyVariant("pre-evolved", nil),
            StudyVariant("sft (seed CoT)", base(.sft)),
            StudyVariant("iterative-rft", base(.iterativeRFT)),
            StudyVariant("rest-em", base(.restEM)),
        ]
        methods += intervals.map { i in StudyVariant("continuous (interval \(formatNumber(i)))", with(.continuous) { $0.interval = i }) }
        methods += [StudyVariant("continuous + PRM top-2", base(.continuousPRM)), StudyVariant("mstar (full recipe)", base(.mstar))]
        if !quick {
            methods.append(StudyVariant("grpo (online baseline)", base(.grpo)))
            // Beyond the study: the recipe with the rule-based step checks in its reward (no scene, no
            // chain of thought), since our learned PRM cannot judge steps (docs/findings.md, "The bar").
            methods.append(StudyVariant("mstar + step checks", base(.mstarStepChecks)))
        }

        var selection: [StudyVariant] = [
            StudyVariant("all correct", base(.continuous)),
            StudyVariant("PRM top-2", base(.continuousPRM)),
        ]
        if !quick {
            selection = [
                StudyVariant("all correct", base(.continuous)),
                StudyVariant("random-2", with(.continuous) { $0.selection = .random; $0.selectK = 2 }),
                StudyVariant("PRM >= 0.5", with(.continuous) { $0.selection = .prmThreshold; $0.alpha = 0.5 }),
                StudyVariant("PRM top-1", with(.continuousPRM) { $0.selectK = 1 }),
                StudyVariant("PRM top-2", base(.continuousPRM)),
                StudyVariant("PRM top-4", with(.continuousPRM) { $0.selectK = 4 }),
                // Analysis: what a perfect PRM would keep (every step verified by the oracle).
                StudyVariant("oracle steps (perfect PRM)", with(.continuous) { $0.selection = .oracleSteps }),
            ]
        }

        var prompts: [StudyVariant] = [
            StudyVariant("labelled only", base(.continuousPRM)),
            StudyVariant("+ unlabelled, oracle labels", with(.continuousPRM) { $0.promptVariation = .oracle; $0.unlabelledPrompts = scale.prompts }),
            StudyVariant("+ unlabelled, majority vote", with(.continuousPRM) { $0.promptVariation = .majority; $0.unlabelledPrompts = scale.prompts }),
            StudyVariant("+ unlabelled, PRM-weighted vote", with(.continuousPRM) { $0.promptVariation = .prmVote; $0.unlabelledPrompts = scale.prompts }),
        ]
        if !quick {
            for m in [0.25, 0.5, 0.75] {
                prompts.append(StudyVariant("+ unlabelled (PRM vote), T_mixin \(Int(m * 100))%",
                                            with(.continuousPRM) { $0.promptVariation = .prmVote; $0.unlabelledPrompts = scale.prompts; $0.mixin = m }))
            }
        } else {
            prompts = Array(prompts.prefix(1)) + [prompts[3]]
        }

        var temperature: [StudyVariant] = (quick ? [1.0] : [0.6, 1.0, 1.4]).map { t in
            StudyVariant("fixed T = \(formatNumber(t))", with(.continuousPRM) { $0.temperature = Float(t) })
        }
        temperature.append(StudyVariant("dynamic (Reward-Pass@2)", base(.mstar)))
        if !quick { temperature.append(StudyVariant("dynamic (Pass@K)", with(.mstar) { $0.temperatureCriterion = .passAtK })) }

        let continuous = "continuous (interval 0.25)"
        return [
            StudyExperiment(name: "methods", title: "Training methods",
                            finding: "continuous self-evolving with a moderate interval (25%) beats iterative RFT and ReST-EM; the PRM and the dynamic temperature add to it",
                            variants: methods,
                            claims: [StudyClaim("mstar (full recipe)", beats: "pre-evolved"), StudyClaim(continuous, beats: "iterative-rft"),
                                     StudyClaim(continuous, beats: "rest-em"), StudyClaim("continuous + PRM top-2", beats: continuous),
                                     StudyClaim("mstar (full recipe)", beats: "continuous + PRM top-2")],
                            panels: [("methods", ["sft (seed CoT)", "iterative-rft", "rest-em", continuous, "grpo (online baseline)"]),
                                     ("intervals", methods.map(\.name).filter { $0.hasPrefix("continuous (interval") }),
                                     ("recipe", [continuous, "continuous + PRM top-2", "mstar (full recipe)", "mstar + step checks"])]),
            StudyExperiment(name: "selection", title: "Selection among correct responses",
                            finding: "the PRM helps as a reranker of correct responses; top-2 is best",
                            variants: selection,
                            claims: [StudyClaim("PRM top-2", beats: "all correct"), StudyClaim("PRM top-2", beats: "random-2"),
                                     StudyClaim("PRM top-2", beats: "PRM top-1"), StudyClaim("PRM top-2", beats: "PRM top-4")]),
            StudyExperiment(name: "prompts", title: "Prompt variation",
                            finding: "unlabelled prompts help only when the reward is reliable; the recipe uses labelled prompts only",
                            variants: prompts,
                            claims: [StudyClaim("+ unlabelled, oracle labels", beats: "labelled only"),
                                     StudyClaim("labelled only", beats: "+ unlabelled, majority vote"),
                                     StudyClaim("labelled only", beats: "+ unlabelled, PRM-weighted vote")]),
            StudyExperiment(name: "temperature", title: "Dynamics: fixed versus dynamic temperature",
                            finding: "Pass@K falls at every fixed temperature; choosing the temperature by Reward-Pass@2 beats fixed ones and choosing by Pass@K",
                            variants: temperature,
                            claims: [StudyClaim("dynamic (Reward-Pass@2)", beats: "fixed T = 0.6"), StudyClaim("dynamic (Reward-Pass@2)", beats: "fixed T = 1"),
                                     StudyClaim("dynamic (Reward-Pass@2)", beats: "fixed T = 1.4"),
                                     StudyClaim("dynamic (Reward-Pass@2)", beats: "dynamic (Pass@K)")]),
        ]
    }
}
