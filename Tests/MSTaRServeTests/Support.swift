import Foundation
import MSTaRModel
import MSTaRServe
import MSTaRTasks
import MSTaRTensor

/// The shipped policies and helpers the serve tests share.
enum Served {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let preEvolved = root.appendingPathComponent("checkpoints/pre-evolved").path
    static let replay = root.appendingPathComponent("checkpoints/pre-evolved-replay").path

    /// The shipped policy (each call loads a fresh copy).
    static func policy(_ path: String = preEvolved) throws -> VisionLanguageModel {
        try Checkpoint.load(from: URL(fileURLWithPath: path), vocab: Tokenizer.standard.vocabSize).model
    }

    /// A validator for the shipped policy's shape named "pre-evolved", with local images from `media`.
    static func validator(media: String? = nil) throws -> RequestValidator {
        let config = try policy().config
        return RequestValidator(model: ServedModel(name: "pre-evolved", config: config, created: 0),
                                media: try MediaPolicy(allowedFolder: media))
    }

    /// A scene-sized canvas of seeded noise.
    static func canvas(seed: UInt64, height: Int = Canvas.sceneHeight, width: Int = Canvas.sceneWidth) throws -> Canvas {
        var rng = RNG(seed: seed)
        return try Canvas(height: height, width: width, pixels: (0..<(height * width)).map { _ in rng.uniform() })
    }

    /// `canvas` as it comes back from a PNG (quantised to 256 grey levels).
    static func roundTripped(_ canvas: Canvas) throws -> Canvas {
        try Canvas(height: canvas.height, width: canvas.width, pixels: canvas.bytes.map { Float($0) / 255 })
    }

    /// `canvas` as a data: URL.
    static func dataURL(_ canvas: Canvas) -> String {
        "data:image/png;base64," + Data(PNG.encode(canvas)).base64EncodedString()
    }

    /// A chat request body with one user message: `question`, and the image at `url` if given.
    static func chatBody(question: String = "what is the sum of the digits ?", imageURL: String? = nil,
                         extra: [String: Any] = [:]) throws -> Data {
        var parts: [[String: Any]] = []
        if let imageURL { parts.append(["type": "image_url", "image_url": ["url": imageURL]]) }
        parts.append(["type": "text", "text": question])
        var object: [String: Any] = ["model": "pre-evolved", "messages": [["role": "user", "content": parts]]]
        for (k, v) in extra { object[k] = v }
        return try JSONSerialization.data(withJSONObject: object)
    }

    /// The validated request of `body`.
    static func request(_ body: Data, validator v: RequestValidator) throws -> GenerationRequest {
        try v.validate(try v.decode(ChatCompletionRequest.self, from: body))
    }
}
