import Foundation
import MSTaRFuzz
import MSTaRModel
import MSTaRTasks
import MSTaRTensor

// Writes the seeds of the checkpoint and safetensors harnesses into the corpus folder given as the
// argument (scripts/fuzz --seeds): checkpoints saved by Checkpoint.save (ModelConfig.tiny, and a
// smaller one with its optimizer), and config.json variants whose sizes must be refused. The tiny
// checkpoint's optimizer file is left out: at 92 KB it would slow every run for little new coverage.

guard CommandLine.arguments.count == 2 else {
    FileHandle.standardError.write(Data("usage: fuzz-seeds CORPUS_DIR\n".utf8))
    exit(2)
}
let corpus = URL(fileURLWithPath: CommandLine.arguments[1])
let work = FileManager.default.temporaryDirectory.appendingPathComponent("mstar-fuzz-seeds-\(getpid())")
defer { try? FileManager.default.removeItem(at: work) }

/// Writes `data` as corpus/TARGET/NAME.
func seed(_ target: String, _ name: String, _ data: Data) throws {
    let dir = corpus.appendingPathComponent(target)
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    try data.write(to: dir.appendingPathComponent(name))
    print("\(target)/\(name): \(data.count) bytes")
}

/// Saves `config` as a checkpoint (one AdamW step taken, so the moments are not all zero) and
/// returns its files in the harness's order: config, state, weights, optimizer.
func checkpoint(_ config: ModelConfig, name: String) throws -> [Data] {
    var rng = RNG(seed: 7)
    let model = try VisionLanguageModel(config, rng: &rng)
    let optimizer = AdamW(params: model.policyParameters)
    for p in model.policyParameters {
        let g = Tensor.zeros(p.shape)
        for i in 0..<g.count { g.ptr[i] = 0.01 * Float(i % 7) }
        p.grad = g
    }
    optimizer.update()
    let state = TrainingState(step: 1, rngs: ["data": RNG(seed: 3)], dataPosition: 5,
                              schedule: .cosine(lr: 3e-4, warmup: 2, total: 20, minLR: 1e-5), temperature: 0.7)
    let dir = work.appendingPathComponent(name)
    try Checkpoint.save(model: model, optimizer: optimizer, state: state, to: dir)
    return try ["config.json", "state.json", "model.safetensors", "optimizer.safetensors"].map {
        try Data(contentsOf: dir.appendingPathComponent($0))
    }
}

let vocab = Tokenizer.standard.vocabSize
let tiny = try checkpoint(.tiny(vocab: vocab), name: "tiny")
// Smaller still, so that most mutated inputs decode in microseconds: a patch stem, one head, width 2.
let micro = try checkpoint(ModelConfig(vocab: 4, imageHeight: 4, imageWidth: 4, patch: 2, stem: .patch, globalToken: false,
                                       merge: 1, visionDim: 2, visionLayers: 0, visionHeads: 1, visionMLP: 2,
                                       dModel: 2, layers: 1, heads: 1, mlpHidden: 2, maxText: 2), name: "micro")

try seed("checkpoint", "tiny", CheckpointHarness.pack(Array(tiny[0..<3])))
try seed("checkpoint", "micro", CheckpointHarness.pack(Array(micro[0..<3])))
try seed("checkpoint", "micro-optimizer", CheckpointHarness.pack(micro))

// config.json sizes that must be refused with an error, not a trap or a huge allocation.
let variants: [(String, String, Any)] = [
    ("heads-0", "heads", 0), ("patch-0", "patch", 0), ("dmodel-negative", "dModel", -16),
    ("vision-dim-negative", "visionDim", -8), ("dmodel-2e40", "dModel", 1 << 40), ("layers-1e9", "layers", 1_000_000_000),
    ("merge-0", "merge", 0), ("vocab-0", "vocab", 0), ("max-text-huge", "maxText", Int.max),
]
for (name, key, value) in variants {
    guard var json = try JSONSerialization.jsonObject(with: micro[0]) as? [String: Any] else { fatalError("config.json is not an object") }
    json[key] = value
    let config = try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys])
    try seed("checkpoint", "config-\(name)", CheckpointHarness.pack([config] + micro[1..<3]))
}

try seed("safetensors", "micro-model.safetensors", micro[2])
try seed("safetensors", "micro-optimizer.safetensors", micro[3])
