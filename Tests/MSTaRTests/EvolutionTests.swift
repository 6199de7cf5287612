import Foundation
import MSTaR
import MSTaRModel
import MSTaRTasks
import MSTaRTensor
import Testing

@Suite struct EvolutionTests {
    /// A short run of each recipe changes the policy and logs every metric of the dynamics.
    @Test(arguments: Recipe.allCases)
    func recipeRunsChangeThePolicyAndLogEveryMetric(recipe: Recipe) throws {
        try Runtime.withThreads(1) {
            let dir = Fixture.tempDir("recipe-\(recipe.rawValue)")
            defer { try? FileManager.default.removeItem(at: dir) }
            let run = try Evolution(suite: Fixture.suite, policy: Fixture.policy, settings: Fixture.settings(recipe), seed: 3)
            run.runDirectory = dir
            let before = Fixture.weights(run.policy)
            let results = try run.evolve(2)
            #expect(results.count == 2 && run.iteration == 2)
            // The tiny policy rarely writes a chain that passes the step checks; with nothing selected
            // there is nothing to train on.
            if recipe != .mstarStepChecks || results.contains(where: { $0.record.selected > 0 }) {
                #expect(Fixture.weights(run.policy) != before, "\(recipe.rawValue) did not change the policy")
            }
            #expect(Fixture.weights(run.initialPolicy) == before, "π0 must stay as it was")
            let lines = try String(contentsOf: dir.appendingPathComponent("dynamics.jsonl"), encoding: .utf8).split(separator: "\n")
            #expect(lines.count == 2)
            let json = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
            for key in ["step", "method", "temperature", "greedy_acc", "pass_at_k", "pass_gap", "k", "reward_pass_at_2", "majority_at_k",
                        "selected", "mean_len", "entropy", "steps_correct_share", "families", "samples", "correct"] {
                #expect(json[key] != nil, "\(recipe.rawValue): dynamics.jsonl lacks \(key)")
            }
            #expect((json["families"] as? [String: Any])?.count == 4)
            let r = results[0]
            if recipe == .sft {
                #expect(r.prompts.isEmpty && r.record.selected > 0)
            } else {
                #expect(r.record.samples == r.record.prompts * run.settings.k)
                #expect(r.prompts.allSatisfy { $0.responses.count == run.settings.k })
            }
            if recipe == .mstar || recipe == .continuousPRM {
                #expect(run.prm != nil && r.record.prmBestOfK != nil && r.record.ranker == "prm")
                // The step scores what selection reads (the rewarded responses); `scored` completes a
                // record with the scores a direct call of the PRM gives.
                #expect(r.prompts.allSatisfy { $0.responses.allSatisfy { ($0.prmScore != nil) == ($0.reward > 0) } })
                for p in r.prompts.prefix(4) {
                    let full = try run.scored(p)
                    let direct = try run.prm!.stepScores(p.responses.map { (p.example, $0.tokens) })
                    #expect(full.responses.map { $0.stepScores! } == direct)
                    #expect(zip(full.responses, p.responses).allSatisfy { f, o in o.prmScore == nil || o.prmScore == f.prmScore })
                }
                // PRM top-2: at most two kept per prompt, all with the right answer.
                #expect(r.prompts.allSatisfy { p in p.responses.filter(\.selected).count <= 2 && p.responses.filter(\.selected).allSatisfy { $0.reward == 1 } })
            }
            if recipe == .mstar {
                #expect(r.record.temperatureSearch?.candidates.count == 3)
                #expect(results[1].record.temperatureSearch == nil)  // every 2 iterations
                #expect(r.record.temperature == r.record.temperatureSearch?.chosen)
            }
            if recipe == .continuous {
                // Interval 0.25 of 16 prompts.
                #expect(r.record.prompts == 8)  // interval 0.25 of 32 prompts
            }
        }
    }

