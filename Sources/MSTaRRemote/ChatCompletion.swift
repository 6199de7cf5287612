import Foundation
import MSTaRModel
import MSTaRTasks

/// The chat-completion request the remote generator sends, and what it reads from the answer.
public enum ChatCompletion {
    /// The request body: one user message (the scene as a PNG data URL, then the question), and
    /// every sampling field explicit, at the value the engine's sampler uses, so that no server
    /// default (vLLM's generation_config, a model's repetition penalty) changes the samples.
    ///
    /// A prompt that already holds part of a response (the PRM's Monte-Carlo rollouts continue
    /// step prefixes) sends it as an assistant message to continue: vLLM's
    /// `continue_final_message: true` with `add_generation_prompt: false`.
    public static func body(model: String, question: String, image: Canvas?, n: Int, options: SamplingOptions,
                            maxTokens: Int, seed: UInt64, responsePrefix: String = "") -> Data {
        body(model: model, text: question, imageURL: image.map(dataURL), n: n, options: options, maxTokens: maxTokens, seed: seed,
             responsePrefix: responsePrefix)
    }

    /// The request body of a free-text prompt: its image file as a data URL of its type, then its
    /// text; without the `omitting` fields (those a server refused, `optionalFields`).
    public static func body(model: String, prompt: TextPrompt, n: Int, options: SamplingOptions, maxTokens: Int, seed: UInt64,
                            omitting: Set<String> = []) -> Data {
        body(model: model, text: prompt.text, imageURL: prompt.image.map(dataURL), n: n, options: options, maxTokens: maxTokens, seed: seed,
             omitting: omitting)
    }

    /// The fields outside OpenAI's schema that the body sends so that no server default changes
    /// the samples (vLLM reads them all); a server that refuses them (HF `transformers serve`
    /// answers 422 "Unexpected fields") is asked again without the ones it named.
    public static let optionalFields: Set<String> = [
        "return_token_ids", "return_entropy", "repetition_penalty", "top_k", "min_p", "min_tokens", "ignore_eos",
    ]

    /// The optional fields a 4xx answer says the server does not accept, e.g. transformers' 422
    /// "Unexpected fields in the request: {'top_k', 'min_p'}" (empty when it names none).
    public static func refusedFields(_ error: RemoteError) -> Set<String> {
        let text = error.description
        guard text.contains(" answered 4"), text.lowercased().contains("field") else { return [] }
        return Set(optionalFields.filter { text.contains("'\($0)'") || text.contains("\"\($0)\"") })
    }

    /// An image file as a `data:` URL of its media type.
    public static func dataURL(_ image: ImageFile) -> String {
        "data:\(image.mediaType);base64," + image.data.base64EncodedString()
    }

