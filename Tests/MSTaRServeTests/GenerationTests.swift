import Foundation
import MSTaR
import MSTaRModel
import MSTaRServe
import MSTaRTasks
import MSTaRTensor
import Testing

@Suite struct GenerationTests {
    /// Requests of several shapes: with and without an image, other seeds, lengths and temperatures.
    func requests(_ v: RequestValidator) throws -> [GenerationRequest] {
        let image = Served.dataURL(try Served.canvas(seed: 10)), other = Served.dataURL(try Served.canvas(seed: 11))
        return try [
            Served.chatBody(imageURL: image, extra: ["n": 4, "seed": 1, "max_tokens": 24]),
            Served.chatBody(imageURL: other, extra: ["n": 4, "seed": 2, "max_tokens": 24]),
            Served.chatBody(imageURL: image, extra: ["n": 4, "seed": 3, "max_tokens": 24]),
            Served.chatBody(question: "how many digits are greater than 5 ?", imageURL: other, extra: ["n": 4, "seed": 1, "max_tokens": 24]),
            Served.chatBody(question: "given 3 4 what is the sum ?", extra: ["n": 2, "seed": 5, "temperature": 0.5]),
            Served.chatBody(imageURL: image, extra: ["n": 3, "seed": 6, "temperature": 0]),
        ].map { try Served.request($0, validator: v) }
    }

    @Test func choicesAreTheSamplerSamplesOfThePromptWithTheRequestSeedAsItsStream() throws {
        let v = try Served.validator()
        let model = try Served.policy()
        for r in try requests(v) {
            let direct = try Sampler(model: model).generate([SamplePrompt(image: r.prompt.image, prompt: r.prompt.prompt, stream: r.seed)],
                                                            k: r.n, options: r.options, seed: ServeSampling.callSeed)[0]
            let served = try GenerationQueue.sample([r], with: Sampler(model: model))[0]
            #expect(served == direct)
            #expect(served.count == r.n && served.allSatisfy { !$0.tokens.isEmpty && $0.tokens.count <= r.options.maxTokens })
        }
    }

    @Test func aBatchGivesEachRequestTheBitsItGetsAlone() throws {
        let v = try Served.validator()
        let model = try Served.policy()
        let rs = try requests(v)
        let plan = GenerationQueue.batchPlan(rs, maxSamples: 512)
        // The first four share n, temperature, max_tokens and prompt length (the counting question is as long).
        #expect(plan.first == [0, 1, 2, 3])
        #expect(plan.flatMap { $0 }.sorted() == Array(rs.indices))
        for group in plan {
            let together = try GenerationQueue.sample(group.map { rs[$0] }, with: Sampler(model: model))
            for (i, out) in zip(group, together) {
                #expect(out == (try GenerationQueue.sample([rs[i]], with: Sampler(model: model))[0]), "request \(i)")
            }
        }
        // A cap on samples per call splits a group, in order.
        #expect(GenerationQueue.batchPlan(Array(rs.prefix(4)), maxSamples: 8) == [[0, 1], [2, 3]])
    }

    @Test func concurrentRequestsThroughTheQueueGetWhatTheyGetAlone() async throws {
        let v = try Served.validator()
        let rs = try requests(v) + requests(v)
        let alone = try rs.map { try GenerationQueue.sample([$0], with: Sampler(model: try Served.policy())) [0] }
        let queue = GenerationQueue(policy: try Served.policy())
        // The model held until every request waits, so that they are batched as `batchPlan` says.
        let release = queue.hold()
        let together = try await withThrowingTaskGroup(of: (Int, [Rollout]).self) { group in
            for (i, r) in rs.enumerated() { group.addTask { (i, try await queue.generate(r)) } }
            let deadline = Date().addingTimeInterval(30)
            while queue.waiting < rs.count && Date() < deadline { try await Task.sleep(nanoseconds: 2_000_000) }
            release()
            var out = [[Rollout]](repeating: [], count: rs.count)
            for try await (i, rollouts) in group { out[i] = rollouts }
            return out
        }
        #expect(together == alone)
        #expect(queue.callSizes == GenerationQueue.batchPlan(rs, maxSamples: 512).map(\.count))
        #expect(queue.callSizes.count < rs.count)
    }

