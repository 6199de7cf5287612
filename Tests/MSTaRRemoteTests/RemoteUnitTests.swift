import Foundation
import MSTaRModel
import MSTaRRemote
import MSTaRTasks
import MSTaRTensor
import Testing

/// The remote backend's pieces without a server: seeds, token limits, the request body, reading
/// answers, and which failures are retried.
@Suite struct RemoteUnitTests {
    let tokenizer = Tokenizer.standard

    @Test func requestSeedMakesTheServersStreamTheSamplers() {
        var r = RNG(seed: 3)
        for _ in 0..<200 {
            let seed = r.next(), stream = r.next() % 4 == 0 ? UInt64(r.next() % 100) : r.next(), j = Int(r.next() % 64)
            let served = Sampler.sampleRNG(seed: 0, stream: SeedMapping.requestSeed(seed: seed, stream: stream), sample: j)
            #expect(served == Sampler.sampleRNG(seed: seed, stream: stream, sample: j))
        }
        // Distinct calls and prompts get distinct request seeds; the fallback's seeds differ per sample.
        #expect(SeedMapping.requestSeed(seed: 1, stream: 0) != SeedMapping.requestSeed(seed: 0, stream: 1))
        let fb = (0..<16).map { SeedMapping.fallbackSeed(requestSeed: 9, sample: $0) }
        #expect(Set(fb).count == 16)
        #expect(SeedMapping.wire(UInt64.max) == -1)
    }

    func prompt(_ words: Int, stream: UInt64 = 0) throws -> SamplePrompt {
        let q = "given " + (0..<words).map { String($0 % 10) }.joined(separator: " ") + " what is the sum ?"
        return SamplePrompt(image: nil, prompt: try tokenizer.encodePrompt(question: q, hasImage: true), stream: stream)
    }

    @Test func maxTokensFollowTheSamplersChunks() throws {
        let short = try prompt(2), long = try prompt(40)
        let o = SamplingOptions(maxTokens: 48, chunk: 8)
        // k = 4: two prompts a chunk. The long prompt caps its chunk's neighbour, not the next chunk.
        let limits = RemoteGenerator.maxTokens(for: [short, long, short, short], k: 4, options: o, maxModelLength: 72)
        let room = 72 - long.prompt.count
        #expect(limits == [room, room, 48, 48])
        // Unknown max_model_len: max_tokens as asked.
        #expect(RemoteGenerator.maxTokens(for: [short, long], k: 4, options: o, maxModelLength: nil) == [48, 48])
        // Never below 1, never past a prompt's own room.
        #expect(RemoteGenerator.maxTokens(for: [short], k: 1, options: o, maxModelLength: short.prompt.count) == [1])
    }