    static func body(model: String, text: String, imageURL: String?, n: Int, options: SamplingOptions,
                     maxTokens: Int, seed: UInt64, responsePrefix: String = "", omitting: Set<String> = []) -> Data {
        var content: [[String: Any]] = []
        if let imageURL {
            content.append(["type": "image_url", "image_url": ["url": imageURL]])
        }
        content.append(["type": "text", "text": text])
        var messages: [[String: Any]] = [["role": "user", "content": content]]
        if !responsePrefix.isEmpty { messages.append(["role": "assistant", "content": responsePrefix]) }
        var body: [String: Any] = [
            "model": model,
            "messages": messages,
            "n": n,
            "temperature": Double(options.temperature),
            "top_p": Double(options.topP),
            "max_tokens": maxTokens,
            "seed": SeedMapping.wire(seed),
            "logprobs": true,
            "top_logprobs": 0,
            "return_token_ids": true,
            "return_entropy": true,   // mstar serve's extension; other servers ignore it
            "stream": false,
            "presence_penalty": 0,
            "frequency_penalty": 0,
            "repetition_penalty": 1,
            "top_k": -1,
            "min_p": 0,
            "min_tokens": 0,
            "ignore_eos": !options.stopAtEOS,
        ]
        if !responsePrefix.isEmpty {
            body["continue_final_message"] = true
            body["add_generation_prompt"] = false
        }
        for f in omitting { body[f] = nil }
        return (try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])) ?? Data()
    }

    /// The scene as a `data:image/png;base64,…` URL: the 8-bit image every server reads, with the
    /// exact pixels in an ancillary chunk that `mstar serve` reads (`PNG.encode(exactPixels:)`).
    public static func dataURL(_ canvas: Canvas) -> String {
        "data:image/png;base64," + Data(PNG.encode(canvas, exactPixels: true)).base64EncodedString()
    }

    /// The question of prompt ids `<bos> [<image>] question <response> [response prefix]`: the
    /// words before `<response>`, specials left out.
    public static func question(of prompt: [Int], tokenizer: Tokenizer) -> String {
        split(prompt, tokenizer: tokenizer).question
    }

    /// The question, and the words after `<response>` (a response prefix to continue; empty for a
    /// plain prompt).
    public static func split(_ prompt: [Int], tokenizer: Tokenizer) -> (question: String, responsePrefix: String) {
        let cut = prompt.firstIndex(of: tokenizer.response) ?? prompt.endIndex
        func words(_ ids: ArraySlice<Int>) -> String {
            ids.filter { !tokenizer.isSpecial($0) && $0 >= 0 && $0 < tokenizer.words.count }.map { tokenizer.words[$0] }.joined(separator: " ")
        }
        return (words(prompt[..<cut]), cut < prompt.endIndex ? words(prompt[(cut + 1)...]) : "")
    }

    // The answer, as much of it as is read; every field optional so that a missing one is
    // reported by name rather than as a decoding failure.
    struct Response: Decodable {
        struct Choice: Decodable {
            struct Message: Decodable { var content: String? }
            struct Logprobs: Decodable {
                struct Token: Decodable { var logprob: Float? }
                var content: [Token]?
            }
            var index: Int?
            var message: Message?
            var logprobs: Logprobs?
            var finish_reason: String?
            var token_ids: [Int]?
            var mean_entropy: Float?
        }
        var choices: [Choice]?
    }

    /// The rollouts of a chat-completion answer, at most `n`, checked: token ids in the
    /// vocabulary, one finite log-prob ≤ 0 per token, at most `maxTokens` tokens, `<eos>` only at
    /// the end. `token_ids` are read when the server returns them (vLLM's `return_token_ids`),
    /// else the content is tokenized. A "stop" ends with `<eos>` (appended when the server left it
    /// out, with log-prob 0 when it sent none for it), "length" does not.
    public static func rollouts(from data: Data, n: Int, maxTokens: Int, tokenizer: Tokenizer,
                                stopAtEOS: Bool = true) throws -> [Rollout] {
        try choices(from: data, n: n).map { try rollout($0.element, at: $0.offset, maxTokens: maxTokens, tokenizer: tokenizer, stopAtEOS: stopAtEOS) }
    }

    /// The first `n` choices of a chat-completion answer, each with its place in the answer, in
    /// sample order: choice i is sample i, ordered by `index` when the server gives one.
    static func choices(from data: Data, n: Int) throws -> ArraySlice<(offset: Int, element: Response.Choice)> {
        let r: Response
        do { r = try JSONDecoder().decode(Response.self, from: data) } catch {
            throw RemoteError("the server's answer is not a chat completion (\(Self.why(error))): " + oneLine(String(decoding: data.prefix(120), as: UTF8.self)))
        }
        guard let choices = r.choices else { throw RemoteError("the server's answer has no \"choices\"") }
        return choices.enumerated().sorted { ($0.element.index ?? $0.offset, $0.offset) < ($1.element.index ?? $1.offset, $1.offset) }.prefix(n)
    }

    static func rollout(_ c: Response.Choice, at i: Int, maxTokens: Int, tokenizer: Tokenizer, stopAtEOS: Bool) throws -> Rollout {
        let at = "choice \(i)"
        var tokens: [Int]
        if let ids = c.token_ids {
            tokens = ids
        } else if let text = c.message?.content {
            do { tokens = try tokenizer.encode(text) } catch {
                throw RemoteError("\(at): its content has a word the model's tokenizer does not know (\(error)); ask the server for token_ids")
            }
        } else {
            throw RemoteError("\(at) has neither token_ids nor message.content")
        }
        guard let entries = c.logprobs?.content else {
            throw RemoteError("\(at) has no logprobs.content; the server must support logprobs: true")
        }
        var logProbs = try entries.map { e -> Float in
            guard let lp = e.logprob, lp.isFinite, lp <= 0 else { throw RemoteError("\(at): a log-prob is missing, not finite or above 0") }
            return lp
        }
        guard tokens.allSatisfy({ $0 >= 0 && $0 < tokenizer.vocabSize }) else {
            throw RemoteError("\(at): a token id outside the vocabulary of \(tokenizer.vocabSize)")
        }
        let finished: Bool
        switch c.finish_reason {
        case "stop":
            finished = stopAtEOS
            if finished && tokens.last != tokenizer.eos {
                tokens.append(tokenizer.eos)
                if logProbs.count == tokens.count - 1 { logProbs.append(0) }
            }
        case "length": finished = false
        default: throw RemoteError("\(at): finish_reason is \(c.finish_reason.map { "\"\(oneLine($0))\"" } ?? "missing"); expected \"stop\" or \"length\"")
        }
        guard logProbs.count == tokens.count else {
            throw RemoteError("\(at): \(logProbs.count) log-probs for \(tokens.count) tokens")
        }
        guard tokens.count <= maxTokens, !tokens.isEmpty || !finished else {
            throw RemoteError("\(at): \(tokens.count) tokens; max_tokens was \(maxTokens)")
        }
        if tokens.dropLast().contains(tokenizer.eos) { throw RemoteError("\(at): <eos> before the end of the response") }
        // The policy's entropy needs its whole distribution, which the OpenAI API does not return:
        // `mstar serve` sends it (`mean_entropy`); otherwise the mean surprisal of the sampled
        // tokens (−log π), which estimates it at temperature 1.
        let entropy: Float
        if let h = c.mean_entropy, h.isFinite, h >= 0 { entropy = h } else {
            entropy = logProbs.isEmpty ? 0 : -logProbs.reduce(0, +) / Float(logProbs.count)
        }
        return Rollout(tokens: tokens, logProbs: logProbs, meanEntropy: entropy, finished: finished)
    }

    /// The free-text responses of a chat-completion answer, at most `n`, in choice order: each
    /// choice's content, whether it stopped by itself, and its log-probs when the server sent them.
    public static func texts(from data: Data, n: Int) throws -> [TextRollout] {
        try choices(from: data, n: n).map { i, c in
            guard let text = c.message?.content else { throw RemoteError("choice \(i) has no message.content") }
            let logProbs = (c.logprobs?.content ?? []).compactMap(\.logprob).filter { $0.isFinite && $0 <= 0 }
            return TextRollout(text: text, finished: c.finish_reason != "length", logProbs: logProbs)
        }
    }

    static func why(_ error: any Error) -> String {
        switch error {
        case DecodingError.typeMismatch(_, let c), DecodingError.valueNotFound(_, let c), DecodingError.keyNotFound(_, let c),
             DecodingError.dataCorrupted(let c):
            let path = c.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return path.isEmpty ? "malformed JSON" : "bad \(path)"
        default: return "malformed JSON"
        }
    }
}
