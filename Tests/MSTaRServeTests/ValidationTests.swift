import Foundation
import MSTaRModel
import MSTaRServe
import MSTaRTasks
import Testing

@Suite struct ValidationTests {
    /// The error `body` is refused with.
    func refusal(_ body: Data, _ v: RequestValidator) -> APIError? {
        do { _ = try Served.request(body, validator: v); return nil } catch { return error as? APIError }
    }

    @Test func aGoodRequestResolvesEveryField() throws {
        let v = try Served.validator()
        let image = try Served.canvas(seed: 1)
        let body = try Served.chatBody(imageURL: Served.dataURL(image), extra: [
            "n": 3, "temperature": 0.7, "top_p": 0.9, "max_tokens": 20, "seed": 42, "logprobs": true, "top_logprobs": 0,
            "return_token_ids": true, "stop": "answer", "presence_penalty": 0, "frequency_penalty": 0, "top_k": -1, "logit_bias": [:],
            "tools": [], "response_format": ["type": "text"], "stream": false, "user": "ignored", "metadata": ["a": 1]])
        let r = try Served.request(body, validator: v)
        #expect(r.n == 3 && r.seed == 42 && r.logprobs && r.returnTokenIDs && r.stop == ["answer"])
        #expect(r.options.temperature == 0.7 && r.options.topP == 0.9 && r.options.maxTokens == 20)
        let expected = try Served.roundTripped(image)
        #expect(r.prompt.stream == 42 && r.prompt.image == expected)
        #expect(r.prompt.prompt == (try Tokenizer.standard.encodePrompt(question: "what is the sum of the digits ?", hasImage: true)))
        // Defaults: one choice at temperature 1, as many tokens as the model has room for, a random seed.
        let plain = try v.validate(try v.decode(ChatCompletionRequest.self, from: Data(
            #"{"messages":[{"role":"user","content":"given 3 4 what is the sum ?"}]}"#.utf8)), randomSeed: { 7 })
        #expect(plain.n == 1 && plain.seed == 7 && plain.options.temperature == 1 && plain.prompt.image == nil)
        #expect(plain.options.maxTokens == v.model.maxModelLength - plain.prompt.prompt.count)
    }

    @Test func eachBadRequestGetsItsOneLineError() throws {
        let v = try Served.validator()
        let q = "what is the sum of the digits ?"
        let cases: [(Data, Int, String)] = [
            (Data("{not json".utf8), 400, "not valid JSON"),
            (Data("[1, 2]".utf8), 400, "chat completion request"),
            (Data(#"{"model":"pre-evolved"}"#.utf8), 400, "missing \"messages\""),
            (Data(#"{"messages":[{"role":"user","content":"what is the sum ?"}],"n":"two"}"#.utf8), 400, "wrong type at n"),
            (try Served.chatBody(extra: ["model": "gpt-4"]), 404, "does not exist"),
            (try Served.chatBody(extra: ["n": 0]), 400, "n is 0"),
            (try Served.chatBody(extra: ["n": 1000]), 400, "n is 1000"),
            (try Served.chatBody(extra: ["temperature": 2.5]), 400, "temperature is 2.5"),
            (try Served.chatBody(extra: ["top_p": 0]), 400, "top_p is 0"),
            (try Served.chatBody(extra: ["max_tokens": 0]), 400, "max_tokens is 0"),
            (try Served.chatBody(extra: ["max_tokens": 10_000]), 400, "max_tokens is 10000"),
            (try Served.chatBody(extra: ["stream": true]), 400, "stream"),
            (try Served.chatBody(extra: ["top_logprobs": 5]), 400, "top_logprobs is 5"),
            (try Served.chatBody(extra: ["stop": ["a", "b", "c", "d", "e"]]), 400, "stop has 5"),
            (try Served.chatBody(extra: ["seed": 1.5]), 400, "does not fit its field"),
            (try Served.chatBody(extra: ["presence_penalty": 0.5]), 400, "presence_penalty is not supported"),
            (try Served.chatBody(extra: ["top_k": 5]), 400, "top_k is not supported"),
            (try Served.chatBody(extra: ["logit_bias": ["7": 5]]), 400, "logit_bias is not supported"),
            (try Served.chatBody(extra: ["tools": [["type": "function"]]]), 400, "tools is not supported"),
            (try Served.chatBody(extra: ["response_format": ["type": "json_object"]]), 400, "response_format is not supported"),
            (try Served.chatBody(question: "what is the meaning of life ?"), 400, "\"meaning\""),
            (try Served.chatBody(question: "<eos> what"), 400, "special token"),
            (try Served.chatBody(question: "  "), 400, "empty"),
            (try Served.chatBody(question: Array(repeating: "digits", count: 80).joined(separator: " ")), 400, "max_model_len"),
            (try Served.chatBody(imageURL: Served.dataURL(try Served.canvas(seed: 2, height: 20, width: 20))), 400, "20x20 pixels"),
            (try Served.chatBody(imageURL: "data:image/png;base64,AAAA"), 400, "not a PNG"),
            (try Served.chatBody(imageURL: "data:image/jpeg;base64,AAAA"), 400, "PNG"),
            (try Served.chatBody(imageURL: "https://example.com/a.png"), 400, "remote images"),
            (try Served.chatBody(imageURL: "/etc/passwd"), 400, "--allowed-local-media-path"),
            (Data(#"{"messages":[{"role":"system","content":"x"},{"role":"user","content":"what ?"}]}"#.utf8), 400, "exactly one message"),
            (Data(#"{"messages":[{"role":"user","content":[{"type":"audio","text":"x"}]}]}"#.utf8), 400, "\"audio\""),
            (Data(#"{"messages":[{"role":"user","content":7}]}"#.utf8), 400, "messages[0].content"),
        ]
        for (body, status, words) in cases {
            let e = try #require(refusal(body, v), "accepted: \(String(decoding: body.prefix(120), as: UTF8.self))")
            #expect(e.status == status, "\(e)")
            #expect(e.message.contains(words), "\(e.message) lacks \(words)")
            #expect(!e.message.contains("\n"), "\(e.message)")
        }
        _ = q
    }

    @Test func aSceneExportedLargerIsAveragedDown() throws {
        let image = try Served.canvas(seed: 3)
        let scaled = try SceneImage.canvas(png: PNG.encode(image, scale: 2), height: 32, width: 48)
        let exact = try SceneImage.canvas(png: PNG.encode(image), height: 32, width: 48)
        #expect(scaled == exact)
        #expect(exact.pixels.count == 32 * 48)
    }

    @Test func localImagesAreReadOnlyInsideTheAllowedFolder() throws {
        let fm = FileManager.default
        let base = fm.temporaryDirectory.appendingPathComponent("mstar-serve-media-\(UInt64.random(in: 0 ... .max))")
        let allowed = base.appendingPathComponent("allowed"), outside = base.appendingPathComponent("outside")
        try fm.createDirectory(at: allowed, withIntermediateDirectories: true)
        try fm.createDirectory(at: outside, withIntermediateDirectories: true)
        defer { try? fm.removeItem(at: base) }
        let png = Data(PNG.encode(try Served.canvas(seed: 4)))
        try png.write(to: allowed.appendingPathComponent("scene.png"))
        try png.write(to: outside.appendingPathComponent("secret.png"))
        try fm.createSymbolicLink(atPath: allowed.appendingPathComponent("link.png").path, withDestinationPath: outside.appendingPathComponent("secret.png").path)
        try fm.createDirectory(at: allowed.appendingPathComponent("folder.png"), withIntermediateDirectories: true)
        let v = try Served.validator(media: allowed.path)
        for url in [allowed.appendingPathComponent("scene.png").path, "file://" + allowed.appendingPathComponent("scene.png").path, "scene.png"] {
            #expect(try Served.request(try Served.chatBody(imageURL: url), validator: v).prompt.image != nil)
        }
        let refused: [(String, String)] = [
            (outside.appendingPathComponent("secret.png").path, "outside"),
            (allowed.path + "/../outside/secret.png", "outside"),
            ("link.png", "outside"),
            ("folder.png", "not a regular file"),
            ("missing.png", "cannot read"),
        ]
        for (url, words) in refused {
            let e = try #require(refusal(try Served.chatBody(imageURL: url), v), "accepted \(url)")
            #expect(e.status == 400 && e.message.contains(words), "\(url): \(e.message)")
        }
    }

    @Test func exactPixelsAndEntropyForTheRemoteBackend() throws {
        let v = try Served.validator()
        let canvas = try Served.canvas(seed: 5)
        // The pxFl chunk's pixels are read at 1x; a PNG without it gives the 8-bit values.
        let exact = "data:image/png;base64," + Data(PNG.encode(canvas, exactPixels: true)).base64EncodedString()
        let r = try Served.request(try Served.chatBody(imageURL: exact, extra: ["return_entropy": true]), validator: v)
        #expect(r.prompt.image?.pixels == canvas.pixels && r.returnEntropy)
        let plain = try Served.request(try Served.chatBody(imageURL: Served.dataURL(canvas)), validator: v)
        #expect(plain.prompt.image?.pixels == (try Served.roundTripped(canvas)).pixels && !plain.returnEntropy)
        // mean_entropy is in the choice only when asked for.
        let rollout = Rollout(tokens: [Tokenizer.standard.eos], logProbs: [-0.5], meanEntropy: 1.25, finished: true)
        #expect(ServeSampling.choices([rollout], for: r)[0].choice.mean_entropy == 1.25)
        #expect(ServeSampling.choices([rollout], for: plain)[0].choice.mean_entropy == nil)
    }

    @Test func anAssistantPrefixIsContinued() throws {
        let v = try Served.validator(), t = Tokenizer.standard
        func body(_ messages: [[String: Any]], _ extra: [String: Any]) throws -> Data {
            var o: [String: Any] = ["model": "pre-evolved", "messages": messages]
            for (k, x) in extra { o[k] = x }
            return try JSONSerialization.data(withJSONObject: o)
        }
        let user: [String: Any] = ["role": "user", "content": "given 3 4 what is the sum ?"]
        let prefix: [String: Any] = ["role": "assistant", "content": "3 + 4 = 7 ;"]
        let r = try Served.request(try body([user, prefix], ["continue_final_message": true, "add_generation_prompt": false]), validator: v)
        #expect(r.prompt.prompt == (try t.encodePrompt(question: "given 3 4 what is the sum ?", hasImage: false)) + (try t.encode("3 + 4 = 7 ;")))
        let refused: [(Data, String)] = [
            (try body([user, prefix], [:]), "messages"),
            (try body([user], ["continue_final_message": true, "add_generation_prompt": false]), "continue"),
            (try body([user, prefix], ["continue_final_message": true, "add_generation_prompt": true]), "add_generation_prompt"),
            (try body([user, ["role": "assistant", "content": "<eos>"]], ["continue_final_message": true, "add_generation_prompt": false]), "special"),
        ]
        for (b, word) in refused {
            do { _ = try Served.request(b, validator: v); Issue.record("accepted a request that should fail on \(word)") } catch {
                #expect("\(error)".contains(word), "\(error)")
            }
        }
    }
}
