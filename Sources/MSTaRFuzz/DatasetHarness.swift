import Foundation
import MSTaRTasks

/// The real-dataset reader, `DatasetReader.read`: any bytes as a dataset file in any layout.
public enum DatasetHarness {
    /// Where the input is written, beside a copy of the corpus's images/ (a copy, not a link: the
    /// reader refuses images reached through a link out of the dataset's folder).
    static let file: String = {
        let dir = scratchDirectory("dataset")
        try? FileManager.default.copyItem(atPath: fuzzFolder.appendingPathComponent("corpus/dataset/images").path, toPath: dir + "/images")
        return dir + "/data.json"
    }()

    /// Reads `data` in the layout it shows (and, for the first byte's choice, as one layout forced).
    /// What loads must keep the reader's promises: one split per item, items and bad records
    /// within the limits, every image checked and inside the dataset's folder.
    public static func run(_ data: Data) {
        guard FileManager.default.createFile(atPath: file, contents: data) else { fatalError("fuzz harness: cannot write \(file)") }
        let formats: [DatasetFormat?] = [nil] + DatasetFormat.allCases.filter { $0 != .mstar }
        let forced = formats[Int(data.first ?? 0) % formats.count]
        for format in Set([nil, forced].map { $0?.rawValue }).map({ $0.flatMap(DatasetFormat.init(rawValue:)) }) {
            guard case .dataset(let d)? = try? DatasetReader.read(file, format: format, seed: 7) else { continue }
            if d.splits.count != d.items.count { fatalError("\(d.items.count) items but \(d.splits.count) splits") }
            let folder = (file as NSString).deletingLastPathComponent
            for item in d.items {
                if item.id.isEmpty || item.question.isEmpty { fatalError("an item without an id or a question: \(item)") }
                if let i = item.image, i.width < 1 || i.height < 1 || i.width > DatasetImage.maxSide || i.height > DatasetImage.maxSide {
                    fatalError("an image of \(i.width)x\(i.height) passed the checks")
                }
                if let i = item.image, !i.resolved.hasPrefix((realpath(folder, nil).map { p in defer { free(p) }; return String(cString: p) } ?? folder) + "/") {
                    fatalError("image \(i.path) resolved outside the dataset's folder: \(i.resolved)")
                }
                if item.choices.count > 26 { fatalError("\(item.choices.count) choices: letters name at most 26") }
            }
        }
    }
}

/// Free-text answers, `FreeTextAnswer` and `ReasoningItem.answerKey`: any bytes as a model's response.
public enum AnswerHarness {
    static let items = [
        ReasoningItem(id: "i", question: "q", answer: "12", answerType: .integer),
        ReasoningItem(id: "f", question: "q", answer: "3.50", answerType: .float, precision: 2),
        ReasoningItem(id: "t", question: "q", answer: "Paris", answerType: .text),
        ReasoningItem(id: "l", question: "q", answer: "[1, 2, 3]", answerType: .list),
        ReasoningItem(id: "c", question: "q", answer: "B", choices: ["3", "7", "x"], answerType: .choice),
    ]

    /// Extracts, matches and keys the response against each kind of gold answer: a response keyed
    /// as the gold one is exactly one the matcher accepts, and steps come out non-empty.
    public static func run(_ data: Data) {
        let response = String(decoding: data, as: UTF8.self)
        _ = FreeTextAnswer.extract(response)
        _ = FreeTextAnswer.number(in: response)
        for item in items {
            let key = item.answerKey(response)
            if (key == ReasoningItem.goldKey) != item.isCorrect(response) {
                fatalError("answerKey and isCorrect disagree on \(response.debugDescription) for \(item.id)")
            }
        }
        for tag in [nil, "ки", "\n\n"] as [String?] where StepSplitter.split(response, tag: tag).contains(where: \.isEmpty) {
            fatalError("an empty step from \(response.debugDescription)")
        }
    }
}
