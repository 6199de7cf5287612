import Foundation

// The request and response bodies of the OpenAI-compatible API, spelled as OpenAI and vLLM spell
// them (snake_case keys). Decoding ignores keys it does not know, as vLLM does; RequestValidation
// refuses the known ones whose values this server does not support.

/// `POST /v1/chat/completions`.
public struct ChatCompletionRequest: Decodable, Sendable {
    /// The served model's name (optional).
    public var model: String?
    /// One user message: the question and at most one image.
    public var messages: [ChatMessage]
    /// Choices to return (1 by default).
    public var n: Int?
    /// Sampling temperature; 0 is greedy (1 by default).
    public var temperature: Double?
    /// Nucleus sampling (1, off, by default).
    public var top_p: Double?
    /// Most tokens per choice (by default all the room the prompt leaves).
    public var max_tokens: Int?
    /// OpenAI's newer name for `max_tokens`.
    public var max_completion_tokens: Int?
    /// Fixes the choices (drawn at random when absent).
    public var seed: Int64?
    /// Whether each choice carries its tokens' log-probs.
    public var logprobs: Bool?
    /// Alternatives per token: only 0 is supported.
    public var top_logprobs: Int?
    /// vLLM's extension: each choice carries its generated token ids.
    public var return_token_ids: Bool?
    /// mstar's extension: each choice carries `mean_entropy` (what a faithful remote backend
    /// needs for the dynamics; other servers ignore the field).
    public var return_entropy: Bool?
    /// Strings that end a choice's content.
    public var stop: StopSequences?
    /// vLLM's: the last message is an assistant response to continue (the choices are its
    /// continuations); `messages` are then the user message and that assistant prefix.
    public var continue_final_message: Bool?
    /// vLLM's: with `continue_final_message` it must be false; otherwise only true.
    public var add_generation_prompt: Bool?
    /// Streaming: only false is supported.
    public var stream: Bool?

    // Fields OpenAI or vLLM define that this server does not implement: accepted at their
    // neutral value (so clients that always send them work), refused otherwise.
    /// Only 0.
    public var presence_penalty: Double?
    /// Only 0.
    public var frequency_penalty: Double?
    /// vLLM's; only 1.
    public var repetition_penalty: Double?
    /// vLLM's; only 0 or -1 (off).
    public var top_k: Int?
    /// vLLM's; only 0.
    public var min_p: Double?
    /// vLLM's; only 0.
    public var min_tokens: Int?
    /// vLLM's; only false.
    public var ignore_eos: Bool?
    /// vLLM's; only false.
    public var use_beam_search: Bool?
    /// vLLM's; only null.
    public var prompt_logprobs: Int?
    /// Only false.
    public var echo: Bool?
    /// Only empty.
    public var logit_bias: [String: Double]?
    /// Only empty: the policy calls no tools.
    public var tools: [Ignored]?
    /// Only `{"type": "text"}`.
    public var response_format: ResponseFormat?

    /// A JSON value whose content does not matter, only that it is there.
    public struct Ignored: Decodable, Sendable {
        public init(from decoder: any Decoder) throws {}
    }

    /// `response_format`: its type.
    public struct ResponseFormat: Decodable, Sendable {
        /// "text", "json_object" or "json_schema".
        public var type: String
    }
}

/// `stop`: one string or a list of them.
public struct StopSequences: Decodable, Sendable, Equatable {
    /// The strings, in the order given.
    public var values: [String]
    /// Stop strings from a list.
    public init(_ values: [String]) { self.values = values }
    /// A string, a list of strings, or null.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { values = [] } else if let s = try? c.decode(String.self) { values = [s] } else { values = try c.decode([String].self) }
    }
}

/// One chat message: a role and a content that is a string or a list of parts.
public struct ChatMessage: Decodable, Sendable {
    /// "user" (or "assistant" for the response `/pooling` scores).
    public var role: String
    /// The text, or text and image parts.
    public var content: MessageContent
}

/// A message's content: plain text, or parts (`text` and `image_url`).
public enum MessageContent: Decodable, Sendable {
    /// Plain text.
    case text(String)
    /// Text and image parts.
    case parts([ContentPart])

    /// A string, or a list of parts.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try? c.decode(String.self) { self = .text(s) } else { self = .parts(try c.decode([ContentPart].self)) }
    }
}

/// One part of a message: `{"type":"text","text":…}` or `{"type":"image_url","image_url":{"url":…}}`.
public struct ContentPart: Decodable, Sendable {
    /// `{"url": …}`: a data: URL, or a local path or file:// URL under the allowed folder.
    public struct ImageURL: Decodable, Sendable { public var url: String }
    /// "text" or "image_url".
    public var type: String
    /// The text of a text part.
    public var text: String?
    /// The image of an image_url part.
    public var image_url: ImageURL?
}

/// The `/v1/chat/completions` response.
public struct ChatCompletionResponse: Encodable, Sendable {
    /// "chatcmpl-" and a random id.
    public var id: String
    /// Always "chat.completion".
    public var object = "chat.completion"
    /// Seconds since 1970.
    public var created: Int
    /// The served model's name.
    public var model: String
    /// Choice i is sample i of the prompt.
    public var choices: [Choice]
    /// Token counts.
    public var usage: Usage