    /// What each method resets and what it carries.
    @Test func methodsResetAndCarryTheRightState() throws {
        try Runtime.withThreads(1) {
            var s = Fixture.settings(.continuous)
            let run = try Evolution(suite: Fixture.suite, policy: Fixture.policy, settings: s, seed: 5)
            try run.step()
            let afterContinuous = Fixture.weights(run.policy)
            let firstUpdates = try #require(run.optimizer?.step)
            #expect(firstUpdates > 0 && afterContinuous != Fixture.weights(run.initialPolicy))
            try run.step()
            #expect(run.optimizer!.step == firstUpdates + run.last!.record.updates, "continuous carries the optimizer")

            // Iterative RFT continues from the last policy: with lr 0 nothing moves.
            let carried = Fixture.weights(run.policy)
            s.method = .iterativeRFT; s.lr = 0
            run.settings = s
            try run.step()
            #expect(Fixture.weights(run.policy) == carried)

            // ReST-EM restarts from π0 each iteration: with lr 0 the policy becomes π0 again.
            s.method = .restEM
            run.settings = s
            try run.step()
            #expect(Fixture.weights(run.policy) == Fixture.weights(run.initialPolicy))
        }
    }

    /// Saving mid-run and resuming writes the same dynamics.jsonl bytes as an uninterrupted run.
    @Test func resumeGivesTheSameDynamicsBytes() throws {
        try Runtime.withThreads(1) {
            let a = Fixture.tempDir("resume-a"), b = Fixture.tempDir("resume-b")
            defer { try? FileManager.default.removeItem(at: a); try? FileManager.default.removeItem(at: b) }
            var s = Fixture.settings(.mstar)
            s.selection = .random; s.selectK = 3  // random draws must also resume exactly
            s.selection = .prmTop
            let whole = try Evolution(suite: Fixture.suite, policy: Fixture.policy, settings: s, seed: 9)
            whole.runDirectory = a
            _ = try whole.evolve(3)

            let first = try Evolution(suite: Fixture.suite, policy: Fixture.policy, settings: s, seed: 9)
            first.runDirectory = b
            try first.step()
            try first.save(to: b.appendingPathComponent("checkpoint"))
            let resumed = try Evolution.resume(from: b.appendingPathComponent("checkpoint"), suite: Fixture.suite,
                                               history: try Evolution.readDynamics(b.appendingPathComponent("dynamics.jsonl")))
            #expect(resumed.iteration == 1 && resumed.history.count == 1 && resumed.prm != nil && resumed.optimizer != nil)
            resumed.runDirectory = b
            _ = try resumed.evolve(2)
            let da = try Data(contentsOf: a.appendingPathComponent("dynamics.jsonl"))
            let db = try Data(contentsOf: b.appendingPathComponent("dynamics.jsonl"))
            #expect(da == db)
            #expect(Fixture.weights(whole.policy) == Fixture.weights(resumed.policy))
        }
    }

    /// An interrupt leaves the run as it was before the step.
    @Test func interruptLeavesTheRunUnchanged() throws {
        try Runtime.withThreads(1) {
            let run = try Evolution(suite: Fixture.suite, policy: Fixture.policy, settings: Fixture.settings(.continuous), seed: 2)
            let before = Fixture.weights(run.policy)
            for phase in ["sample", "train", "dynamics"] {
                var current = ""
                do {
                    try run.step(progress: { current = $0 }, shouldStop: { current == phase })
                    Issue.record("no interrupt in \(phase)")
                } catch is EvolutionInterrupted {
                } catch { Issue.record("\(phase): \(error)") }
                #expect(run.iteration == 0 && run.cursor == 0 && run.optimizer == nil && run.history.isEmpty)
                #expect(Fixture.weights(run.policy) == before, "interrupt in \(phase)")
            }
            try run.step()
            #expect(run.iteration == 1)
        }
    }

    /// Unlabelled prompts join after T_mixin, with pseudo labels whose accuracy is reported.
    @Test func unlabelledPromptsJoinAfterMixin() throws {
        try Runtime.withThreads(1) {
            var s = Fixture.settings(.continuous)
            s.promptVariation = .majority; s.mixin = 0.5; s.epochs = 0.5  // 2 iterations
            let run = try Evolution(suite: Fixture.suite, policy: Fixture.policy, settings: s, seed: 4)
            let r = try run.evolve(2)
            #expect(r[0].record.unlabelled == 0 && r[0].record.pseudoLabelAcc == nil)
            #expect(r[1].record.unlabelled == 2 && r[1].record.pseudoLabelAcc != nil)
            let u = r[1].prompts.filter { $0.pool == "unlabelled" }
            #expect(u.allSatisfy { p in p.labelSource == .majority && p.label == majorityVote(p.responses.map(\.answer)) })
            #expect(u.allSatisfy { p in p.responses.allSatisfy { $0.reward == ($0.answer != nil && $0.answer == p.label ? 1 : 0) } })
        }
    }

