import Foundation
import MSTaR
import MSTaRModel
import MSTaRTasks
import MSTaRTensor
import Testing

@Suite struct VotesTests {
    @Test func majorityVoteCountsAnswersAndBreaksTiesByFirstSeen() {
        #expect(majorityVote([3, 5, 5, nil, 3, 5]) == 5)
        #expect(majorityVote([7, 2, 2, 7]) == 7)           // tie: 7 was seen first
        #expect(majorityVote([nil, nil]) == nil)
        #expect(majorityVote([nil, nil, 4]) == 4)          // nil answers do not vote
    }

    @Test func weightedVoteSumsWeights() {
        // Two samples say 1 with low scores, one says 9 with a high one.
        #expect(weightedVote([1, 1, 9], weights: [0.2, 0.3, 0.9]) == 9)
        #expect(weightedVote([1, 1, 9], weights: [0.5, 0.5, 0.9]) == 1)
    }

    @Test func rewardPassAt2LooksAtTheTwoBestRanked() {
        // Ranked order: 2 (0.9), 0 (0.8), then 1, 3.
        let scores: [Float] = [0.8, 0.1, 0.9, 0.3]
        #expect(rewardPassAt2(scores: scores, correct: [true, false, false, false]))
        #expect(rewardPassAt2(scores: scores, correct: [false, false, true, false]))
        #expect(!rewardPassAt2(scores: scores, correct: [false, true, false, true]))  // correct ones ranked 3rd and 4th
        // Ties go to the lower index: 0 and 1 both score 0.5 and outrank 2.
        #expect(!rewardPassAt2(scores: [0.5, 0.5, 0.5], correct: [false, false, true]))
        #expect(rewardPassAt2(scores: [0.5], correct: [true]))
    }

    @Test func voteSharesAreAgreement() {
        #expect(voteShares([4, 4, 2, nil]) == [0.5, 0.5, 0.25, 0])
    }

    @Test func commonReadingPassesTheMostCommonReadings() {
        let a = "read 3 7", b = "read 3 1"
        #expect(commonReading([a, b, a, nil, a]) == [true, false, true, false, true])
        #expect(commonReading([a, b, b, a]) == [true, true, true, true])  // a tie: both pass
        #expect(commonReading([nil, nil]) == [false, false])               // no reading, no vote
        // Readings come from the chains: only read and height steps count, in the canonical grammar.
        let chains = ["read 3 7 ; 3 + 7 = 10 ; answer 10", "read 3  7 ; 3 + 7 = 11 ; answer 11",
                      "read 3 1 ; 3 + 1 = 4 ; answer 4", "3 + 7 = 10 ; answer 10"]
        #expect(chains.map(Chain.reading) == ["read 3 7", "read 3 7", "read 3 1", nil])
        #expect(Chain.reading("read 3 7 5 ; height 2 4 1 ; keep 4 ; answer 4") == "read 3 7 5 ; height 2 4 1")
        #expect(commonReading(chains.map(Chain.reading)) == [true, true, false, false])
    }
}

@Suite struct SelectionTests {
    let rewards: [Float] = [1, 0, 1, 1, 0, 1]
    let scores: [Float] = [0.4, 0.99, 0.9, 0.7, 0.8, 0.2]
    let tokens: [[Int]] = [[1], [2], [3], [4], [5], [6]]

    func run(_ rule: SelectionRule, k: Int = 2, alpha: Float = 0.5, cap: Int = 0, tokens: [[Int]]? = nil, seed: UInt64 = 1) -> [Int] {
        var rng = RNG(seed: seed)
        return Selector(rule: rule, k: k, alpha: alpha, cap: cap).select(
            rewards: rewards, prmScores: scores, tokens: tokens ?? self.tokens, rng: &rng)
    }

