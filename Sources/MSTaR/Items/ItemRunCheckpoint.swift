import Foundation
import MSTaRModel
import MSTaRTasks
import MSTaRTensor

/// An item run's state, saved as `items.json`: the weights are the trainer's (its model and
/// checkpoint folders, named in the trainer's own file beside it).
struct ItemRunState: Codable {
    var format = "mstar-item-run-1"
    var seed: UInt64
    /// The dataset's name, its item count and a digest of its items' ids and split, so that a run
    /// continues only on the dataset it started on.
    var dataset: String
    var items: Int
    var digest: String
    var iteration: Int
    var cursor: Int
    var unlabelledCursor: Int
    var temperature: Float
    var settings: EvolutionSettings

    func validate(against d: ReasoningDataset, name: String) throws {
        guard format == "mstar-item-run-1" else { throw SettingError(description: "format is '\(format)'; this mstar reads mstar-item-run-1") }
        try validateRunPosition(settings: settings, iteration: iteration, cursors: [("cursor", cursor), ("unlabelledCursor", unlabelledCursor)],
                                temperature: temperature)
        guard items == d.items.count && digest == ItemEvolution.digest(d) else {
            throw SettingError(description: "the run was saved on dataset \(dataset) (\(items) items); \(name) holds other items or splits: load the same file with the same --seed and fractions")
        }
    }
}

extension ItemEvolution {
    /// The saved state's file.
    public static let stateName = "items.json"

    /// Whether `directory` holds a saved item run.
    public static func isRun(_ directory: URL) -> Bool {
        FileManager.default.fileExists(atPath: directory.appendingPathComponent(stateName).path)
    }

    /// A digest of the dataset's item ids and splits (what a continued run must find again).
    static func digest(_ d: ReasoningDataset) -> String {
        var h = FNV1a()
        for (item, split) in zip(d.items, d.splits) {
            h.add(bytes: item.id.utf8); h.add(UInt8(0))
            h.add(bytes: split.rawValue.utf8); h.add(UInt8(0))
        }
        return h.hex
    }

    /// Saves the run to `directory` atomically: `items.json` (cursors, temperature, settings),
    /// `dynamics.jsonl`, and `extra` files (the trainer's state) by name.
    public func save(to directory: URL, dataset name: String, extra: [String: Data]) throws {
        try Checkpoint.writeFolder(directory, kind: .run) { tmp in
            let state = ItemRunState(seed: seed, dataset: name, items: dataset.items.count, digest: Self.digest(dataset), iteration: iteration,
                                     cursor: cursor, unlabelledCursor: unlabelledCursor, temperature: temperature, settings: settings)
            let e = JSONEncoder()
            e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            try AtomicFile.write(try e.encode(state), to: tmp.appendingPathComponent(Self.stateName))
            let lines = try history.map { try $0.jsonLine() + "\n" }.joined()
            try AtomicFile.write(Data(lines.utf8), to: tmp.appendingPathComponent("dynamics.jsonl"))
            for (file, data) in extra { try AtomicFile.write(data, to: tmp.appendingPathComponent(file)) }
        }
    }

    /// Continues a run saved by `save(to:)` on `dataset` (loaded under `name`), answered by
    /// `generator` (and scored by `scorer`); the caller restores the trainer from its file.
    public static func resume(from directory: URL, dataset: ReasoningDataset, name: String, generator: any TextGenerator,
                              scorer: (any TextStepScorer)? = nil) throws -> ItemEvolution {
        let path = directory.appendingPathComponent(stateName)
        let state: ItemRunState
        do {
            state = try JSONDecoder().decode(ItemRunState.self, from: try InputFile.read(path.path, limit: InputFile.jsonLimit))
        } catch let e as TensorError {
            throw SettingError(description: e.description)
        } catch {
            throw SettingError(description: "\(path.path) is not a saved item run: \(Checkpoint.describe(error))")
        }
        do { try state.validate(against: dataset, name: name) } catch { throw SettingError(description: "\(path.path): \(error)") }
        let run = try ItemEvolution(dataset: dataset, generator: generator, scorer: scorer, settings: state.settings, seed: state.seed)
        run.iteration = state.iteration
        run.cursor = state.cursor
        run.unlabelledCursor = state.unlabelledCursor
        run.temperature = state.temperature
        run.history = Array(try Evolution.readDynamics(directory.appendingPathComponent("dynamics.jsonl")).prefix(state.iteration))
        return run
    }

    /// The dataset name a saved item run was made on (to say which to load).
    public static func savedDataset(_ directory: URL) -> String? {
        guard let data = try? InputFile.read(directory.appendingPathComponent(stateName).path, limit: InputFile.jsonLimit) else { return nil }
        return (try? JSONDecoder().decode(ItemRunState.self, from: data))?.dataset
    }
}