    /// With step_check, a response is rewarded (and so can be selected) only when its answer is right
    /// and its steps hold on its own reading; the same seed without the check rewards every right answer.
    @Test func stepCheckRewardsOnlyRightAnswersWithSoundSteps() throws {
        try Runtime.withThreads(1) {
            var s = Fixture.settings(.continuous)
            s.stepCheck = true
            let checked = try Evolution(suite: Fixture.suite, policy: Fixture.policy, settings: s, seed: 6).step()
            s.stepCheck = false
            let plain = try Evolution(suite: Fixture.suite, policy: Fixture.policy, settings: s, seed: 6).step()
            var dropped = 0
            for (c, p) in zip(checked.prompts, plain.prompts) {
                #expect(c.example.id == p.example.id && c.responses.map(\.tokens) == p.responses.map(\.tokens))
                for (rc, rp) in zip(c.responses, p.responses) {
                    let sound = StepVerifier.checkWithoutScene(rc.text, kind: c.example.kind)
                    #expect(rp.reward == (rp.correct ? 1 : 0))
                    #expect(rc.reward == (rc.correct && sound ? 1 : 0))
                    #expect(!rc.selected || rc.reward == 1)
                    dropped += rp.reward == 1 && rc.reward == 0 ? 1 : 0
                }
            }
            #expect(dropped > 0, "the fixture policy should write some right answers with unsound steps")
            #expect(checked.record.correct == plain.record.correct - dropped)
        }
    }

    /// With reading_vote, a right answer is rewarded only when its reading is among the prompt's most
    /// common ones.
    @Test func readingVoteRewardsOnlyRightAnswersThatReadAsMostDo() throws {
        try Runtime.withThreads(1) {
            var s = Fixture.settings(.continuous)
            s.readingVote = true
            let r = try Evolution(suite: Fixture.suite, policy: Fixture.policy, settings: s, seed: 6).step()
            var voted = 0
            for p in r.prompts {
                let common = commonReading(p.responses.map { Chain.reading($0.text) })
                for (rc, ok) in zip(p.responses, common) {
                    #expect(rc.reward == (rc.correct && ok ? 1 : 0))
                    voted += rc.correct && !ok ? 1 : 0
                }
            }
            #expect(voted > 0, "the fixture policy should write some right answers on uncommon readings")
        }
    }
}

@Suite struct GRPOTests {
    @Test func advantagesAreGroupNormalised() {
        let a = groupAdvantages([1, 0, 0, 1])
        #expect(a == [1, -1, -1, 1])
        #expect(groupAdvantages([1, 1, 1]) == [0, 0, 0])
    }

