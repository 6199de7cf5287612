import Foundation
import MSTaRTensor
import Testing

/// A two-layer perceptron with its own seeded data: small enough to train in a test.
private final class TwoLayerNet {
    let w1, b1, w2, b2: Tensor
    init(rng: inout RNG) {
        w1 = Init.kaimingNormal([16, 2], rng: &rng); b1 = .zeros([16])
        w2 = Init.xavierUniform([2, 16], rng: &rng); b2 = .zeros([2])
        for (n, p) in [("w1", w1), ("b1", b1), ("w2", w2), ("b2", b2)] { p.name = n; p.requiresGrad = true }
    }
    var params: [Tensor] { [w1, b1, w2, b2] }
    func loss(_ x: Tensor, _ y: [Int32], dropoutRNG: inout RNG) throws -> Tensor {
        let h = try dropout(try linear(x, w1, b1), p: 0.1, rng: &dropoutRNG)
        return try crossEntropy(try linear(tanh(h), w2, b2), y)
    }
}

/// XOR-style quadrant classification: label 1 when x·y > 0.
private func xorBatch(_ n: Int, _ rng: inout RNG) throws -> (Tensor, [Int32]) {
    var xs: [Float] = [], ys: [Int32] = []
    for _ in 0..<n {
        let a = rng.uniform(-1, 1), b = rng.uniform(-1, 1)
        xs += [a, b]; ys.append(a * b > 0 ? 1 : 0)
    }
    return (try Tensor(xs, shape: [n, 2]), ys)
}

@Suite struct TrainingTests {
    @Test func twoLayerNetLearnsXOR() throws {
        var rng = RNG(seed: 50)
        let net = TwoLayerNet(rng: &rng)
        let opt = AdamW(params: net.params, config: .init(lr: 0.02, weightDecay: 0))
        var dropRNG = RNG(seed: 51)
        var first: Float = 0, last: Float = 0
        for step in 0..<300 {
            let (x, y) = try xorBatch(64, &rng)
            opt.zeroGrad()
            let loss = try net.loss(x, y, dropoutRNG: &dropRNG)
            try loss.backward()
            clipGradNorm(net.params, maxNorm: 1)
            opt.update(lr: LRSchedule.cosine(lr: 0.02, warmup: 10, total: 300, minLR: 0.002).lr(at: step))
            if step == 0 { first = loss.item }
            last = loss.item
        }
        #expect(first > 0.6)  // chance level is ln 2 ≈ 0.69
        #expect(last < 0.25, "final loss \(last)")
    }

    /// Trains `steps` steps from the given state and returns the parameter bytes.
    private func train(_ net: TwoLayerNet, _ opt: AdamW, _ data: inout RNG, _ drop: inout RNG, steps: Int) throws -> [[Float]] {
        for _ in 0..<steps {
            let (x, y) = try xorBatch(32, &data)
            opt.zeroGrad()
            try net.loss(x, y, dropoutRNG: &drop).backward()
            clipGradNorm(net.params, maxNorm: 1)
            opt.update()
        }
        return net.params.map(\.array)
    }

    @Test func savingAndRestoringOptimizerAndRNGContinuesBitForBit() throws {
        var rng = RNG(seed: 52)
        let net = TwoLayerNet(rng: &rng)
        let opt = AdamW(params: net.params, config: .init(lr: 0.01))
        var data = RNG(seed: 53), drop = RNG(seed: 54)
        _ = try train(net, opt, &data, &drop, steps: 7)

        // Save everything a resume needs: weights, optimizer moments and step, both RNG states.
        let dir = try temporaryDirectory()
        try SafeTensors.write(net.params.map { ($0.name!, $0) }, to: dir.appendingPathComponent("model.safetensors"))
        try SafeTensors.write(opt.stateTensors(), metadata: ["step": String(opt.step)],
                              to: dir.appendingPathComponent("optimizer.safetensors"))
        try JSONEncoder().encode([data, drop]).write(to: dir.appendingPathComponent("rng.json"))

        let uninterrupted = try train(net, opt, &data, &drop, steps: 6)

        var other = RNG(seed: 999)  // different initial weights, all overwritten by the load
        let resumedNet = TwoLayerNet(rng: &other)
        let model = try SafeTensors.read(dir.appendingPathComponent("model.safetensors"))
        for p in resumedNet.params { p.ptr.update(from: model.tensors[p.name!]!.ptr, count: p.count) }
        let resumedOpt = AdamW(params: resumedNet.params, config: .init(lr: 0.01))
        let optFile = try SafeTensors.read(dir.appendingPathComponent("optimizer.safetensors"))
        try resumedOpt.loadState(optFile.tensors, step: Int(optFile.metadata["step"]!)!)
        let rngs = try JSONDecoder().decode([RNG].self, from: Data(contentsOf: dir.appendingPathComponent("rng.json")))
        var data2 = rngs[0], drop2 = rngs[1]
        let resumed = try train(resumedNet, resumedOpt, &data2, &drop2, steps: 6)

        #expect(resumed == uninterrupted)
        #expect(resumedOpt.step == opt.step)
    }

    @Test func sameSeedGivesIdenticalBytes() throws {
        func run() throws -> [[Float]] {
            var rng = RNG(seed: 55)
            let net = TwoLayerNet(rng: &rng)
            let opt = AdamW(params: net.params)
            var data = RNG(seed: 56), drop = RNG(seed: 57)
            return try train(net, opt, &data, &drop, steps: 5)
        }
        #expect(try run() == run())
    }

    @Test func loadingMismatchedOptimizerStateIsRefused() throws {
        let p = Tensor.zeros([2, 2]); p.name = "w"
        let opt = AdamW(params: [p])
        #expect(throws: TensorError.self) { try opt.loadState(["m.w": .zeros([2, 2])], step: 1) }  // v.w missing
        #expect(throws: TensorError.self) { try opt.loadState(["m.w": .zeros([3]), "v.w": .zeros([2, 2])], step: 1) }
    }
}
