import Foundation
import Hummingbird
import MSTaRModel
import MSTaRTasks

/// Everything the routes share: the served model's name and sizes, the validator and the queue.
public struct ServeState: Sendable {
    /// Checks and resolves requests.
    public var validator: RequestValidator
    /// Runs the policy and the PRM.
    public var queue: GenerationQueue
    /// The step tag of `/pooling` (`--step-tag`): when set, the assistant message is its steps,
    /// each followed by the tag, and the answer has one score per tag, as vLLM's step pooling.
    public var stepTag: String?

    /// State over `queue` answering for `validator.model`.
    public init(validator: RequestValidator, queue: GenerationQueue, stepTag: String? = nil) {
        self.validator = validator; self.queue = queue; self.stepTag = stepTag
    }

    var model: ServedModel { validator.model }
    var limits: ServeLimits { validator.limits }
}

/// The HTTP routes of `mstar serve`: vLLM's OpenAI-compatible subset (docs/serve.md).
public enum ServeRoutes {
    /// A router with every endpoint.
    public static func router(_ state: ServeState) -> Router<BasicRequestContext> {
        let router = Router()
        router.get("health") { _, _ in Response(status: .ok) }
        router.get("v1/models") { _, _ in
            json(ModelList(data: [.init(id: state.model.name, created: state.model.created, max_model_len: state.model.maxModelLength)]))
        }
        router.post("v1/chat/completions") { request, _ in
            await answer { json(try await chat(try await collect(request, state.limits), state)) }
        }
        router.post("pooling") { request, _ in
            await answer { json(try await pool(try await collect(request, state.limits), state)) }
        }
        router.post("pause") { _, _ in
            await answer {
                await state.queue.pause()
                return json(["status": "paused"])
            }
        }
        router.post("resume") { _, _ in
            await answer {
                state.queue.resume()
                return json(["status": "running"])
            }
        }
        router.post("update_weights") { request, _ in
            await answer {
                let r = try state.validator.decode(UpdateWeightsRequest.self, from: try await collect(request, state.limits))
                try await state.queue.updateWeights(path: r.path)
                return json(["status": "updated", "path": r.path])
            }
        }
        return router
    }

    /// `/v1/chat/completions`: the request checked, its samples drawn (batched with others), its choices.
    public static func chat(_ body: Data, _ state: ServeState) async throws -> ChatCompletionResponse {
        let r = try state.validator.validate(try state.validator.decode(ChatCompletionRequest.self, from: body))
        let rollouts = try await state.queue.generate(r)
        return ServeSampling.response(rollouts, for: r, model: state.model.name, id: "chatcmpl-" + randomID(), created: now())
    }