    /// At the sampling policy (ratio 1) the loss is -mean(advantage) and the KL to itself is 0;
    /// its gradient matches a finite difference along the gradient direction.
    @Test func lossAtTheSamplingPolicy() throws {
        try Runtime.withThreads(1) {
            let policy = try Fixture.policy.copy()
            let e = Array(Fixture.suite.examples(.labelled).prefix(2))
            let prompts = try e.enumerated().map { i, x in
                try SamplePrompt(x, stream: UInt64(i))
            }
            let rollouts = try Sampler(model: policy).generate(prompts, k: 2, options: SamplingOptions(temperature: 1, maxTokens: 16), seed: 1)
            var seqs: [TrainingSequence] = [], old: [[Float]] = []
            for (p, rs) in zip(prompts, rollouts) { for r in rs { seqs.append(.init(image: p.image, prompt: p.prompt, response: r.tokens)); old.append(r.logProbs) } }
            let adv: [Float] = [1, -1, 0.5, -0.5]
            let (loss, _) = try GRPOLoss(clip: 0.2, klBeta: 0.1).loss(policy: policy, reference: policy, sequences: seqs, oldLogProbs: old, advantages: adv)
            #expect(abs(loss.item - 0) < 1e-3, "ratio 1: -mean(A) = 0 and KL = 0, got \(loss.item)")
            let adv2: [Float] = [1, 1, 1, 1]
            let (l2, _) = try GRPOLoss(clip: 0.2, klBeta: 0).loss(policy: policy, reference: nil, sequences: seqs, oldLogProbs: old, advantages: adv2)
            #expect(abs(l2.item + 1) < 1e-3)
            // Directional derivative: L(θ + εg) - L(θ - εg) ≈ 2ε‖g‖².
            try l2.backward()
            let params = policy.policyParameters
            let grads = params.map { $0.grad!.array }
            let eps: Float = 1e-3
            var norm2: Double = 0
            for g in grads { for v in g { norm2 += Double(v * v) } }
            func shifted(_ sign: Float) throws -> Float {
                for (p, g) in zip(params, grads) { for i in 0..<p.count { p.ptr[i] += sign * eps * g[i] } }
                defer { for (p, g) in zip(params, grads) { for i in 0..<p.count { p.ptr[i] -= sign * eps * g[i] } } }
                return try Tensor.withoutGrad { try GRPOLoss(clip: 0.2, klBeta: 0).loss(policy: policy, reference: nil, sequences: seqs, oldLogProbs: old, advantages: adv2).loss.item }
            }
            let numeric = Double(try shifted(1) - shifted(-1)) / Double(2 * eps)
            #expect(abs(numeric - norm2) < 0.05 * norm2 + 1e-4, "directional derivative \(numeric) vs ‖g‖² \(norm2)")
        }
    }
}

@Suite struct PRMTests {
    @Test func stepEndsAreSeparatorsAndTheLastToken() throws {
        let t = Tokenizer.standard
        let ids = try t.encodeResponse("read 3 7 ; 3 + 7 = 10 ; answer 10")
        #expect(ProcessRewardModel.stepEnds(ids) == [3, 9, 12])
        #expect(ProcessRewardModel.stepEnds([t.eos]) == [0])
        #expect(ProcessRewardModel.stepEnds([]) == [])
    }

    /// Scoring with each scene encoded once and each prompt's prefix run once (its responses
    /// continue it) gives the bits of a forward over every whole sequence alone: long responses cut
    /// at the model's text limit, empty ones, any batch size and thread count.
    @Test(arguments: [1, 2])
    func sharedPrefixesGiveTheWholeSequencesScores(threads: Int) throws {
        try Runtime.withThreads(threads) {
            let prm = ProcessRewardModel(model: Fixture.policy)
            let e = Array(Fixture.suite.examples(.validation).prefix(3))
            let t = Tokenizer.standard
            let long = Array(repeating: "read 3 ; 3 + 3 = 6", count: 12).joined(separator: " ; ") + " ; answer 6"
            let items = try [(e[0], "read 3 ; answer 3"), (e[0], "answer 7"), (e[1], "read 1 2 ; 1 + 2 = 3 ; answer 3"), (e[2], "answer 1"),
                             (e[0], "count 2"), (e[1], long), (e[2], "")]
                .map { (example: $0.0, tokens: try t.encodeResponse($0.1)) }
            #expect(items[5].tokens.count > prm.model.config.maxText, "the long response exceeds the text limit")
            for batchSize in [1, 2, 64] {
                let shared = try prm.stepScores(items, batchSize: batchSize)
                for (i, item) in items.enumerated() {
                    let seq = TrainingSequence(image: item.example.image, prompt: try t.encodePrompt(question: item.example.question, hasImage: true),
                                               response: item.tokens + [t.pad])
                    let b = try SequenceBatch([seq], config: prm.model.config)
                    let s = try Tensor.withoutGrad { try prm.model.scores(try prm.model.hidden(images: b.images, tokens: b.tokens, batch: 1, length: b.length)) }
                    let direct = ProcessRewardModel.stepEnds(item.tokens).map { seq.prompt.count + $0 }.filter { $0 < b.length }
                        .map { 1 / (1 + exp(-s.ptr[$0])) }
                    #expect(direct.map(\.bitPattern) == shared[i].map(\.bitPattern), "item \(i), batches of \(batchSize): \(direct) vs \(shared[i])")
                }
            }
        }
    }

