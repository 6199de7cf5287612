import Foundation
import MSTaR
import MSTaRModel
import MSTaRTasks
import Testing

/// The metrics of `eval --dataset` against hand-counted cases, and a generator that answers from a
/// table (what a server would), to check prompts, seeds and the measured verdicts.
@Suite struct ItemEvaluationTests {
    static let choice = ReasoningItem(id: "c", question: "Which is larger?", answer: "B", choices: ["3", "7"], answerType: .choice)
    static let number = ReasoningItem(id: "n", question: "What is 2 + 3?", answer: "5", answerType: .integer)

    /// Answers each prompt with the responses its text maps to, recording what it was asked.
    final class TableGenerator: TextGenerator, @unchecked Sendable {
        var answers: [String: [String]]
        var asked: [(prompt: TextPrompt, k: Int, temperature: Float, seed: UInt64)] = []
        init(_ answers: [String: [String]]) { self.answers = answers }
        func generateText(_ prompts: [TextPrompt], k: Int, options: SamplingOptions, seed: UInt64,
                          shouldStop: (() -> Bool)?) throws -> [[TextRollout]] {
            prompts.map { p in
                asked.append((p, k, options.temperature, seed))
                let table = answers[p.text] ?? []
                return (0..<k).map { j in TextRollout(text: options.temperature == 0 ? table[0] : table[(j + 1) % table.count], finished: true) }
            }
        }
    }

    @Test func keysAgreeWithTheVerdictAndGroupEqualAnswers() {
        let item = Self.number
        #expect(item.answerKey("so the answer is 5.") == ReasoningItem.goldKey)
        #expect(item.answerKey("\\boxed{5}") == ReasoningItem.goldKey)
        #expect(item.answerKey("The answer is 6") == item.answerKey("\\boxed{6}"))
        #expect(item.answerKey("The answer is 6") != item.answerKey("The answer is 7"))
        let c = Self.choice
        #expect(c.answerKey("The answer is (B)") == ReasoningItem.goldKey && c.answerKey("Answer: 7") == ReasoningItem.goldKey)
        #expect(c.answerKey("(A)") == c.answerKey("the answer is 3") && c.answerKey("(A)") != nil)
        #expect(c.promptText == "Which is larger?\n(A) 3\n(B) 7")
    }

    @Test func metricsCountGreedyPassMajorityAndTheVoteRanking() throws {
        // Item n: greedy right; samples 5, 6, 6, none -> Pass@4 1, majority 6 (wrong), vote top-2 holds a 6 and ... .
        let g = TableGenerator([
            Self.number.promptText: ["the answer is 5", "the answer is 6", "the answer is 6", "I cannot tell", "the answer is 5"],
            Self.choice.promptText: ["the answer is (A)", "(B)", "(B)", "(B)", "(A)"],
        ])
        let (m, measured) = try ItemEvaluation.measure([Self.number, Self.choice], generator: g, k: 4, temperature: 1, seed: 9, maxTokens: 64)
        // Samples are table[1...4]: number -> 6, 6, none, 5 ; choice -> B, B, B, A.
        #expect(measured[0].correct == [false, false, false, true] && measured[1].correct == [true, true, true, false])
        #expect(measured[0].keys[2] == nil)
        #expect(m.greedyAcc == 0.5)  // greedy: "the answer is 5" right, "the answer is (A)" wrong
        #expect(m.passAtK == 1)
        #expect(m.majorityAtK == 0.5)  // number: 6 wins (wrong); choice: B wins (right)
        #expect(m.rewardPassAt2 == 0.5)  // number: the two 6s rank first; choice: the Bs
        #expect(m.answered == 7.0 / 8.0)
        #expect(m.byType["integer"]?.greedyAcc == 1 && m.byType["choice"]?.greedyAcc == 0)
        // One greedy call (k 1, T 0) and one sampled call, both with the run's seed, item i on stream i.
        #expect(g.asked.map(\.k) == [1, 1, 4, 4] && g.asked.map(\.temperature) == [0, 0, 1, 1] && Set(g.asked.map(\.seed)) == [9])
        #expect(g.asked.map(\.prompt.stream) == [0, 1, 0, 1])
    }

    /// Scores each step by a table of words (0.95 for a step it does not know), recording what it was asked.
    final class WordScorer: TextStepScorer, @unchecked Sendable {
        var words: [String: Float]
        var asked: [String] = []
        init(_ words: [String: Float]) { self.words = words }
        func stepScores(_ items: [(prompt: TextPrompt, response: String)], shouldStop: (() -> Bool)?) throws -> [[Float]] {
            items.map { item in
                asked.append(item.response)
                return StepSplitter.split(item.response, tag: ";").map { step in words.first { step.contains($0.key) }?.value ?? 0.95 }
            }
        }
    }

