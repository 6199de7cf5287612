import Foundation
import MSTaRModel
import MSTaRTasks

/// Every bound the server puts on a request, checked before anything is allocated from it.
public struct ServeLimits: Sendable {
    /// Most bytes of a request body (larger bodies are refused with 413 before they are read whole).
    public var maxBodyBytes = 8 << 20
    /// Most choices per request.
    public var maxN = 64
    /// Highest sampling temperature.
    public var maxTemperature = 2.0
    /// Most bytes of one PNG image.
    public var maxImageBytes = 4 << 20
    /// Most parts in a message's content.
    public var maxParts = 8
    /// Most bytes of the question (or of a response to score).
    public var maxTextBytes = 4096
    /// Most stop strings, and most characters in each.
    public var maxStops = 4, maxStopLength = 64
    /// Most requests waiting for the model; more are refused with 503 until some are answered.
    public var maxWaiting = 1024
    /// Most samples decoded in one `Sampler.generate` call (a batch of requests); more wait for the next call.
    public var maxBatchSamples = 512

    /// The limits `mstar serve` runs with.
    public static let standard = ServeLimits()
}

/// The model a server answers for: its name in the API and its sizes.
public struct ServedModel: Sendable {
    /// The name clients give as `model` (`--served-model-name`, by default the checkpoint folder's name).
    public var name: String
    /// The policy's configuration: image size and text length.
    public var config: ModelConfig
    /// Seconds since 1970 when the server started (the model's `created`).
    public var created: Int

    /// A model named `name` with `config`, created at `created`.
    public init(name: String, config: ModelConfig, created: Int) {
        self.name = name; self.config = config; self.created = created
    }

    /// Text tokens (prompt and response) the model reads: vLLM's `max_model_len`.
    public var maxModelLength: Int { config.maxText }
}

/// A chat request, checked and resolved: what to sample and how to answer.
public struct GenerationRequest: Sendable {
    /// The image (nil for a text-only question) and `<bos> [<image>] question <response>`; its
    /// stream is the request's seed (`ServeSampling`).
    public var prompt: SamplePrompt
    /// Choices to return: samples 0..<n of the prompt.
    public var n: Int
    /// Temperature, top-p and the response length (`chunk` is the sampler's default).
    public var options: SamplingOptions
    /// The request's seed (drawn at random when the request gave none).
    public var seed: UInt64
    /// Whether each choice carries the log-probs of its tokens.
    public var logprobs: Bool
    /// Whether each choice carries its token ids (vLLM's `return_token_ids`).
    public var returnTokenIDs: Bool
    /// Strings that end a choice's content.
    public var stop: [String]
    /// Whether each choice carries its mean entropy (mstar's `return_entropy`).
    public var returnEntropy = false
}

/// Checks requests against the model and the limits and turns them into what the model runs.
public struct RequestValidator: Sendable {
    /// The model requests must name.
    public var model: ServedModel
    /// Where images may come from.
    public var media: MediaPolicy
    /// The bounds.
    public var limits: ServeLimits
    /// The tokenizer questions are encoded with.
    public var tokenizer = Tokenizer.standard

    /// A validator for `model` with `media` and `limits`.
    public init(model: ServedModel, media: MediaPolicy, limits: ServeLimits = .standard) {
        self.model = model; self.media = media; self.limits = limits
    }

    /// Decodes `body` as `T`; malformed JSON or a wrong type is a 400 naming the field.
    public func decode<T: Decodable>(_ type: T.Type, from body: Data) throws -> T {
        do { return try JSONDecoder().decode(T.self, from: body) } catch {
            var why = Checkpoint.describe(error)
            // Foundation reports a number that does not fit its field (1.5 for an integer) as
            // malformed JSON, without the field: say what is wrong instead.
            if case DecodingError.dataCorrupted(let ctx) = error, ctx.codingPath.isEmpty,
               (try? JSONSerialization.jsonObject(with: body, options: [.fragmentsAllowed])) != nil {
                why = "a number does not fit its field (integers: n, max_tokens, seed, top_logprobs)"
            }
            throw APIError.badRequest("the request body is not a valid \(Self.names[ObjectIdentifier(T.self)] ?? "request"): \(why)")
        }
    }

    /// What each request body is called in errors.
    static let names: [ObjectIdentifier: String] = [
        ObjectIdentifier(ChatCompletionRequest.self): "chat completion request",
        ObjectIdentifier(PoolingRequest.self): "pooling request",
        ObjectIdentifier(UpdateWeightsRequest.self): "update_weights request ({\"path\": DIR})",
    ]