    @Test func allCorrectKeepsEveryRightAnswer() { #expect(run(.allCorrect) == [0, 2, 3, 5]) }

    @Test func prmTopRanksOnlyAmongCorrect() {
        // Index 1 has the highest score but a wrong answer.
        #expect(run(.prmTop, k: 1) == [2])
        #expect(run(.prmTop, k: 2) == [2, 3])
        #expect(run(.prmTop, k: 4) == [0, 2, 3, 5])
        #expect(run(.prmTop, k: 8) == [0, 2, 3, 5])
    }

    @Test func oracleStepsKeepsCorrectAnswersWithCorrectSteps() {
        var rng = RNG(seed: 1)
        // Index 1 has right steps but a wrong answer; 0 and 5 reach the right answer through wrong steps.
        let kept = Selector(rule: .oracleSteps).select(rewards: rewards, prmScores: nil, tokens: tokens,
                                                       stepsCorrect: [false, true, true, true, false, false], rng: &rng)
        #expect(kept == [2, 3])
    }

    @Test func thresholdKeepsCorrectAboveAlpha() {
        #expect(run(.prmThreshold, alpha: 0.5) == [2, 3])
        #expect(run(.prmThreshold, alpha: 0.95) == [])
    }

    @Test func randomKDrawsKDistinctCorrect() {
        var seen = Set<[Int]>()
        for seed in 0..<20 as Range<UInt64> {
            let kept = run(.random, k: 2, seed: seed)
            #expect(kept.count == 2 && kept.allSatisfy { rewards[$0] == 1 } && Set(kept).count == 2)
            seen.insert(kept)
        }
        #expect(seen.count > 1, "random-2 always drew the same pair")
        #expect(run(.random, k: 2, seed: 3) == run(.random, k: 2, seed: 3))
    }

    @Test func capAndDedupe() {
        #expect(run(.allCorrect, cap: 1) == [2])  // the best-scored correct one
        // Responses 0 and 2 are the same text: counted once.
        #expect(run(.allCorrect, tokens: [[1], [2], [1], [4], [5], [6]]) == [0, 3, 5])
    }
}

@Suite struct SettingsTests {
    @Test func everySettingReadsBackWhatWasSet() throws {
        var s = EvolutionSettings()
        for name in EvolutionSettings.names {
            let v = try s.value(name)
            try s.set(name, to: v)
            #expect(try s.value(name) == v, "\(name)")
        }
        try s.set("interval", to: "0.125"); #expect(s.interval == 0.125)
        try s.set("selection", to: "prm-top"); #expect(s.selection == .prmTop)
        try s.set("dynamic_temperature", to: "on"); #expect(s.dynamicTemperature)
        // The step checks survive a run checkpoint's settings file, and settings saved without them load as off.
        try s.set("step_check", to: "on"); try s.set("reading_vote", to: "on")
        let back = try JSONDecoder().decode(EvolutionSettings.self, from: try JSONEncoder().encode(s))
        #expect(back.stepCheck && back.readingVote && back == s)
        let old = try JSONDecoder().decode(EvolutionSettings.self, from: try JSONEncoder().encode(EvolutionSettings()))
        #expect(!old.stepCheck && !old.readingVote)
    }

