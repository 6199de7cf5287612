import Foundation
import MSTaRModel
import MSTaRTasks
import MSTaRTensor
import Testing

@Suite struct Experiment {
    @Test func readingCurve() throws {
        guard let spec = ProcessInfo.processInfo.environment["MSTAR_EXPERIMENT"] else { return }
        Runtime.setThreads(Int(ProcessInfo.processInfo.environment["MSTAR_T"] ?? "2")!)
        let parts = spec.split(separator: ",").map { Int($0)! }  // patch,merge,visionDim,visionLayers,lr*1e4,steps
        let suite = try TaskSuite(seed: 0, bank: try DigitBank.load())
        var config = ModelConfig(vocab: Tokenizer.standard.vocabSize)
        config.patch = parts[0]; config.merge = parts[1]; config.visionDim = parts[2]; config.visionLayers = parts[3]
        config.visionMLP = 2 * parts[2]
        var rng = RNG(seed: 1)
        let model = try VisionLanguageModel(config, rng: &rng)
        let lr = Float(parts[4]) * 1e-4
        if parts.count > 6 {
            let std = Float(parts[6]) / 100
            for t in [model.vision.rowPosition, model.vision.columnPosition] { for i in 0..<t.count { t.ptr[i] = rng.normal() * std } }
        }
        if parts.count > 7 {
            let std = Float(parts[7]) / 100
            let t = model.positionEmbedding
            for i in 0..<t.count { t.ptr[i] = rng.normal() * std }
        }
        var data = try suite.examples(.captions).compactMap { try TrainingSequence($0) }
        if ProcessInfo.processInfo.environment["MSTAR_FIRST_DIGIT"] != nil {
            data = data.map { var d = $0; d.response = [d.response[1], Tokenizer.standard.eos]; return d }
        }
        let trainer = SFTTrainer(model: model, options: .init(batchSize: 32, schedule: .warmup(lr: lr, warmup: 50),
                                                              optimizer: .init(lr: lr, beta1: 0.9, beta2: 0.98, eps: 1e-8, weightDecay: 0.01)), seed: 3)
        let b = try SequenceBatch(Array(data.prefix(4)), config: model.config)
        print("EXP image sums", (0..<4).map { i in (0..<(32*48)).reduce(Float(0)) { $0 + b.images.ptr[i * 32 * 48 + $1] } }, b.tokens.prefix(20), b.targets.prefix(20))
        func diag(_ tag: String) throws {
            let b2 = try SequenceBatch(Array(data.prefix(8)), config: model.config)
            let tok = try Tensor.withoutGrad { try model.vision(b2.images) }  // [8, 24, 128]
            let n = 24 * 128
            var within = 0.0, across = 0.0, norm = 0.0
            for j in 0..<n { let a = Double(tok.ptr[j]), b = Double(tok.ptr[n + j]); across += (a - b) * (a - b); norm += a * a }
            for j in 0..<(n - 128) { let a = Double(tok.ptr[j]), b = Double(tok.ptr[j + 128]); within += (a - b) * (a - b) }
            print("EXP diag \(tag): |tok| \((norm / Double(n)).squareRoot()) across-images \((across / Double(n)).squareRoot()) across-positions \((within / Double(n)).squareRoot())")
        }
        try diag("init")
        var losses: [Float] = []
        let start = Date()
        _ = try trainer.train(data, epochs: parts[5]) { p in losses.append(p.loss)
            if p.step % 200 == 0 { try? diag("step \(p.step)") }
            if p.step % 100 == 0 { print("EXP \(spec) step \(p.step) loss \(losses.suffix(100).reduce(0, +) / 100) \(Int(Date().timeIntervalSince(start)))s") }
        }
    }
}
