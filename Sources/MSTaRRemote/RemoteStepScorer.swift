import Foundation
import MSTaRModel
import MSTaRTasks

/// How a response is cut into the steps a served PRM scores, and how the steps are marked for it.
///
/// Without a tag the response goes as written and the server finds the steps (`mstar serve --prm`
/// ends a step at `;`). With one, the response is split (`StepSplitter`: at `split` when given,
/// else at "Step k:" markers, else at line breaks) and each step is followed by the tag, the
/// layout of vLLM's step pooling (Qwen2.5-Math-PRM: `"<extra_0>".join(steps) + "<extra_0>"`): the
/// server then answers one score per tag.
public struct StepTagging: Sendable, Equatable {
    /// What follows each step (e.g. "<extra_0>", Math-Shepherd's "ки"); nil: the text goes as written.
    public var tag: String?
    /// What the policy writes between steps (e.g. "\n\n", ";"); nil: `StepSplitter`'s markers and lines.
    public var split: String?

    /// A tagging from its fields.
    public init(tag: String? = nil, split: String? = nil) { self.tag = tag; self.split = split }

    /// The text sent for `response`, and how many scores the answer must hold (nil: as the server finds).
    public func tagged(_ response: String) -> (text: String, steps: Int?) {
        guard let tag, !tag.isEmpty else { return (response, nil) }
        let steps = StepSplitter.split(response, tag: split)
        // A response with no text is one empty step: the PRM still judges it.
        let parts = steps.isEmpty ? [""] : steps
        return (parts.map { $0 + tag }.joined(), parts.count)
    }
}

/// A step scorer over vLLM's pooling API: `POST /pooling` with `task: token_classify`, the user
/// message (image and question) and the assistant response (its steps tagged by `tagging`); the
/// answer's `data[0].data` holds `[p_bad, p_good]` per step and the score is p_good (`mstar serve
/// --prm` answers it so, and vLLM's step pooling of a PRM such as Qwen2.5-Math-PRM). Items are
/// sent concurrently, at most `maxInFlight` at once, with the generator's retries and records. It
/// scores the digit tasks' responses (`StepScorer`) and a real dataset's free text (`TextStepScorer`).
public final class RemoteStepScorer: StepScorer, TextStepScorer, @unchecked Sendable {
    /// Where and how it sends (`url` is the OpenAI base URL; `/pooling` is at its root).
    public let settings: RemoteSettings
    /// How responses are cut into steps and marked for the server.
    public let tagging: StepTagging
    /// Writes responses as text.
    public let tokenizer: Tokenizer
    let client: RemoteClient

    /// A scorer for the PRM `settings.model` at `settings.url`.
    public init(settings: RemoteSettings, tagging: StepTagging = StepTagging(), tokenizer: Tokenizer = .standard) {
        self.settings = settings
        self.tagging = tagging
        self.tokenizer = tokenizer
        client = RemoteClient(settings)
    }

    /// Every request since the last `drainRecords`.
    public func drainRecords() -> [RequestRecord] { client.drainRecords() }

    /// The pooling request body of one response to a digit scene.
    public static func body(model: String, question: String, image: Canvas?, response: String) -> Data {
        body(model: model, question: question, imageURL: image.map { ChatCompletion.dataURL($0) }, response: response)
    }

    /// The pooling request body of one response: the user message (the image as a data URL, then
    /// the question) and the assistant message.
    static func body(model: String, question: String, imageURL: String?, response: String) -> Data {
        var user: [[String: Any]] = []
        if let imageURL { user.append(["type": "image_url", "image_url": ["url": imageURL]]) }
        user.append(["type": "text", "text": question])
        let body: [String: Any] = [
            "model": model, "task": "token_classify",
            "messages": [["role": "user", "content": user], ["role": "assistant", "content": response]],
        ]
        return (try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])) ?? Data()
    }

    /// The p_good of each step in a `/pooling` answer; each pair must be two finite probabilities.
    public static func scores(from data: Data) throws -> [Float] {
        struct Answer: Decodable { struct Item: Decodable { var data: [[Float]]? }; var data: [Item]? }
        let a: Answer
        do { a = try JSONDecoder().decode(Answer.self, from: data) } catch {
            throw RemoteError("the server's answer is not a pooling response (\(ChatCompletion.why(error)))")
        }
        guard let rows = a.data?.first?.data else { throw RemoteError("the pooling answer has no data[0].data") }
        return try rows.map { row in
            guard row.count == 2, row.allSatisfy({ $0.isFinite && $0 >= 0 && $0 <= 1 }) else {
                throw RemoteError("a pooling score is not a pair [p_bad, p_good] of probabilities")
            }
            return row[1]
        }
    }

    /// One score per step of each digit response (the `StepScorer` contract); a failure that
    /// outlasts the retries throws one line.
    public func stepScores(_ items: [(example: Example, tokens: [Int])]) throws -> [[Float]] {
        try score(count: items.count, shouldStop: nil) { [self] i in
            let (example, tokens) = items[i]
            return (example.question, example.image.map { ChatCompletion.dataURL($0) }, tokenizer.responseText(tokens))
        }
    }

    /// One score per step of each free-text response (the `TextStepScorer` contract): the prompt's
    /// image file and text, the response tagged by `tagging`. An interrupt returns short.
    public func stepScores(_ items: [(prompt: TextPrompt, response: String)], shouldStop: (() -> Bool)?) throws -> [[Float]] {
        try score(count: items.count, shouldStop: shouldStop) { i in
            (items[i].prompt.text, items[i].prompt.image.map { ChatCompletion.dataURL($0) }, items[i].response)
        }
    }

    /// Sends item `i`'s (question, image URL, response) for every item, at most `maxInFlight` at once.
    func score(count: Int, shouldStop: (() -> Bool)?, item: @escaping @Sendable (Int) -> (String, String?, String)) throws -> [[Float]] {
        let results = try BoundedRunner.run(count: count, maxInFlight: settings.maxInFlight, transport: client.transport,
                                            shouldStop: shouldStop) { [self] i, stopped in
            let (question, imageURL, response) = item(i)
            let (text, steps) = tagging.tagged(response)
            let body = Self.body(model: settings.model, question: question, imageURL: imageURL, response: text)
            do {
                return try client.send(settings.root.appendingPathComponent("pooling"), body: body,
                                       record: RequestRecord(endpoint: "pooling", prompt: i, tries: 0, seconds: 0), shouldStop: stopped) { data in
                    let s = try Self.scores(from: data)
                    if let steps, s.count != steps {
                        throw RemoteError("the PRM answered \(s.count) step scores for \(steps) tagged steps; serve it with step pooling "
                            + "on the tag (vLLM: --pooler-config '{\"step_tag_id\": ID}'), or give backend remote the PRM's --prm-step-tag")
                    }
                    return (s, s.count)
                }
            } catch let e as RemoteError {
                throw RemoteError("item \(i): " + e.description, unreachable: e.unreachable)
            }
        }
        // Interrupted: the scores of the items before the first one missing.
        return results.prefix { $0 != nil }.map { $0! }
    }
}