    @Test func badNamesAndValuesSayWhatToDo() {
        var s = EvolutionSettings()
        #expect(throws: SettingError.self) { try s.set("intreval", to: "0.5") }
        do { try s.set("intreval", to: "0.5") } catch { #expect("\(error)".contains("did you mean 'interval'")) }
        do { try s.set("interval", to: "2") } catch { #expect("\(error)".contains("interval takes a number")) }
        do { try s.set("method", to: "rft") } catch { #expect("\(error)".contains("iterative-rft")) }
    }

    @Test func iterationsAndCandidateTemperatures() {
        var s = Recipe.mstar.settings
        s.epochs = 2
        #expect(s.iterations == 8)
        s.method = .iterativeRFT
        #expect(s.iterations == 2)
        let t = EvolutionSettings().candidateTemperatures
        #expect(t.count == 14 && t.first == 0.3 && t.last == 1.6 && t[7] == 1.0)
    }

    @Test func recipesSetTheStudysChoices() throws {
        let m = Recipe.mstar.settings
        #expect(m.method == .continuous && m.interval == 0.25 && m.selection == .prmTop && m.selectK == 2)
        #expect(m.promptVariation == .labelled && m.dynamicTemperature && m.temperatureCriterion == .rewardPassAt2)
        #expect(Recipe.restEM.settings.method == .restEM)
        #expect(try Recipe(name: "continuous+prm") == .continuousPRM)
        #expect(throws: SettingError.self) { try Recipe(name: "mstarr") }
    }
}

@Suite struct DynamicsMetricsTests {
    @Test func handMadePromptsGiveTheExpectedMetrics() throws {
        let suite = Fixture.suite
        let e = Array(suite.examples(.validation).prefix(2))
        let g0 = e[0].answer!, g1 = e[1].answer!
        // Prompt 0: greedy right; samples: 2 of 4 right, the majority right, the PRM's top pick wrong.
        // Prompt 1: greedy wrong; samples: 1 of 4 right, majority wrong, the PRM's top pick right.
        let answers: [[Int?]] = [[g0, g0 + 1, g0, nil], [g1 + 2, g1 + 2, g1, g1 + 3]]
        let prm: [[Float]] = [[0.2, 0.9, 0.3, 0.1], [0.1, 0.2, 0.8, 0.3]]
        let m = DynamicsMetrics.compute(
            examples: e, greedyAnswers: [g0, g1 + 1], answers: answers, rankScores: prm, ranker: "prm", prmScores: prm,
            entropies: [[1, 1, 1, 1], [2, 2, 2, 2]], lengths: [[4, 4, 4, 4], [6, 6, 6, 6]],
            stepsCorrect: [[true, false, false, false], [false, false, false, false]], k: 4, temperature: 1)
        #expect(m.greedyAcc == 0.5)
        #expect(m.passAtK == 1)                        // both prompts have a correct sample
        #expect(m.passGap == 0.5)
        #expect(m.majorityAtK == 0.5)
        #expect(m.prmBestOfK == 0.5)                   // prompt 1 only
        #expect(m.rewardPassAt2 == 1)                  // prompt 0: top-2 = {1, 2}, 2 is right; prompt 1: {2, 3}
        #expect(m.entropy == 1.5 && m.meanLen == 5)
        #expect(abs(m.stepsCorrectShare! - 1.0 / 3) < 1e-12)  // 3 right answers, one with all steps right
        #expect(m.families[e[0].family.rawValue]?.greedyAcc == 1)
    }

    @Test func dynamicTemperatureChoosesTheArgmax() {
        let c: [TemperatureSearch.Candidate] = [
            .init(temperature: 0.3, rewardPassAt2: 0.4, passAtK: 0.5),
            .init(temperature: 0.7, rewardPassAt2: 0.6, passAtK: 0.7),
            .init(temperature: 1.1, rewardPassAt2: 0.6, passAtK: 0.9),
            .init(temperature: 1.5, rewardPassAt2: 0.5, passAtK: 0.95),
        ]
        // 0.7 and 1.1 tie: the one closer to the current temperature wins, then the lower.
        #expect(TemperatureSearch.choose(c, by: .rewardPassAt2, current: 1.0) == 1.1)
        #expect(TemperatureSearch.choose(c, by: .rewardPassAt2, current: 0.3) == 0.7)
        #expect(TemperatureSearch.choose(c, by: .rewardPassAt2, current: 0.9) == 0.7)
        #expect(TemperatureSearch.choose(c, by: .passAtK, current: 0.3) == 1.5)
    }
}

@Suite struct StudyTests {
    /// Variants that are the same run in two experiments share one key (and so one run); the
    /// comparisons the study made are all there.
    @Test func experimentsShareIdenticalRuns() {
        let e = Study.experiments(scale: .full, quick: false)
        #expect(e.map(\.name) == ["methods", "selection", "prompts", "temperature"])
        func key(_ exp: String, _ variant: String) -> String? {
            e.first { $0.name == exp }?.variants.first { $0.name == variant }?.key
        }
        #expect(key("methods", "continuous (interval 0.25)") == key("selection", "all correct"))
        #expect(key("methods", "continuous + PRM top-2") == key("selection", "PRM top-2"))
        #expect(key("selection", "PRM top-2") == key("prompts", "labelled only"))
        #expect(key("temperature", "dynamic (Reward-Pass@2)") == key("methods", "mstar (full recipe)"))
        #expect(key("temperature", "fixed T = 1") == key("selection", "PRM top-2"))
        #expect(key("methods", "iterative-rft") != key("methods", "rest-em"))
        let methods = e[0].variants.map(\.name)
        for i in ["1", "0.5", "0.25", "0.125", "0.0625"] { #expect(methods.contains("continuous (interval \(i))")) }
        // The recipe with the step checks differs from the recipe by those two settings alone.
        let checked = e[0].variants.first { $0.name == "mstar + step checks" }?.settings
        var recipe = e[0].variants.first { $0.name == "mstar (full recipe)" }?.settings
        recipe?.stepCheck = true; recipe?.readingVote = true
        #expect(checked != nil && checked == recipe)
        // Settings without the checks encode as they did before the checks existed, so finished runs keep their keys.
        let json = String(decoding: try! JSONEncoder().encode(e[0].variants[2].settings!), as: UTF8.self)
        #expect(!json.contains("stepCheck") && !json.contains("readingVote"))
        #expect(e[1].variants.count == 7 && e[2].variants.count == 7 && e[3].variants.count == 5)
        let quick = Study.experiments(scale: .quick, quick: true)
        #expect(quick.allSatisfy { $0.variants.count >= 2 })
    }

    /// Each named scale is its own runs folder, named by its name; any other scale by its numbers
    /// (so two scales never share finished runs).
    @Test func namedScalesHaveDistinctFolders() {
        let named = StudyScale.named
        #expect(named.map(\.name) == ["full", "quick", "resolving"])
        #expect(Set(named.map(\.scale.name)).count == named.count)
        for (name, scale) in named { #expect(scale.name == name) }
        #expect(StudyScale.resolving.prompts == 4000 && StudyScale.resolving.epochs == 1)
        var other = StudyScale.resolving
        other.prompts = 1024
        #expect(other.name == "prompts1024-epochs1-dynamics32-temperature32-test800-ood200-prm384")
    }
}