    @Test func theBodyNamesEverySamplingField() throws {
        let canvas = try Canvas(height: Canvas.sceneHeight, width: Canvas.sceneWidth,
                                pixels: (0..<(Canvas.sceneHeight * Canvas.sceneWidth)).map { Float($0 % 7) / 7.3 })
        let body = ChatCompletion.body(model: "m", question: "what is the sum ?", image: canvas, n: 5,
                                       options: SamplingOptions(temperature: 0.7, topP: 0.9, maxTokens: 30), maxTokens: 21, seed: .max)
        let o = try #require(try JSONSerialization.jsonObject(with: body) as? [String: Any])
        #expect(o["model"] as? String == "m" && o["n"] as? Int == 5 && o["max_tokens"] as? Int == 21 && o["seed"] as? Int == -1)
        #expect(Float(o["temperature"] as! Double) == 0.7 && Float(o["top_p"] as! Double) == 0.9)
        #expect(o["logprobs"] as? Bool == true && o["top_logprobs"] as? Int == 0 && o["return_token_ids"] as? Bool == true)
        for key in ["presence_penalty", "frequency_penalty", "repetition_penalty", "top_k", "min_p", "min_tokens", "ignore_eos", "stream"] {
            #expect(o[key] != nil, "\(key) is sent")
        }
        let messages = try #require(o["messages"] as? [[String: Any]])
        let parts = try #require(messages.first?["content"] as? [[String: Any]])
        #expect(messages.count == 1 && messages[0]["role"] as? String == "user")
        #expect(parts.count == 2 && parts[1]["text"] as? String == "what is the sum ?")
        // The image: an 8-bit PNG any server reads, carrying the exact pixels for mstar serve.
        let url = try #require((parts[0]["image_url"] as? [String: Any])?["url"] as? String)
        #expect(url.hasPrefix("data:image/png;base64,"))
        let png = try PNG.decode([UInt8](try #require(Data(base64Encoded: String(url.dropFirst("data:image/png;base64,".count))))))
        #expect(png.grey == canvas.bytes && png.exact == canvas.pixels)
        // The question comes back from the prompt's ids.
        #expect(ChatCompletion.question(of: try tokenizer.encodePrompt(question: "what is the sum ?", hasImage: true), tokenizer: tokenizer)
                == "what is the sum ?")
    }

    func answer(_ choices: [[String: Any]]) throws -> Data { try JSONSerialization.data(withJSONObject: ["choices": choices]) }
    func lp(_ xs: [Double]) -> [String: Any] { ["content": xs.map { ["token": "x", "logprob": $0] }] }

    @Test func answersBecomeRollouts() throws {
        let eos = tokenizer.eos, seven = try tokenizer.encode("answer 7")
        // token_ids with <eos> (mstar serve), mean_entropy read.
        var rs = try ChatCompletion.rollouts(from: try answer([["index": 0, "finish_reason": "stop", "token_ids": seven + [eos],
                                                                "logprobs": lp([-0.5, -0.25, -0.125]), "mean_entropy": 0.75]]),
                                             n: 1, maxTokens: 10, tokenizer: tokenizer)
        #expect(rs == [Rollout(tokens: seven + [eos], logProbs: [-0.5, -0.25, -0.125], meanEntropy: 0.75, finished: true)])
        // Content only, "stop" without <eos>: tokenized, <eos> appended with log-prob 0; entropy estimated.
        rs = try ChatCompletion.rollouts(from: try answer([["finish_reason": "stop", "message": ["content": "answer 7"],
                                                            "logprobs": lp([-0.5, -0.25])]]), n: 1, maxTokens: 10, tokenizer: tokenizer)
        #expect(rs[0].tokens == seven + [eos] && rs[0].logProbs == [-0.5, -0.25, 0] && rs[0].finished && rs[0].meanEntropy == 0.25)
        // "length": not finished. More choices than n: the first n by index.
        rs = try ChatCompletion.rollouts(from: try answer([["index": 1, "finish_reason": "length", "token_ids": [seven[0]], "logprobs": lp([-2])],
                                                           ["index": 0, "finish_reason": "length", "token_ids": seven, "logprobs": lp([-1, -1])]]),
                                         n: 1, maxTokens: 2, tokenizer: tokenizer)
        #expect(rs.count == 1 && rs[0].tokens == seven && !rs[0].finished)
        // Malformed answers are one-line errors.
        let bad: [(Data, String)] = [
            (Data("{not json".utf8), "not a chat completion"),
            (try JSONSerialization.data(withJSONObject: ["id": "x"]), "no \"choices\""),
            (try answer([["finish_reason": "stop", "token_ids": seven]]), "no logprobs"),
            (try answer([["finish_reason": "stop", "token_ids": seven, "logprobs": lp([0.5, -1])]]), "above 0"),
            (try answer([["finish_reason": "stop", "token_ids": [100_000], "logprobs": lp([-1])]]), "outside the vocabulary"),
            (try answer([["finish_reason": "abort", "token_ids": seven, "logprobs": lp([-1, -1])]]), "finish_reason"),
            (try answer([["finish_reason": "length", "token_ids": seven, "logprobs": lp([-1])]]), "1 log-probs for 2 tokens"),
            (try answer([["finish_reason": "length", "token_ids": seven + seven, "logprobs": lp([-1, -1, -1, -1])]]), "max_tokens was 3"),
            (try answer([["finish_reason": "length", "token_ids": [eos, seven[0]], "logprobs": lp([-1, -1])]]), "<eos> before the end"),
            (try answer([["finish_reason": "stop", "message": ["content": "zebra"], "logprobs": lp([-1])]]), "does not know"),
        ]
        for (data, expected) in bad {
            do {
                _ = try ChatCompletion.rollouts(from: data, n: 1, maxTokens: 3, tokenizer: tokenizer)
                Issue.record("accepted an answer that should fail with \(expected)")
            } catch {
                #expect("\(error)".contains(expected), "\(error)")
                #expect(!"\(error)".contains("\n"))
            }
        }
    }

    @Test func noMutatedAnswerCrashes() throws {
        // Untrusted input: every byte-level mutation of a good answer is read or refused with a RemoteError.
        let seven = try tokenizer.encode("answer 7")
        let good = try answer([["index": 0, "finish_reason": "stop", "token_ids": seven + [tokenizer.eos],
                                "logprobs": lp([-0.5, -0.25, -0.125]), "mean_entropy": 0.75],
                               ["index": 1, "finish_reason": "length", "message": ["content": "answer"], "logprobs": lp([-1])]])
        var rng = RNG(seed: 17)
        for _ in 0..<3000 {
            var bytes = [UInt8](good)
            for _ in 0..<(1 + Int(rng.next() % 4)) {
                let i = Int(rng.next() % UInt64(bytes.count))
                switch rng.next() % 3 {
                case 0: bytes[i] = UInt8(truncatingIfNeeded: rng.next())
                case 1: bytes.remove(at: i)
                default:
                    let pool = Array("0-9e[]{},:".utf8)
                    bytes.insert(pool[Int(rng.next() % UInt64(pool.count))], at: i)
                }
            }
            do {
                let rs = try ChatCompletion.rollouts(from: Data(bytes), n: 2, maxTokens: 8, tokenizer: tokenizer)
                #expect(rs.count <= 2 && rs.allSatisfy { $0.tokens.count == $0.logProbs.count && $0.tokens.count <= 8 })
            } catch is RemoteError {
            } catch {
                Issue.record("an error other than RemoteError: \(error)")
            }
        }
    }

    @Test func poolingScoresAreTheGoodProbabilities() throws {
        let data = try JSONSerialization.data(withJSONObject: ["data": [["index": 0, "data": [[0.25, 0.75], [0.5, 0.5]]]]])
        #expect(try RemoteStepScorer.scores(from: data) == [0.75, 0.5])
        for bad in [["data": [["data": [[0.25]]]]], ["data": [["data": [[2.0, -1.0]]]]], ["object": "list"]] as [[String: Any]] {
            #expect(throws: RemoteError.self) { try RemoteStepScorer.scores(from: try JSONSerialization.data(withJSONObject: bad)) }
        }
        let body = try #require(try JSONSerialization.jsonObject(with: RemoteStepScorer.body(model: "prm", question: "q ?", image: nil,
                                                                                            response: "answer 7")) as? [String: Any])
        #expect(body["task"] as? String == "token_classify" && (body["messages"] as? [Any])?.count == 2)
    }

    @Test func stepTaggingFollowsEachStepWithThePRMsTag() {
        let qwen = StepTagging(tag: "<extra_0>")
        #expect(qwen.tagged("Step 1: look.\nStep 2: add.\nThe answer is 5.") == ("Step 1: look.<extra_0>Step 2: add.\nThe answer is 5.<extra_0>", 2))
        #expect(qwen.tagged("one\r\n\ntwo") == ("one<extra_0>two<extra_0>", 2))
        #expect(qwen.tagged("  ") == ("<extra_0>", 1))  // no text is one empty step, still judged
        let chain = StepTagging(tag: "<extra_0>", split: ";")
        #expect(chain.tagged("read 3 4 ; 3 + 4 = 7 ; answer 7") == ("read 3 4<extra_0>3 + 4 = 7<extra_0>answer 7<extra_0>", 3))
        #expect(StepTagging(tag: "ки", split: "\n\n").tagged("a\nb\n\nc") == ("a\nbкиcки", 2))
        // Without a tag the response goes as written and the server finds the steps.
        #expect(StepTagging().tagged("read 3 4 ; answer 7") == ("read 3 4 ; answer 7", nil))
    }

    @Test func transientFailuresAreRetriedWithBackoff() {
        for s in [429, 500, 502, 503, 504] { #expect(RetryPolicy.isTransient(status: s)) }
        for s in [400, 401, 404, 413, 422, 501] { #expect(!RetryPolicy.isTransient(status: s)) }
        #expect(RetryPolicy.isTransient(status: nil))  // no answer: connection refused or reset
        let p = RetryPolicy(maxTries: 4, backoff: 0.25, maxBackoff: 1.5)
        #expect([1, 2, 3, 4].map { p.delay(afterTry: $0) } == [0.25, 0.5, 1, 1.5])
        #expect(p.delay(afterTry: 1, retryAfter: "1") == 1)
        #expect(p.delay(afterTry: 1, retryAfter: "3600") == 1.5)
        #expect(p.delay(afterTry: 2, retryAfter: "soon") == 0.5)
        #expect(RetryPolicy(maxTries: 0, backoff: 1, maxBackoff: 1).maxTries == 1)
    }

    @Test func settingsFindTheServersRoot() throws {
        let s = RemoteSettings(url: try #require(URL(string: "http://127.0.0.1:8000/v1/")), model: "m")
        #expect(s.root.absoluteString == "http://127.0.0.1:8000")
    }
}
