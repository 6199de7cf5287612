import Foundation

/// An image as the bytes of its file (PNG or JPEG), sent to a server as a data URL of its type.
public struct ImageFile: Sendable, Equatable {
    /// The file's bytes.
    public var data: Data
    /// Its media type: `image/png` or `image/jpeg`.
    public var mediaType: String

    /// An image from its bytes and media type.
    public init(data: Data, mediaType: String) { self.data = data; self.mediaType = mediaType }
}

/// A prompt for a large multimodal model: an image file and free text, with the stream id that
/// seeds its samples (as `SamplePrompt.stream` does).
public struct TextPrompt: Sendable, Equatable {
    /// The image, or nil for a text-only prompt.
    public var image: ImageFile?
    /// The user turn's text.
    public var text: String
    /// Stream id that, with the call's seed, seeds this prompt's samples.
    public var stream: UInt64

    /// A prompt from its fields.
    public init(image: ImageFile?, text: String, stream: UInt64) { self.image = image; self.text = text; self.stream = stream }
}

/// One free-text response of a large multimodal model.
public struct TextRollout: Sendable, Equatable {
    /// The response as the server wrote it.
    public var text: String
    /// Whether it ended by itself ("stop") rather than at the token limit ("length").
    public var finished: Bool
    /// The sampled tokens' log-probabilities, when the server returned them (else empty).
    public var logProbs: [Float]

    /// A response from its fields.
    public init(text: String, finished: Bool, logProbs: [Float] = []) { self.text = text; self.finished = finished; self.logProbs = logProbs }

    /// Its length: tokens when the server counted them through log-probs, else words.
    public var length: Int { logProbs.isEmpty ? text.split(whereSeparator: \.isWhitespace).count : logProbs.count }
}

/// What samples free-text responses from a large multimodal model: the seam for real datasets,
/// whose answers are text rather than the digit tokenizer's ids. `RemoteGenerator` is one.
///
/// The contract: `k` responses per prompt, in prompt order; the same prompts, options and seed
/// ask the server the same requests; a short result means `shouldStop` interrupted the call.
public protocol TextGenerator {
    /// `k` free-text responses to each prompt at `options` (temperature, top-p, max tokens), seeded.
    func generateText(_ prompts: [TextPrompt], k: Int, options: SamplingOptions, seed: UInt64,
                      shouldStop: (() -> Bool)?) throws -> [[TextRollout]]
}

/// What scores the steps of free-text responses: a served process reward model on a real
/// dataset's items, the `StepScorer` of the `TextGenerator` seam. `RemoteStepScorer` is one.
///
/// The contract: one score in [0, 1] per step of each response, in input order, where the steps
/// are what the scorer's splitting makes of the text (`StepSplitter`); the same inputs give the
/// same scores; a short result means `shouldStop` interrupted the call.
public protocol TextStepScorer {
    /// Step scores of each (prompt, response text) pair.
    func stepScores(_ items: [(prompt: TextPrompt, response: String)], shouldStop: (() -> Bool)?) throws -> [[Float]]
}