    /// The dynamics at several temperatures at once equal each measured alone, and scoring only the
    /// prompts whose responses are neither all right nor all wrong gives the metrics that scoring
    /// every response gives.
    @Test func dynamicsAtSeveralTemperaturesAndScoringOnlyWhatRanksAgree() throws {
        let prm = ProcessRewardModel(model: Fixture.policy)
        let examples = Array(Fixture.suite.examples(.validation).prefix(8))
        let sampler = Sampler(model: Fixture.policy)
        let temperatures: [Float] = [0.3, 0.9, 1.5]
        let together = try measureDynamics(generator: sampler, scorer: prm, aggregation: .min, examples: examples, k: 6,
                                           temperatures: temperatures, greedy: true, seed: 5, maxTokens: 24)
        var mixedSeen = false
        for (t, m) in zip(temperatures, together) {
            let alone = try measureDynamics(generator: sampler, scorer: prm, aggregation: .min, examples: examples, k: 6,
                                            temperature: t, greedy: true, seed: 5, maxTokens: 24)
            #expect(alone == m, "T = \(t)")
            // Against scoring every response.
            let prompts = try examples.enumerated().map { try SamplePrompt($1, stream: UInt64($0)) }
            let drawn = try sampler.generate(prompts, k: 6, options: SamplingOptions(temperature: t, maxTokens: 24), seed: 5)
            let greedy = try sampler.generate(prompts, k: 1, options: .greedy(maxTokens: 24), seed: 5)
            let answers = drawn.map { $0.map { AnswerExtractor.extract(ids: $0.tokens) } }
            let scores = try zip(examples, drawn).map { e, rs in try prm.scores(rs.map { (e, $0.tokens) }) }
            mixedSeen = mixedSeen || zip(examples, answers).contains { e, a in Set(a.map { $0 == e.answer }).count == 2 }
            let full = DynamicsMetrics.compute(
                examples: examples, greedyAnswers: greedy.map { AnswerExtractor.extract(ids: $0[0].tokens) }, answers: answers,
                rankScores: scores, ranker: "prm", prmScores: scores, entropies: drawn.map { $0.map(\.meanEntropy) },
                lengths: drawn.map { $0.map(\.tokens.count) },
                stepsCorrect: zip(examples, drawn).map { e, rs in rs.map { StepVerifier.verify(ids: $0.tokens, for: e).stepsCorrect } },
                k: 6, temperature: t)
            #expect(full == m, "T = \(t)")
        }
        #expect(mixedSeen, "some prompt has right and wrong responses, so the PRM ranks something")
    }