    /// `/pooling` with `"task": "token_classify"`: the PRM's `[p_bad, p_good]` for each step of the
    /// assistant message, the response to the user message's question and image. A system message
    /// first is ignored (PRMs such as Qwen2.5-Math-PRM take one). With a step tag, the assistant
    /// message is the chain's steps each followed by the tag, which are joined by ` ; ` to score.
    public static func pool(_ body: Data, _ state: ServeState) async throws -> PoolingResponse {
        guard state.queue.hasPRM else {
            throw APIError(status: 404, "no PRM is loaded: start the server with --prm DIR to use /pooling", code: "prm_not_loaded")
        }
        let v = state.validator
        let r = try v.decode(PoolingRequest.self, from: body)
        try v.checkModel(r.model)
        guard r.task == nil || r.task == "token_classify" else {
            throw APIError.badRequest("task \(quoted(r.task!)) is not supported; /pooling does \"token_classify\" (PRM step scores)", param: "task")
        }
        let first = r.messages.first?.role == "system" ? 1 : 0
        guard r.messages.count == first + 2, r.messages[first].role == "user", r.messages[first + 1].role == "assistant" else {
            throw APIError.badRequest("messages must be a user message (image and question) and the assistant response to score", param: "messages")
        }
        let (question, image) = try v.content(r.messages[first].content, message: first)
        let prompt = try v.encodeQuestion(question, hasImage: image != nil)
        let (written, answerImage) = try v.content(r.messages[first + 1].content, message: first + 1)
        var answerText = written
        guard answerImage == nil, answerText.utf8.count <= v.limits.maxTextBytes else {
            throw APIError.badRequest("the assistant message must be text of at most \(v.limits.maxTextBytes) bytes", param: "messages")
        }
        var tagged: Int?
        if let tag = state.stepTag {
            let steps = try taggedSteps(answerText, tag: tag)
            answerText = steps.joined(separator: " ; ")
            tagged = steps.count
        }
        var response = try v.encodeWords(answerText, what: "response")
        // Scored as a finished response, as the PRM was trained on rollouts that end with <eos>.
        if response.last != v.tokenizer.eos { response.append(v.tokenizer.eos) }
        guard response.dropLast().allSatisfy({ !v.tokenizer.isSpecial($0) }) else {
            throw APIError.badRequest("the response may end with <eos> but hold no other special token", param: "messages")
        }
        let room = v.model.maxModelLength - 1 - prompt.count
        guard response.count <= room else {
            throw APIError.badRequest("the response is \(response.count) tokens with <eos>; with this question at most \(room) fit "
                + "the model's max_model_len \(v.model.maxModelLength)", param: "messages")
        }
        let scores = try await state.queue.stepScores(question: question, image: image, response: response)
        if let tagged, tagged != scores.count {
            throw APIError.badRequest("the response has \(tagged) tagged steps but its chain has \(scores.count) (a step ends at ;): "
                + "split it at ; before tagging", param: "messages")
        }
        let tokens = prompt.count + response.count
        return PoolingResponse(id: "pool-" + randomID(), created: now(), model: state.model.name,
                               data: [.init(index: 0, data: scores.map { [1 - $0, $0] })],
                               usage: Usage(prompt_tokens: tokens, completion_tokens: 0, total_tokens: tokens))
    }

    /// The steps of an assistant message in the step-tag layout: each step followed by `tag`
    /// (nothing after the last tag but white space), trimmed.
    static func taggedSteps(_ text: String, tag: String) throws -> [String] {
        var pieces = text.components(separatedBy: tag)
        guard pieces.count >= 2, pieces.removeLast().allSatisfy(\.isWhitespace) else {
            throw APIError.badRequest("with --step-tag the assistant message is its steps, each followed by \(tag)", param: "messages")
        }
        let steps = pieces.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        guard steps.allSatisfy({ !$0.isEmpty }) else {
            throw APIError.badRequest("a tagged step is empty: the assistant message is its steps, each followed by \(tag)", param: "messages")
        }
        return steps
    }

    /// The request body, at most `maxBodyBytes` (413 beyond, before it is all read).
    static func collect(_ request: Request, _ limits: ServeLimits) async throws -> Data {
        let buffer: ByteBuffer
        do { buffer = try await request.body.collect(upTo: limits.maxBodyBytes) } catch {
            throw APIError(status: 413, "the request body is over \(limits.maxBodyBytes) bytes; send a smaller image or fewer messages")
        }
        return Data(buffer.readableBytesView)
    }

    /// `body`'s response, or its error in OpenAI's shape; an error that is not an `APIError` (a
    /// fault of the model, not of the request) is a 500 whose message is its one line.
    static func answer(_ body: () async throws -> Response) async -> Response {
        do { return try await body() } catch let e as APIError {
            return json(e.body, status: HTTPResponse.Status(code: e.status))
        } catch {
            let line = "\(error)".split(whereSeparator: \.isNewline).first.map(String.init) ?? "internal error"
            return json(APIError(status: 500, line, type: "internal_server_error").body, status: .internalServerError)
        }
    }

    /// `value` as a JSON response.
    static func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(value)) ?? Data(#"{"error":{"message":"cannot encode the response","type":"internal_server_error","param":null,"code":null}}"#.utf8)
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func randomID() -> String { String(UInt64.random(in: .min ... .max), radix: 16) }
    static func now() -> Int { Int(Date().timeIntervalSince1970) }
}
