import Foundation
import MSTaRTensor
import Testing

@Suite struct OptimizerTests {
    @Test func adamWMatchesAPlainDoubleImplementation() throws {
        var rng = RNG(seed: 30)
        let p = randn([4, 3], &rng), bias = randn([3], &rng)
        let config = AdamW.Config(lr: 0.01, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1)
        let opt = AdamW(params: [p, bias], config: config)
        var ref = [p.array.map(Double.init), bias.array.map(Double.init)]
        var m = ref.map { $0.map { _ in 0.0 } }, v = m
        for step in 1...5 {
            let grads = [randn([4, 3], &rng), randn([3], &rng)]
            p.grad = grads[0]; bias.grad = grads[1]
            opt.update()
            for k in 0..<2 {
                let decay = k == 0  // matrices decay, vectors do not
                for j in 0..<ref[k].count {
                    let g = Double(grads[k].ptr[j])
                    m[k][j] = 0.9 * m[k][j] + 0.1 * g
                    v[k][j] = 0.99 * v[k][j] + 0.01 * g * g
                    let mh = m[k][j] / (1 - pow(0.9, Double(step))), vh = v[k][j] / (1 - pow(0.99, Double(step)))
                    if decay { ref[k][j] *= 1 - 0.01 * 0.1 }
                    ref[k][j] -= 0.01 * mh / (vh.squareRoot() + 1e-8)
                }
            }
        }
        #expect(maxAbsDiff(p.array, ref[0].map(Float.init)) < 1e-5)
        #expect(maxAbsDiff(bias.array, ref[1].map(Float.init)) < 1e-5)
        #expect(opt.step == 5)
    }

    @Test func clippingScalesToTheGlobalNorm() throws {
        let a = Tensor.zeros([2]), b = Tensor.zeros([1])
        a.grad = try Tensor([3, 0], shape: [2]); b.grad = try Tensor([4], shape: [1])
        let norm = clipGradNorm([a, b], maxNorm: 1)
        #expect(abs(norm - 5) < 1e-6)
        #expect(abs(a.grad!.ptr[0] - 0.6) < 1e-5 && abs(b.grad!.ptr[0] - 0.8) < 1e-5)
        // Below the limit nothing changes.
        #expect(abs(clipGradNorm([a, b], maxNorm: 10) - 1) < 1e-4)
        #expect(abs(a.grad!.ptr[0] - 0.6) < 1e-5)
    }

    @Test func schedules() {
        #expect(LRSchedule.constant(lr: 0.1).lr(at: 1000) == 0.1)
        let w = LRSchedule.warmup(lr: 1, warmup: 4)
        #expect(w.lr(at: 0) == 0.25 && w.lr(at: 3) == 1 && w.lr(at: 50) == 1)
        let c = LRSchedule.cosine(lr: 1, warmup: 2, total: 12, minLR: 0.1)
        #expect(c.lr(at: 0) == 0.5 && c.lr(at: 2) == 1)
        #expect(abs(c.lr(at: 7) - 0.55) < 1e-6)  // halfway through the decay
        #expect(abs(c.lr(at: 12) - 0.1) < 1e-6 && abs(c.lr(at: 100) - 0.1) < 1e-6)
        let l = LRSchedule.linear(lr: 1, warmup: 0, total: 10, minLR: 0)
        #expect(abs(l.lr(at: 5) - 0.5) < 1e-6)
    }
}