    /// Monte-Carlo labels: the last step's label is the response's correctness; training lowers the
    /// loss; calibration counts every aligned step.
    @Test func monteCarloLabelsAndTraining() throws {
        try Runtime.withThreads(1) {
            let examples = Array(Fixture.suite.examples(.labelled).prefix(8))
            let (data, rollouts) = try ProcessRewardModel.monteCarloLabels(
                policy: Fixture.policy, examples: examples, samples: 3, rollouts: 3, kind: .soft, maxTokens: 32, seed: 7)
            #expect(!data.isEmpty && rollouts > 0)
            for r in data {
                #expect(r.labels.count == ProcessRewardModel.stepEnds(r.tokens).count)
                let right = AnswerExtractor.extract(ids: r.tokens) == r.example.answer
                #expect(r.labels.last == (right ? 1 : 0))
                let allowed: [Float] = [0, 1.0 / 3, 2.0 / 3, 1]
                #expect(r.labels.allSatisfy { l in allowed.contains { abs($0 - l) < 1e-6 } })
            }
            let hard = try ProcessRewardModel.monteCarloLabels(
                policy: Fixture.policy, examples: examples, samples: 3, rollouts: 3, kind: .hard, maxTokens: 32, seed: 7).responses
            #expect(hard.map(\.tokens) == data.map(\.tokens))
            for (h, s) in zip(hard, data) { #expect(zip(h.labels, s.labels).allSatisfy { $0 == ($1 > 0 ? 1 : 0) }) }

            var losses: [Float] = []
            let (prm, report) = try ProcessRewardModel.train(from: Fixture.policy, data: data, epochs: 6, lr: 3e-3, batchSize: 8,
                                                             aggregation: .min, seed: 1, progress: { losses.append($0.loss) })
            #expect(losses.suffix(3).reduce(0, +) < losses.prefix(3).reduce(0, +), "PRM loss \(losses)")
            #expect(report.labelAccuracy >= 0 && report.labelAccuracy <= 1 && report.steps == data.reduce(0) { $0 + $1.labels.count })
            let items = data.map { ($0.example, $0.tokens) }
            let steps = try prm.stepScores(items)
            #expect(zip(steps, data).allSatisfy { $0.count == $1.labels.count && $0.allSatisfy { $0 > 0 && $0 < 1 } })
            #expect(try prm.scores(items) == steps.map { $0.min()! })
            let cal = try prm.calibration(items)
            #expect(cal.bins.reduce(0) { $0 + $1.steps } == cal.steps && cal.steps > 0)
            // NaN weights give NaN scores: calibration leaves them out instead of crashing.
            let broken = ProcessRewardModel(model: try Fixture.policy.copy())
            for (_, t) in broken.model.namedParameters { t.ptr[0] = .nan }
            #expect(try broken.calibration(items).steps == 0)
        }
    }
}

/// `step` and the workbench's `sample` judge responses through one function, `judge`: re-judging a
/// step's own rollouts gives the rewards and the selection the step recorded.
@Suite struct JudgingTests {
    @Test(arguments: [SelectionRule.allCorrect, .oracleSteps])
    func judgingAStepsRolloutsAgainGivesWhatTheStepRecorded(rule: SelectionRule) throws {
        try Runtime.withThreads(1) {
            var s = Fixture.settings(.continuous)
            s.selection = rule
            s.stepCheck = true
            s.readingVote = true
            let run = try Evolution(suite: Fixture.suite, policy: Fixture.policy, settings: s, seed: 4)
            let r = try run.step()
            #expect(!r.prompts.isEmpty)
            for p in r.prompts {
                let rollouts = p.responses.map { Rollout(tokens: $0.tokens, logProbs: $0.logProbs, meanEntropy: $0.entropy, finished: $0.finished) }
                var rng = RNG(seed: 1)  // neither rule draws
                let j = s.judge(rollouts, for: p.example, label: p.label, prmScores: nil, tokenizer: .standard, rng: &rng)
                #expect(j.rewards == p.responses.map(\.reward))
                #expect(j.kept == p.responses.indices.filter { p.responses[$0].selected })
                #expect(j.kept.allSatisfy { j.rewards[$0] == 1 })
                if rule == .oracleSteps {
                    #expect(j.kept.allSatisfy { StepVerifier.verify(j.texts[$0], for: p.example).stepsCorrect })
                }
            }
            // The step checks are part of the reward: no response with a failing check is rewarded.
            for p in r.prompts {
                for resp in p.responses where resp.reward > 0 {
                    #expect(StepVerifier.checkWithoutScene(steps: Chain.parse(resp.text), kind: p.example.kind))
                }
            }
        }
    }
}

@Suite struct RandomStreamTests {
    /// Two purposes on one tag would draw the same numbers.
    @Test func everyStreamHasItsOwnTag() {
        #expect(Set(RandomStream.allCases.map(\.rawValue)).count == RandomStream.allCases.count)
    }
}

/// Every objective trains through `AdamW.safeUpdate`: an update that would make the weights
/// non-finite (here a NaN learning rate) is undone and stops training with `NonFiniteLoss`.
@Suite struct NonFiniteUpdateTests {
    @Test(arguments: [Recipe.continuous, .grpo, .sft, .restEM])
    func aStepWhoseUpdateGoesNonFiniteStopsAndLeavesThePolicy(recipe: Recipe) throws {
        try Runtime.withThreads(1) {
            var s = Fixture.settings(recipe)
            s.lr = .nan
            let run = try Evolution(suite: Fixture.suite, policy: Fixture.policy, settings: s, seed: 3)
            let before = Fixture.weights(run.policy)
            do {
                try run.step()
                Issue.record("\(recipe.rawValue): a NaN update was accepted")
            } catch let e as NonFiniteLoss {
                #expect(e.description.contains("restored"))
            }
            #expect(Fixture.weights(run.policy) == before && run.iteration == 0)
        }
    }