    /// The `model` field must name this server's model when it is given.
    public func checkModel(_ name: String?) throws {
        if let name, name != model.name {
            throw APIError(status: 404, "the model \(quoted(name)) does not exist; this server serves \(quoted(model.name)) (GET /v1/models)",
                           param: "model", code: "model_not_found")
        }
    }

    /// Checks a chat completion request; `randomSeed` supplies the seed when it has none.
    public func validate(_ r: ChatCompletionRequest, randomSeed: () -> UInt64 = { UInt64.random(in: .min ... .max) }) throws -> GenerationRequest {
        try checkModel(r.model)
        if r.stream == true {
            throw APIError.badRequest("stream: true is not supported; ask without streaming", param: "stream")
        }
        let n = r.n ?? 1
        guard (1...limits.maxN).contains(n) else {
            throw APIError.badRequest("n is \(n); it must be 1 to \(limits.maxN)", param: "n")
        }
        let temperature = r.temperature ?? 1
        guard temperature.isFinite, (0...limits.maxTemperature).contains(temperature) else {
            throw APIError.badRequest("temperature is \(temperature); it must be 0 (greedy) to \(limits.maxTemperature)", param: "temperature")
        }
        let topP = r.top_p ?? 1
        guard topP.isFinite, topP > 0, topP <= 1 else {
            throw APIError.badRequest("top_p is \(topP); it must be in (0, 1]", param: "top_p")
        }
        if let k = r.top_logprobs, k != 0 {
            throw APIError.badRequest("top_logprobs is \(k); only 0 is supported (logprobs: true gives each sampled token's log-prob)",
                                      param: "top_logprobs")
        }
        try refuseUnsupported(r)
        let stop = r.stop?.values ?? []
        guard stop.count <= limits.maxStops else {
            throw APIError.badRequest("stop has \(stop.count) strings; at most \(limits.maxStops)", param: "stop")
        }
        for s in stop where s.isEmpty || s.count > limits.maxStopLength {
            throw APIError.badRequest("each stop string must be 1 to \(limits.maxStopLength) characters", param: "stop")
        }
        let continuing = r.continue_final_message ?? false
        let generationPrompt = r.add_generation_prompt ?? !continuing
        guard generationPrompt == !continuing else {
            throw APIError.badRequest("add_generation_prompt must be \(!continuing) when continue_final_message is \(continuing)",
                                      param: "add_generation_prompt")
        }
        let (question, image) = try userTurn(continuing ? Array(r.messages.prefix(1)) : r.messages)
        var prompt = try encodeQuestion(question, hasImage: image != nil)
        if continuing { prompt += try assistantPrefix(r.messages, after: prompt.count) }
        let room = model.maxModelLength - prompt.count
        let maxTokens = r.max_tokens ?? r.max_completion_tokens ?? room
        guard maxTokens >= 1, maxTokens <= room else {
            throw APIError.badRequest("max_tokens is \(maxTokens); it must be 1 to \(room): this prompt of \(prompt.count) tokens leaves "
                + "\(room) of the model's max_model_len \(model.maxModelLength)", param: "max_tokens")
        }
        let seed = r.seed.map { UInt64(bitPattern: $0) } ?? randomSeed()
        return GenerationRequest(
            prompt: SamplePrompt(image: image, prompt: prompt, stream: seed), n: n,
            options: SamplingOptions(temperature: Float(temperature), topP: Float(topP), maxTokens: maxTokens),
            seed: seed, logprobs: r.logprobs ?? false, returnTokenIDs: r.return_token_ids ?? false, stop: stop,
            returnEntropy: r.return_entropy ?? false)
    }

    /// Refuses a field this server does not implement when it asks for more than its neutral value.
    func refuseUnsupported(_ r: ChatCompletionRequest) throws {
        let unsupported: [(String, Bool)] = [
            ("presence_penalty", (r.presence_penalty ?? 0) != 0), ("frequency_penalty", (r.frequency_penalty ?? 0) != 0),
            ("repetition_penalty", (r.repetition_penalty ?? 1) != 1), ("top_k", ![0, -1].contains(r.top_k ?? -1)),
            ("min_p", (r.min_p ?? 0) != 0), ("min_tokens", (r.min_tokens ?? 0) != 0), ("ignore_eos", r.ignore_eos == true),
            ("use_beam_search", r.use_beam_search == true), ("prompt_logprobs", r.prompt_logprobs != nil), ("echo", r.echo == true),
            ("logit_bias", !(r.logit_bias ?? [:]).isEmpty), ("tools", !(r.tools ?? []).isEmpty),
            ("response_format", (r.response_format?.type ?? "text") != "text"),
        ]
        if let (name, _) = unsupported.first(where: \.1) {
            throw APIError.badRequest("\(name) is not supported by mstar serve; leave it out (docs/serve.md lists the fields)", param: name)
        }
    }

