import Foundation
import MSTaRModel
import MSTaRTasks

/// A `StepScorer` over vLLM's pooling API: `POST /pooling` with `task: token_classify`, the user
/// message (scene and question) and the assistant response; the answer's `data[0].data` holds
/// `[p_bad, p_good]` per step and the score is p_good (`mstar serve --prm` answers it so). Items
/// are sent concurrently, at most `maxInFlight` at once, with the generator's retries and records.
public final class RemoteStepScorer: StepScorer, @unchecked Sendable {
    /// Where and how it sends (`url` is the OpenAI base URL; `/pooling` is at its root).
    public let settings: RemoteSettings
    /// Writes responses as text.
    public let tokenizer: Tokenizer
    let client: RemoteClient

    /// A scorer for the PRM `settings.model` at `settings.url`.
    public init(settings: RemoteSettings, tokenizer: Tokenizer = .standard) {
        self.settings = settings
        self.tokenizer = tokenizer
        client = RemoteClient(settings)
    }

    /// Every request since the last `drainRecords`.
    public func drainRecords() -> [RequestRecord] { client.drainRecords() }

    /// The pooling request body of one response.
    public static func body(model: String, question: String, image: Canvas?, response: String) -> Data {
        var user: [[String: Any]] = []
        if let image { user.append(["type": "image_url", "image_url": ["url": ChatCompletion.dataURL(image)]]) }
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

    /// One score per step of each response (the `StepScorer` contract); a failure that outlasts
    /// the retries throws one line.
    public func stepScores(_ items: [(example: Example, tokens: [Int])]) throws -> [[Float]] {
        let results = try BoundedRunner.run(count: items.count, maxInFlight: settings.maxInFlight, transport: client.transport,
                                            shouldStop: nil) { [self] i, stopped in
            let (example, tokens) = items[i]
            let response = tokenizer.responseText(tokens)
            let body = Self.body(model: settings.model, question: example.question, image: example.image, response: response)
            do {
                return try client.send(settings.root.appendingPathComponent("pooling"), body: body,
                                       record: RequestRecord(endpoint: "pooling", prompt: i, tries: 0, seconds: 0), shouldStop: stopped) { data in
                    let s = try Self.scores(from: data)
                    return (s, s.count)
                }
            } catch let e as RemoteError {
                throw RemoteError("item \(i): " + e.description, unreachable: e.unreachable)
            }
        }
        return results.map { $0 ?? [] }
    }
}