    /// One sample.
    public struct Choice: Encodable, Sendable {
        /// Its sample number.
        public var index: Int
        /// The assistant's response text.
        public var message: Message
        /// Encoded as `null` when log-probs were not asked for, as OpenAI does.
        public var logprobs: ChoiceLogprobs?
        /// "stop" (`<eos>` or a stop string) or "length" (the token limit).
        public var finish_reason: String
        /// vLLM's `return_token_ids`: left out when not asked for.
        public var token_ids: [Int]?
        /// mstar's `return_entropy`: the mean entropy (nats) of the policy's next-token
        /// distribution (temperature 1) over the sample, `Rollout.meanEntropy`; left out when not asked for.
        public var mean_entropy: Float? = nil

        enum CodingKeys: String, CodingKey { case index, message, logprobs, finish_reason, token_ids, mean_entropy }
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(index, forKey: .index)
            try c.encode(message, forKey: .message)
            if let logprobs { try c.encode(logprobs, forKey: .logprobs) } else { try c.encodeNil(forKey: .logprobs) }
            try c.encode(finish_reason, forKey: .finish_reason)
            try c.encodeIfPresent(token_ids, forKey: .token_ids)
            try c.encodeIfPresent(mean_entropy, forKey: .mean_entropy)
        }
    }

    /// The response as a chat message.
    public struct Message: Encodable, Sendable {
        /// Always "assistant".
        public var role = "assistant"
        /// The response's words, joined by single spaces.
        public var content: String
    }

    /// A choice's log-probs.
    public struct ChoiceLogprobs: Encodable, Sendable {
        /// One entry per generated token, `<eos>` included.
        public var content: [TokenLogprob]
    }

    /// One token's log-prob.
    public struct TokenLogprob: Encodable, Sendable {
        /// The vocabulary word.
        public var token: String
        /// log π(token) under the policy at temperature 1 (vLLM's raw log-probs).
        public var logprob: Float
        /// The word's UTF-8 bytes.
        public var bytes: [UInt8]
        /// Always empty (`top_logprobs` 0).
        public var top_logprobs: [TokenLogprob] = []
    }
}

/// Token counts of a request.
public struct Usage: Encodable, Sendable, Equatable {
    /// The prompt's text ids (with `<bos>`, `<image>` and `<response>`).
    public var prompt_tokens: Int
    /// Every choice's tokens, `<eos>` included.
    public var completion_tokens: Int
    /// The two together.
    public var total_tokens: Int

    /// Counts from their fields.
    public init(prompt_tokens: Int, completion_tokens: Int, total_tokens: Int) {
        self.prompt_tokens = prompt_tokens; self.completion_tokens = completion_tokens; self.total_tokens = total_tokens
    }
}

/// `GET /v1/models`.
public struct ModelList: Encodable, Sendable {
    /// Always "list".
    public var object = "list"
    /// The one served model.
    public var data: [ModelCard]

    /// A model: its name, when the server started, and its text length.
    public struct ModelCard: Encodable, Sendable {
        /// The name requests give as `model`.
        public var id: String
        /// Always "model".
        public var object = "model"
        /// Seconds since 1970 when the server started.
        public var created: Int
        /// Always "mstar".
        public var owned_by = "mstar"
        /// Text tokens (prompt and response) the model reads.
        public var max_model_len: Int
    }
}

/// `POST /pooling` (vLLM): the PRM's step scores of an assistant response.
public struct PoolingRequest: Decodable, Sendable {
    /// The served model's name (optional).
    public var model: String?
    /// "token_classify" (the default).
    public var task: String?
    /// The user message (image and question) and the assistant response to score.
    public var messages: [ChatMessage]
}

/// The `/pooling` response: per step `[p_bad, p_good]`.
public struct PoolingResponse: Encodable, Sendable {
    /// "pool-" and a random id.
    public var id: String
    /// Always "list".
    public var object = "list"
    /// Seconds since 1970.
    public var created: Int
    /// The served model's name.
    public var model: String
    /// One item: the scored response.
    public var data: [Item]
    /// The prompt's and the response's tokens, as prompt tokens.
    public var usage: Usage

    /// The step scores of one response.
    public struct Item: Encodable, Sendable {
        /// Always 0.
        public var index: Int
        /// Always "pooling".
        public var object = "pooling"
        /// `[p_bad, p_good]` per step.
        public var data: [[Float]]
    }
}

/// `POST /update_weights`.
public struct UpdateWeightsRequest: Decodable, Sendable {
    /// The checkpoint folder to load.
    public var path: String
}

/// The body of every error: `{"error":{"message","type","param","code"}}`.
public struct ErrorResponse: Encodable, Sendable {
    /// The error's fields.
    public struct Body: Encodable, Sendable {
        /// One line: what is wrong and what to do.
        public var message: String
        /// "invalid_request_error", "service_unavailable" or "internal_server_error".
        public var type: String
        /// The request field at fault, or null.
        public var param: String?
        /// A short code (e.g. "model_not_found"), or null.
        public var code: String?

        enum CodingKeys: String, CodingKey { case message, type, param, code }
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(message, forKey: .message)
            try c.encode(type, forKey: .type)
            try c.encode(param, forKey: .param)  // null when absent, as OpenAI writes it
            try c.encode(code, forKey: .code)
        }
    }
    /// The error.
    public var error: Body
}