    /// The ids of the assistant prefix to continue (`continue_final_message`): the second and last
    /// message, role "assistant", text in the model's words without special tokens, leaving room.
    func assistantPrefix(_ messages: [ChatMessage], after promptLength: Int) throws -> [Int] {
        guard messages.count == 2, messages[1].role == "assistant" else {
            throw APIError.badRequest("with continue_final_message, messages must be the user message and the assistant response to continue",
                                      param: "messages")
        }
        let (text, image) = try content(messages[1].content, message: 1)
        guard image == nil, text.utf8.count <= limits.maxTextBytes else {
            throw APIError.badRequest("the assistant message must be text of at most \(limits.maxTextBytes) bytes", param: "messages")
        }
        let ids = try encodeWords(text, what: "assistant message")
        if ids.contains(where: tokenizer.isSpecial) {
            throw APIError.badRequest("the assistant message to continue may hold no special token", param: "messages")
        }
        guard promptLength + ids.count < model.maxModelLength else {
            throw APIError.badRequest("the prompt and the assistant message are \(promptLength + ids.count) tokens; the model's max_model_len is "
                + "\(model.maxModelLength), which leaves no room for a continuation", param: "messages")
        }
        return ids
    }

    /// The question and image of the one user message.
    func userTurn(_ messages: [ChatMessage]) throws -> (String, Canvas?) {
        guard messages.count == 1, messages[0].role == "user" else {
            throw APIError.badRequest("messages must hold exactly one message, role \"user\", with the question and at most one image "
                + "(got \(messages.count): \(messages.prefix(4).map { quoted($0.role) }.joined(separator: ", ")))", param: "messages")
        }
        return try content(messages[0].content, message: 0)
    }

    /// A message's text (its text parts joined by spaces) and its image, if any.
    func content(_ content: MessageContent, message i: Int) throws -> (String, Canvas?) {
        switch content {
        case .text(let text): return (text, nil)
        case .parts(let parts):
            guard parts.count <= limits.maxParts else {
                throw APIError.badRequest("messages[\(i)].content has \(parts.count) parts; at most \(limits.maxParts)", param: "messages")
            }
            var texts: [String] = [], image: Canvas?
            for part in parts {
                switch part.type {
                case "text":
                    guard let t = part.text else { throw APIError.badRequest("a text part of messages[\(i)] has no \"text\"", param: "messages") }
                    texts.append(t)
                case "image_url":
                    guard let url = part.image_url?.url else {
                        throw APIError.badRequest("an image_url part of messages[\(i)] has no \"image_url\": {\"url\": …}", param: "messages")
                    }
                    guard image == nil else { throw APIError.badRequest("messages[\(i)] has more than one image; the model reads one", param: "messages") }
                    image = try SceneImage.canvas(png: media.bytes(of: url), height: model.config.imageHeight, width: model.config.imageWidth)
                default:
                    throw APIError.badRequest("content part type \(quoted(part.type)) is not supported; use \"text\" and \"image_url\"", param: "messages")
                }
            }
            return (texts.joined(separator: " "), image)
        }
    }

    /// `<bos> [<image>] question <response>`; a question with a word outside the vocabulary, a
    /// special token or no words at all is a 400.
    func encodeQuestion(_ question: String, hasImage: Bool) throws -> [Int] {
        guard question.utf8.count <= limits.maxTextBytes else {
            throw APIError.badRequest("the question is \(question.utf8.count) bytes; at most \(limits.maxTextBytes)", param: "messages")
        }
        let ids = try encodeWords(question, what: "question")
        guard !ids.isEmpty else { throw APIError.badRequest("the question is empty; ask e.g. \"what is the sum of the digits ?\"", param: "messages") }
        if let s = ids.first(where: tokenizer.isSpecial) {
            throw APIError.badRequest("the question contains the special token \(tokenizer.words[s]); write only the question's words", param: "messages")
        }
        let prompt = try tokenizer.encodePrompt(question: question, hasImage: hasImage)
        guard prompt.count < model.maxModelLength else {
            throw APIError.badRequest("the prompt is \(prompt.count) tokens; the model's max_model_len is \(model.maxModelLength), "
                + "which leaves no room for a response", param: "messages")
        }
        return prompt
    }

    /// The ids of `text`'s words; an unknown word is a 400 that names it.
    func encodeWords(_ text: String, what: String) throws -> [Int] {
        do { return try tokenizer.encode(text) } catch TasksError.unknownWord(let word, let position, _) {
            throw APIError.badRequest("the \(what) has a word the model's tokenizer does not know: \(quoted(word)) (word \(position + 1)); "
                + "questions use the task words, e.g. \"what is the sum of the digits ?\"", param: "messages")
        }
    }
}
