import Foundation
import MSTaRModel
import MSTaRTensor
import Testing

@Suite struct TransformerTests {
    /// A tiny GPT learns to continue sequences that repeat a random 3-token motif: after the first
    /// period every next token is determined, which only attention over earlier positions can learn.
    @Test func tinyTransformerLearnsToCopyAMotif() throws {
        var rng = RNG(seed: 60)
        let config = GPT.Config(vocab: 12, dModel: 32, layers: 2, heads: 2, mlpHidden: 64, maxSeq: 12)
        let model = GPT(config, rng: &rng)
        let opt = AdamW(params: model.parameters, config: .init(lr: 3e-3, weightDecay: 0.01))
        let (batch, seq) = (16, 12)
        var loss: Float = 0
        for _ in 0..<250 {
            var ids: [Int32] = [], targets: [Int32] = []
            for _ in 0..<batch {
                let motif = (0..<3).map { _ in Int32(rng.int(below: config.vocab)) }
                let row = (0...seq).map { motif[$0 % 3] }
                ids += row[0..<seq]
                // Positions before the motif has been seen once are unpredictable: no loss there.
                targets += (1...seq).map { $0 < 3 ? -1 : row[$0] }
            }
            opt.zeroGrad()
            let l = try crossEntropy(try model(ids, batch: batch, seq: seq), targets)
            try l.backward()
            clipGradNorm(model.parameters, maxNorm: 1)
            opt.update()
            loss = l.item
        }
        // Chance is ln 12 ≈ 2.48; copying the motif drives the loss towards 0.
        #expect(loss < 0.3, "final loss \(loss)")
    }

    @Test func gptGradientsMatchFiniteDifferencesOnSampledWeights() throws {
        var rng = RNG(seed: 61)
        let config = GPT.Config(vocab: 7, dModel: 8, layers: 1, heads: 2, mlpHidden: 12, maxSeq: 5)
        let model = GPT(config, rng: &rng)
        // Larger weights than the 0.02 init, so every path carries signal.
        for p in model.parameters where p.rank == 2 { for i in 0..<p.count { p.ptr[i] = rng.normal() * 0.5 } }
        let ids: [Int32] = [1, 4, 2, 6, 0, 3, 3, 5, 1, 2]
        let targets: [Int32] = [4, 2, 6, 0, -1, 3, 5, 1, 2, 6]
        let loss = try crossEntropy(try model(ids, batch: 2, seq: 5), targets)
        try loss.backward()
        var checked = 0
        for (name, p) in model.namedParameters {
            let g = try #require(p.grad, "\(name) has no gradient")
            for _ in 0..<4 {
                let i = rng.int(below: p.count)
                let saved = p.ptr[i]
                let eps: Float = 1e-2
                p.ptr[i] = saved + eps
                let up = try Tensor.withoutGrad { try crossEntropy(try model(ids, batch: 2, seq: 5), targets).item }
                p.ptr[i] = saved - eps
                let down = try Tensor.withoutGrad { try crossEntropy(try model(ids, batch: 2, seq: 5), targets).item }
                p.ptr[i] = saved
                let numeric = (up - down) / (2 * eps)
                #expect(abs(g.ptr[i] - numeric) <= 2e-3 + 5e-2 * abs(numeric), "\(name)[\(i)]: \(g.ptr[i]) vs \(numeric)")
                checked += 1
            }
        }
        #expect(checked == model.namedParameters.count * 4)
    }
}

@Suite struct DeterminismTests {
    /// Training with two threads (BLAS and element-wise workers) repeats to the byte.
    @Test func twoThreadTrainingIsByteIdenticalRunToRun() throws {
        func run() throws -> [[Float]] {
            var rng = RNG(seed: 70)
            let config = GPT.Config(vocab: 32, dModel: 64, layers: 2, heads: 4, mlpHidden: 128, maxSeq: 40)
            let model = GPT(config, rng: &rng)
            let opt = AdamW(params: model.parameters)
            for _ in 0..<3 {
                let ids = (0..<(8 * 40)).map { _ in Int32(rng.int(below: 32)) }
                opt.zeroGrad()
                try crossEntropy(try model(ids, batch: 8, seq: 40), ids).backward()
                clipGradNorm(model.parameters, maxNorm: 1)
                opt.update()
            }
            return model.parameters.map(\.array)
        }
        let (a, b) = try Runtime.withThreads(2) { (try run(), try run()) }
        #expect(a == b)
    }
}