    @Test func stopStringsCutTheContentAndTheTokens() throws {
        let v = try Served.validator()
        let t = Tokenizer.standard
        var r = try Served.request(try Served.chatBody(extra: ["stop": ["answer", "zzz"], "logprobs": true, "return_token_ids": true]), validator: v)
        let tokens = try t.encode("read 3 4 ; 3 + 4 = 7 ; answer 7") + [t.eos]
        let rollout = Rollout(tokens: tokens, logProbs: tokens.indices.map { -Float($0) / 10 }, meanEntropy: 0, finished: true)
        let cut = ServeSampling.choices([rollout], for: r)[0]
        #expect(cut.choice.message.content == "read 3 4 ; 3 + 4 = 7 ; ")
        #expect(cut.choice.finish_reason == "stop" && cut.tokens == 11)
        #expect(cut.choice.token_ids == Array(tokens.prefix(11)) && cut.choice.logprobs?.content.count == 11)
        r.stop = []
        let whole = ServeSampling.choices([rollout], for: r)[0]
        #expect(whole.choice.message.content == "read 3 4 ; 3 + 4 = 7 ; answer 7" && whole.tokens == tokens.count)
        #expect(whole.choice.logprobs?.content.last?.token == "<eos>")
        let unfinished = Rollout(tokens: Array(tokens.dropLast()), logProbs: Array(rollout.logProbs.dropLast()), meanEntropy: 0, finished: false)
        #expect(ServeSampling.choices([unfinished], for: r)[0].choice.finish_reason == "length")
        let response = ServeSampling.response([rollout, unfinished], for: r, model: "m", id: "x", created: 0)
        #expect(response.usage == Usage(prompt_tokens: r.prompt.prompt.count, completion_tokens: 2 * tokens.count - 1,
                                        total_tokens: r.prompt.prompt.count + 2 * tokens.count - 1))
    }

    @Test func pauseRefusesNewWorkAndUpdateWeightsSwapsOnlyAGoodCheckpoint() async throws {
        let v = try Served.validator()
        let r = try requests(v)[0]
        let queue = GenerationQueue(policy: try Served.policy())
        let before = try await queue.generate(r)
        await #expect(throws: APIError.self) { try await queue.updateWeights(path: Served.replay) }  // not paused: 409
        await queue.pause()
        do { _ = try await queue.generate(r); Issue.record("generated while paused") } catch let e as APIError { #expect(e.status == 503) }
        // A checkpoint of another shape: a narrower policy, saved to a temporary folder.
        var narrow = try Served.policy().config
        narrow.dModel = 64; narrow.mlpHidden = 128
        var rng = RNG(seed: 1)
        let other = FileManager.default.temporaryDirectory.appendingPathComponent("mstar-serve-narrow-\(UInt64.random(in: 0 ... .max))")
        defer { try? FileManager.default.removeItem(at: other) }
        try Checkpoint.save(model: try VisionLanguageModel(narrow, rng: &rng), state: TrainingState(), to: other)
        for (bad, words) in [("/nonexistent/checkpoint", "not a checkpoint"), (Served.root.appendingPathComponent("docs").path, "not a checkpoint"),
                             (other.path, "another model shape")] {
            do { try await queue.updateWeights(path: bad); Issue.record("loaded \(bad)") } catch let e as APIError {
                #expect(e.status == 400 && e.message.contains(words) && e.message.contains("old weights stay"), "\(e.message)")
            }
        }
        queue.resume()
        #expect(try await queue.generate(r) == before)  // the old weights stayed
        await queue.pause()
        try await queue.updateWeights(path: Served.replay)
        queue.resume()
        let after = try await queue.generate(r)
        #expect(after != before)
        #expect(after == (try GenerationQueue.sample([r], with: Sampler(model: try Served.policy(Served.replay)))[0]))
    }

    @Test func poolingScoresEachStepWithThePRM() async throws {
        let policy = try Served.policy()
        let prm = ProcessRewardModel(model: try Served.policy())
        let state = ServeState(validator: try Served.validator(), queue: GenerationQueue(policy: policy, prm: prm))
        let image = try Served.roundTripped(try Served.canvas(seed: 12))
        let body = try JSONSerialization.data(withJSONObject: [
            "model": "pre-evolved", "task": "token_classify",
            "messages": [
                ["role": "user", "content": [["type": "image_url", "image_url": ["url": Served.dataURL(image)]],
                                             ["type": "text", "text": "what is the sum of the digits ?"]]],
                ["role": "assistant", "content": "read 3 4 ; 3 + 4 = 7 ; answer 7"],
            ],
        ] as [String: Any])
        let out = try await state.queue.stepScores(question: "what is the sum of the digits ?", image: image,
                                                   response: try Tokenizer.standard.encode("read 3 4 ; 3 + 4 = 7 ; answer 7 <eos>"))
        let example = Example(id: "x", family: .arithmetic, level: .one, kind: .sum, question: "what is the sum of the digits ?", image: image,
                              answer: 7, chain: "", annotation: .none, facts: SceneFacts(reads: [[3, 4]]))
        let direct = try prm.stepScores([(example, try Tokenizer.standard.encode("read 3 4 ; 3 + 4 = 7 ; answer 7 <eos>"))])[0]
        #expect(out == direct && out.count == 3)
        let response = try await ServeRoutes.pool(body, state)
        #expect(response.data[0].data == direct.map { [1 - $0, $0] })
        // Without a PRM: a message that says how to start one.
        let none = ServeState(validator: try Served.validator(), queue: GenerationQueue(policy: policy))
        do { _ = try await ServeRoutes.pool(body, none); Issue.record("pooled without a PRM") } catch let e as APIError {
            #expect(e.status == 404 && e.message.contains("--prm"))
        }
    }

    @Test func withAStepTagPoolingScoresOneStepPerTag() async throws {
        let prm = ProcessRewardModel(model: try Served.policy())
        let state = ServeState(validator: try Served.validator(), queue: GenerationQueue(policy: try Served.policy(), prm: prm), stepTag: "<extra_0>")
        let image = try Served.roundTripped(try Served.canvas(seed: 12))
        func body(_ response: String, system: Bool = false) throws -> Data {
            var messages: [[String: Any]] = [
                ["role": "user", "content": [["type": "image_url", "image_url": ["url": Served.dataURL(image)]],
                                             ["type": "text", "text": "what is the sum of the digits ?"]]],
                ["role": "assistant", "content": response],
            ]
            if system { messages.insert(["role": "system", "content": "Please reason step by step."], at: 0) }
            return try JSONSerialization.data(withJSONObject: ["model": "pre-evolved", "messages": messages] as [String: Any])
        }
        let direct = try await state.queue.stepScores(question: "what is the sum of the digits ?", image: image,
                                                      response: try Tokenizer.standard.encode("read 3 4 ; 3 + 4 = 7 ; answer 7 <eos>"))
        // The steps as vLLM's step pooling takes them: each followed by the tag; a system message first is read past.
        for b in [try body("read 3 4<extra_0>3 + 4 = 7<extra_0>answer 7<extra_0>"), try body("read 3 4 <extra_0> 3 + 4 = 7<extra_0>answer 7<extra_0>\n", system: true)] {
            #expect(try await ServeRoutes.pool(b, state).data[0].data == direct.map { [1 - $0, $0] })
        }
        // Not the tag layout, or tags that do not match the chain's steps: one line each.
        for (bad, says) in [("read 3 4 ; 3 + 4 = 7 ; answer 7", "each followed by <extra_0>"), ("read 3 4<extra_0><extra_0>answer 7<extra_0>", "empty"),
                            ("read 3 4 ; 3 + 4 = 7<extra_0>answer 7<extra_0>", "2 tagged steps but its chain has 3")] {
            do { _ = try await ServeRoutes.pool(try body(bad), state); Issue.record("pooled \(bad)") } catch let e as APIError {
                #expect(e.status == 400 && e.message.contains(says), "\(e.message)")
            }
        }
    }
}