    @Test func aServedPRMRanksTheSamplesOfItemsWithRightAndWrongOnes() throws {
        let g = TableGenerator([
            // Samples 1...4: 6 (confident), 5 (hesitant), 6, 5 -> mixed; the PRM prefers the confident wrong 6.
            Self.number.promptText: ["the answer is 5", "sure ; the answer is 6", "hmm ; the answer is 5", "sure ; the answer is 6", "hmm ; the answer is 5"],
            // All right: any ranking gives the same answer, so nothing is asked.
            Self.choice.promptText: ["(B)", "(B)", "(B)", "(B)", "(B)"],
        ])
        let prm = WordScorer(["sure": 0.9, "hmm": 0.2])
        let (m, measured) = try ItemEvaluation.measure([Self.number, Self.choice], generator: g, scorer: prm, aggregation: .min,
                                                       k: 4, temperature: 1, seed: 9, maxTokens: 64)
        #expect(prm.asked.count == 4 && measured[1].prmScores == nil)
        #expect(measured[0].prmScores == [0.9, 0.2, 0.9, 0.2])  // min over the steps: "sure" 0.9 then 0.95
        #expect(m.ranker == "prm" && m.prmBestOfK == 0.5)  // number: the top-scored sample is a wrong 6; choice: right
        #expect(m.rewardPassAt2 == 0.5)  // number: both top-2 are the 6s
        let (votes, _) = try ItemEvaluation.measure([Self.number, Self.choice], generator: g, k: 4, temperature: 1, seed: 9, maxTokens: 64)
        #expect(votes.ranker == "vote" && votes.prmBestOfK == nil)
    }

    @Test func aPromptCarriesItsImageFileBytesAndType() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("item-image-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let png = PNG.encode(Canvas(height: 4, width: 6))
        try Data(png).write(to: dir.appendingPathComponent("x.png"))
        var item = Self.number
        item.image = try DatasetImage.check("x.png", folder: dir.path)
        let p = try ItemEvaluation.prompt(item, stream: 3)
        #expect(p.image == ImageFile(data: Data(png), mediaType: "image/png") && p.text == item.promptText && p.stream == 3)
    }
}

/// The loop on items with a generator that answers from a table: rewards against gold and
/// majority labels, selection with duplicates counted once, the record, and what is refused.
@Suite struct ItemEvolutionTests {
    static func dataset() throws -> ReasoningDataset {
        let items = (0..<8).map { i in ReasoningItem(id: "q\(i)", question: "What is \(i) + 1?", answer: String(i + 1), answerType: .integer) }
        var d = ReasoningDataset(format: .mathvista, file: "t.json", items: items, badRecords: [], seed: 0,
                                 fractions: try SplitFractions(unlabelled: 0.25, validation: 0.25, test: 0))
        // Pinned splits, so the test reads plainly: 0-3 labelled, 4-5 unlabelled, 6-7 validation.
        d.splits = [.labelled, .labelled, .labelled, .labelled, .unlabelled, .unlabelled, .validation, .validation]
        return d
    }

    /// Every prompt gets "the answer is R" for each R of its row, cycling; the default is the gold answer twice, then 0.
    static func generator(_ rows: [String: [String]] = [:]) -> ItemEvaluationTests.TableGenerator {
        var table: [String: [String]] = [:]
        for i in 0..<8 { table["What is \(i) + 1?"] = rows["What is \(i) + 1?"] ?? ["the answer is \(i + 1)", "the answer is \(i + 1)", "the answer is \(i + 1)", "the answer is 0"] }
        return ItemEvaluationTests.TableGenerator(table)
    }

    @Test func aStepRewardsSelectsAndRecords() throws {
        var settings = EvolutionSettings()
        settings.method = .iterativeRFT  // a whole pass of the labelled items per step
        settings.k = 4; settings.dynamicsK = 2; settings.promptVariation = .majority
        let run = try ItemEvolution(dataset: try Self.dataset(), generator: Self.generator(), settings: settings, seed: 1)
        let r = try run.step()
        // Samples are table[1...4 mod 4]: gold, gold, "0", gold -> 3 right of 4; identical texts kept once.
        #expect(r.record.prompts == 4 && r.record.unlabelled == 2 && r.record.samples == 24 && r.record.correct == 18)
        #expect(r.record.selected == 6 && r.prompts.allSatisfy { $0.selected.filter { $0 }.count == 1 })
        // Unlabelled items are rewarded by their majority answer, which is the gold one here.
        #expect(r.prompts.filter { $0.pool == .unlabelled }.allSatisfy { $0.label == ReasoningItem.goldKey })
        #expect(r.record.pseudoLabelAcc == 1)
        #expect(r.record.greedyAcc == 1 && r.record.stepsCorrectShare == nil && r.record.entropy == nil)
        #expect(run.iteration == 1 && run.cursor == 4 && run.history.count == 1)
    }