    @Test func prmTrainingStopsOnANonFiniteUpdate() throws {
        try Runtime.withThreads(1) {
            let examples = Array(Fixture.suite.examples(.labelled).prefix(4))
            let (data, _) = try ProcessRewardModel.monteCarloLabels(
                policy: Fixture.policy, examples: examples, samples: 2, rollouts: 2, kind: .soft, maxTokens: 16, seed: 7)
            let before = Fixture.weights(Fixture.policy)
            #expect(throws: NonFiniteLoss.self) {
                _ = try ProcessRewardModel.train(from: Fixture.policy, data: data, epochs: 1, lr: .nan, batchSize: 4, aggregation: .min, seed: 1)
            }
            #expect(Fixture.weights(Fixture.policy) == before, "the PRM trains a copy")
        }
    }
}

/// The `PolicyTrainer` contract, on the engine's trainer; a trainer that breaks it is named.
@Suite struct TrainerConformanceTests {
    static func data() throws -> ([TrainingSequence], [RolloutGroup]) {
        let seeds = Array(Fixture.suite.examples(.seed).prefix(8))
        let sequences = try seeds.compactMap { try TrainingSequence($0) }
        let examples = Array(Fixture.suite.examples(.labelled).prefix(4))
        let prompts = try examples.enumerated().map { try SamplePrompt($1, stream: UInt64($0)) }
        let drawn = try Sampler(model: Fixture.policy).generate(prompts, k: 4, options: SamplingOptions(temperature: 1, maxTokens: 16), seed: 5)
        // Rewards that differ within each group, so every group has an advantage.
        let groups = zip(prompts, drawn).map { p, rs in RolloutGroup(image: p.image, prompt: p.prompt, rollouts: rs, rewards: [1, 0, 0, 1]) }
        return (sequences, groups)
    }

    @Test func theEnginesTrainerConforms() throws {
        try Runtime.withThreads(1) {
            let (sequences, groups) = try Self.data()
            let v = try TrainerConformance.violations({ NativeTrainer(policy: try Fixture.policy.copy(), initialPolicy: try Fixture.policy.copy()) },
                                                      sequences: sequences, groups: groups)
            #expect(v.isEmpty, "\(v)")
        }
    }

    /// Forgets to put the weights back on restore.
    final class Forgetful: PolicyTrainer {
        let base: NativeTrainer
        init(_ base: NativeTrainer) { self.base = base }
        func trainSFT(_ s: [TrainingSequence], carry: CarryRule, lr: Float, batchSize: Int, epochs: Int, seed: UInt64, shouldStop: (() -> Bool)?) throws -> TrainReport? {
            try base.trainSFT(s, carry: carry, lr: lr, batchSize: batchSize, epochs: epochs, seed: seed, shouldStop: shouldStop)
        }
        func trainGRPO(_ g: [RolloutGroup], objective: GRPOLoss, lr: Float, promptsPerUpdate: Int, seed: UInt64, shouldStop: (() -> Bool)?) throws -> TrainReport {
            try base.trainGRPO(g, objective: objective, lr: lr, promptsPerUpdate: promptsPerUpdate, seed: seed, shouldStop: shouldStop)
        }
        struct NoRestore: TrainerSnapshot { func restore() {} }
        func snapshot() throws -> any TrainerSnapshot { NoRestore() }
        func stateDigest() throws -> String { try base.stateDigest() }
    }

    @Test func aTrainerThatBreaksTheContractIsNamed() throws {
        try Runtime.withThreads(1) {
            let (sequences, groups) = try Self.data()
            let v = try TrainerConformance.violations({ Forgetful(NativeTrainer(policy: try Fixture.policy.copy(), initialPolicy: try Fixture.policy.copy())) },
                                                      sequences: sequences, groups: groups)
            #expect(v.contains("restoring a snapshot did not give back the state"), "\(v)")
        }
    }
}
