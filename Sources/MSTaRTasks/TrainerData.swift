import Foundation
import MSTaRTensor

/// The dataset layouts that existing multimodal trainers read, for handing them a step's selection.
public enum TrainerFormat: String, CaseIterable, Sendable {
    /// TRL's SFTTrainer for vision-language models: JSONL, `messages` whose contents are typed parts
    /// (`{"type": "image"}`, `{"type": "text", "text"}`), and `images` with the image paths.
    case trl
    /// LLaMA-Factory's sharegpt layout: a JSON array of `messages` (one `<image>` tag per image in
    /// the user turn) and `images`, plus the `dataset_info.json` entry that registers it.
    case llamafactory
    /// ms-swift's JSONL: `messages` (with `<image>` in the user turn) and `images`.
    case swift
    /// LLaVA's JSON array: `id`, `image`, `conversations` from `human` (with `<image>`) and `gpt`.
    case llava

    /// The data file's name in the output folder.
    public var fileName: String {
        switch self {
        case .trl, .swift: return "train.jsonl"
        case .llamafactory, .llava: return "train.json"
        }
    }
}

/// One training example for a trainer: a prompt (scene and question) and the response to learn.
public struct TrainerExample: Sendable, Equatable {
    /// A name unique within the file.
    public var id: String
    /// Names the image file; examples of one prompt share it, so its scene is written once.
    public var imageID: String
    /// The scene; nil for a text-only prompt or one whose image is a file (`imagePath`).
    public var image: Canvas?
    /// An image file to copy beside the data (a real dataset's PNG or JPEG), when `image` is nil.
    public var imagePath: String?
    /// The question, as the user turn's text.
    public var question: String
    /// The response to train on, as the assistant turn's text.
    public var response: String

    /// An example from its fields.
    public init(id: String, imageID: String? = nil, image: Canvas?, imagePath: String? = nil, question: String, response: String) {
        self.id = id; self.imageID = imageID ?? id; self.image = image; self.imagePath = imagePath; self.question = question
        self.response = response
    }
}

/// Writes examples in a trainer's layout: the data file, and the images as PNG files in `images/`
/// beside it (paths relative to the folder, which is how each of these trainers resolves them).
public enum TrainerData {
    /// The folder of the images, inside the output folder.
    public static let imageFolder = "images"
    /// The name LLaMA-Factory's `dataset_info.json` registers the data under.
    public static let llamaFactoryName = "mstar_selection"

    /// Writes `examples` into `folder` (made when missing) in `format`; returns the files written,
    /// relative to `folder`. Each file is written whole, then renamed into place.
    @discardableResult
    public static func write(_ examples: [TrainerExample], format: TrainerFormat, to folder: URL, imageScale: Int = 1) throws -> [String] {
        let fm = FileManager.default
        try fm.createDirectory(at: folder, withIntermediateDirectories: true)
        var written: [String] = []
        var records: [[String: Any]] = []
        var saved = Set<String>()
        for e in examples {
            var image: String?
            if let canvas = e.image {
                let name = "\(imageFolder)/\(JSONL.imageName(for: e.imageID))"
                if saved.insert(name).inserted {
                    try fm.createDirectory(at: folder.appendingPathComponent(imageFolder), withIntermediateDirectories: true)
                    try PNG.write(canvas, to: folder.appendingPathComponent(name).path, scale: imageScale)
                    written.append(name)
                }
                image = name
            } else if let source = e.imagePath {
                // The file's own bytes under a name made from the id (never the source's name), read bounded.
                let ext = (source as NSString).pathExtension.lowercased() == "png" ? "png" : "jpg"
                let name = "\(imageFolder)/\((JSONL.imageName(for: e.imageID) as NSString).deletingPathExtension).\(ext)"
                if saved.insert(name).inserted {
                    try fm.createDirectory(at: folder.appendingPathComponent(imageFolder), withIntermediateDirectories: true)
                    let data = try InputFile.read(source, limit: InputFile.imageLimit, followLinks: false)
                    try data.write(to: folder.appendingPathComponent(name), options: .atomic)
                    written.append(name)
                }
                image = name
            }
            records.append(record(e, image: image, format: format))
        }
        let data: Data
        switch format {
        case .trl, .swift:
            data = Data(try records.map { String(decoding: try json($0), as: UTF8.self) + "\n" }.joined().utf8)
        case .llamafactory, .llava:
            data = try json(records, pretty: true)
        }
        try data.write(to: folder.appendingPathComponent(format.fileName), options: .atomic)
        written.append(format.fileName)
        if format == .llamafactory {
            try json([llamaFactoryName: datasetInfo], pretty: true).write(to: folder.appendingPathComponent("dataset_info.json"), options: .atomic)
            written.append("dataset_info.json")
        }
        return written
    }

    /// LLaMA-Factory's registration of the sharegpt file with images.
    public static var datasetInfo: [String: Any] {
        ["file_name": TrainerFormat.llamafactory.fileName, "formatting": "sharegpt",
         "columns": ["messages": "messages", "images": "images"],
         "tags": ["role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant"]]
    }

    /// One example as `format` lays it out.
    static func record(_ e: TrainerExample, image: String?, format: TrainerFormat) -> [String: Any] {
        let tagged = (image == nil ? "" : "<image>") + e.question
        let images: [String] = image.map { [$0] } ?? []
        switch format {
        case .trl:
            let user: [[String: Any]] = (image == nil ? [] : [["type": "image"]]) + [["type": "text", "text": e.question]]
            return ["messages": [["role": "user", "content": user],
                                 ["role": "assistant", "content": [["type": "text", "text": e.response]]]],
                    "images": images]
        case .llamafactory, .swift:
            return ["messages": [["role": "user", "content": tagged], ["role": "assistant", "content": e.response]], "images": images]
        case .llava:
            var r: [String: Any] = ["id": e.id, "conversations": [["from": "human", "value": (image == nil ? "" : "<image>\n") + e.question],
                                                                   ["from": "gpt", "value": e.response]]]
            if let image { r["image"] = image }
            return r
        }
    }

    static func json(_ value: Any, pretty: Bool = false) throws -> Data {
        try JSONSerialization.data(withJSONObject: value, options: pretty ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
                                                                         : [.sortedKeys, .withoutEscapingSlashes])
    }
}