    @Test func thePRMRulesRankTheRewardedResponsesByAServedPRM() throws {
        var settings = EvolutionSettings()
        settings.method = .iterativeRFT
        settings.k = 4; settings.dynamicsK = 2; settings.selection = .prmTop; settings.selectK = 1
        // Samples table[1...4 mod 4]: three right answers in three wordings and one wrong one.
        var rows: [String: [String]] = [:]
        for i in 0..<8 { rows["What is \(i) + 1?"] = ["the answer is 0", "hmm ; the answer is \(i + 1)", "sure ; the answer is \(i + 1)", "ok ; the answer is \(i + 1)"] }
        let prm = ItemEvaluationTests.WordScorer(["sure": 0.9, "hmm": 0.1, "ok": 0.6])
        let run = try ItemEvolution(dataset: try Self.dataset(), generator: Self.generator(rows), scorer: prm, settings: settings, seed: 1)
        let r = try run.step()
        // Only the rewarded responses are read: 3 per labelled prompt; the dynamics' prompts are all right.
        #expect(prm.asked.count == 12 && prm.asked.allSatisfy { !$0.contains("answer is 0") })
        for p in r.prompts {
            #expect(p.selected == p.responses.map { $0.text.hasPrefix("sure") })
            #expect(p.prmScores?.map { $0 == nil } == p.rewards.map { $0 == 0 })
        }
        #expect(r.record.selected == 4 && r.record.ranker == "prm")
        // Without a served PRM the rule is refused, saying how to get one.
        let none = try ItemEvolution(dataset: try Self.dataset(), generator: Self.generator(rows), settings: EvolutionSettings(), seed: 1)
        none.settings = settings
        do { try none.step(); Issue.record("prm-top ran without a PRM") } catch let e as SettingError { #expect(e.description.contains("--prm-url")) }
    }

    @Test func unlabelledItemsTakeThePRMWeightedVoteOrTheGoldAnswer() throws {
        var settings = EvolutionSettings()
        settings.method = .iterativeRFT
        settings.k = 4; settings.dynamicsK = 2; settings.promptVariation = .prmVote
        // Samples table[1...4 mod 4]: 0, right, right, 0, the 0s confident and the right ones hesitant, so
        // the plain majority ties (the 0 seen first wins) and the PRM-weighted vote picks the right one.
        var rows: [String: [String]] = [:]
        for i in 0..<8 { rows["What is \(i) + 1?"] = ["sure ; the answer is 0", "sure ; the answer is 0", "hmm ; the answer is \(i + 1)", "hmm ; the answer is \(i + 1)"] }
        let prm = ItemEvaluationTests.WordScorer(["sure": 0.3, "hmm": 0.9])
        let run = try ItemEvolution(dataset: try Self.dataset(), generator: Self.generator(rows), scorer: prm, settings: settings, seed: 1)
        let r = try run.step()
        let unlabelled = r.prompts.filter { $0.pool == .unlabelled }
        #expect(unlabelled.count == 2 && unlabelled.allSatisfy { $0.label == ReasoningItem.goldKey && $0.rewards == [0, 1, 1, 0] })
        // Every response of an unlabelled item is read; a labelled item's label needs no PRM.
        #expect(unlabelled.allSatisfy { $0.prmScores?.allSatisfy { $0 != nil } == true })
        #expect(r.prompts.filter { $0.pool == .labelled }.allSatisfy { $0.prmScores?.allSatisfy { $0 == nil } == true })
        #expect(r.record.pseudoLabelAcc == 1)
        // The plain majority of the same samples labels them 0; oracle labels take the gold answer.
        for (variation, acc) in [(PromptVariation.majority, 0.0), (.oracle, 1.0)] {
            settings.promptVariation = variation
            let other = try ItemEvolution(dataset: try Self.dataset(), generator: Self.generator(rows), settings: settings, seed: 1)
            #expect(try other.step().record.pseudoLabelAcc == acc)
        }
    }

    @Test func whatNeedsTheDigitTasksIsRefused() throws {
        for change in [{ (s: inout EvolutionSettings) in s.method = .grpo }, { s in s.selection = .prmTop }, { s in s.stepCheck = true },
                       { s in s.selection = .oracleSteps }, { s in s.promptVariation = .prmVote }] {
            var settings = EvolutionSettings()
            change(&settings)
            #expect(throws: SettingError.self) { try ItemEvolution(dataset: try Self.dataset(), generator: Self.generator(), settings: settings, seed: 1) }
        }
    }
}
