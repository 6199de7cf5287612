import Foundation
import MSTaRTensor
import Testing

/// Every differentiable op against central finite differences, over random shapes.
@Suite struct GradientTests {
    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func matmul2D(transA: Bool, transB: Bool) throws {
        var rng = RNG(seed: 1)
        for _ in 0..<3 {
            let (m, n, k) = (rng.int(in: 1...5), rng.int(in: 1...5), rng.int(in: 1...5))
            let a = randn(transA ? [k, m] : [m, k], &rng), b = randn(transB ? [n, k] : [k, n], &rng)
            try checkGradients([a, b]) { try matmul($0[0], $0[1], transA: transA, transB: transB) }
        }
    }

    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func matmulBatched(transA: Bool, transB: Bool) throws {
        var rng = RNG(seed: 2)
        let (bt, m, n, k) = (3, 4, 2, 5)
        let a = randn(transA ? [bt, k, m] : [bt, m, k], &rng)
        let b = randn(transB ? [bt, n, k] : [bt, k, n], &rng)
        try checkGradients([a, b]) { try matmul($0[0], $0[1], transA: transA, transB: transB) }
        // A shared 2-D right operand: its gradient sums over the batch.
        let shared = randn(transB ? [n, k] : [k, n], &rng)
        try checkGradients([a, shared]) { try matmul($0[0], $0[1], transA: transA, transB: transB) }
    }

    @Test func linearLayer() throws {
        var rng = RNG(seed: 3)
        let x = randn([2, 3, 4], &rng), w = randn([5, 4], &rng), b = randn([5], &rng)
        try checkGradients([x, w, b]) { try linear($0[0], $0[1], $0[2]) }
        try checkGradients([x, w]) { try linear($0[0], $0[1]) }
    }

    @Test(arguments: [
        ([3, 4], [3, 4]), ([3, 4], [4]), ([4], [3, 4]), ([2, 3, 4], [1, 4]), ([2, 1, 4], [3, 1]),
        ([3, 4], [1]), ([2, 3, 1], [2, 1, 5]),
    ])
    func broadcastingBinaryOps(_ sa: [Int], _ sb: [Int]) throws {
        var rng = RNG(seed: 4)
        let a = randn(sa, &rng), b = randn(sb, &rng)
        try checkGradients([a, b]) { try add($0[0], $0[1]) }
        try checkGradients([a, b]) { try sub($0[0], $0[1]) }
        try checkGradients([a, b]) { try mul($0[0], $0[1]) }
        // Keep the divisor away from zero.
        let d = Tensor.full(sb, 0)
        for i in 0..<d.count { d.ptr[i] = (rng.uniform() < 0.5 ? -1 : 1) * rng.uniform(1, 2) }
        try checkGradients([a, d]) { try div($0[0], $0[1]) }
        try checkGradients([a, b]) { try minimum($0[0], $0[1]) }
        try checkGradients([a, b]) { try maximum($0[0], $0[1]) }
    }

    @Test func sumToShapeReducesBroadcast() throws {
        var rng = RNG(seed: 5)
        let x = randn([2, 3, 4], &rng)
        try checkGradients([x]) { try sumToShape($0[0], [3, 1]) }
        let s = try sumToShape(x, [1, 4])
        var expect = [Float](repeating: 0, count: 4)
        for i in 0..<24 { expect[i % 4] += x.ptr[i] }
        #expect(maxAbsDiff(s.array, expect) < 1e-5)
    }

    @Test func activationsAndMath() throws {
        var rng = RNG(seed: 6)
        for shape in [[7], [3, 5], [2, 2, 3]] {
            let x = randn(shape, std: 1.5, &rng)
            try checkGradients([x]) { gelu($0[0]) }
            try checkGradients([x]) { silu($0[0]) }
            try checkGradients([x]) { sigmoid($0[0]) }
            try checkGradients([x]) { tanh($0[0]) }
            try checkGradients([x]) { exp($0[0]) }
            try checkGradients([x]) { square($0[0]) }
            try checkGradients([x]) { neg($0[0]) }
            try checkGradients([x]) { scale($0[0], -2.5) }
            try checkGradients([x]) { shift($0[0], 0.7) }
            // Keep inputs away from the kinks and singularities.
            let away = Tensor.full(shape, 0)
            for i in 0..<away.count { away.ptr[i] = (rng.uniform() < 0.5 ? -1 : 1) * rng.uniform(0.2, 2) }
            try checkGradients([away]) { relu($0[0]) }
            try checkGradients([away]) { clamp($0[0], -1, 1) }
            let positive = Tensor.full(shape, 0)
            for i in 0..<positive.count { positive.ptr[i] = rng.uniform(0.5, 3) }
            try checkGradients([positive]) { log($0[0]) }
            try checkGradients([positive]) { sqrt($0[0]) }
        }
    }

    @Test func reductions() throws {
        var rng = RNG(seed: 7)
        let x = randn([3, 4, 5], &rng)
        try checkGradients([x]) { sum($0[0]) }
        try checkGradients([x]) { mean($0[0]) }
        for axis in [0, 1, 2, -1] {
            try checkGradients([x]) { try sum($0[0], axis: axis) }
            try checkGradients([x]) { try mean($0[0], axis: axis, keepDim: true) }
            try checkGradients([x]) { try max($0[0], axis: axis) }
        }
    }

    @Test func softmaxAndLogSoftmax() throws {
        var rng = RNG(seed: 8)
        for shape in [[5], [3, 7], [2, 3, 4]] {
            let x = randn(shape, std: 2, &rng)
            try checkGradients([x]) { try softmax($0[0]) }
            try checkGradients([x]) { try logSoftmax($0[0]) }
        }
    }

    @Test func norms() throws {
        var rng = RNG(seed: 9)
        for shape in [[4, 6], [2, 3, 5]] {
            let c = shape.last!
            let x = randn(shape, &rng), w = randn([c], &rng), b = randn([c], &rng)
            try checkGradients([x, w, b]) { try layerNorm($0[0], weight: $0[1], bias: $0[2]) }
            try checkGradients([x, w]) { try rmsNorm($0[0], weight: $0[1]) }
        }
    }

    @Test func embeddingScatterAdd() throws {
        var rng = RNG(seed: 10)
        let table = randn([6, 4], &rng)
        let ids: [Int32] = [0, 3, 3, 5, 0, 0]  // repeated ids must accumulate
        try checkGradients([table]) { try embedding(ids, $0[0], shape: [2, 3]) }
    }

    @Test func crossEntropyWithIgnoreMaskAndWeights() throws {
        var rng = RNG(seed: 11)
        let logits = randn([6, 5], std: 2, &rng)
        let targets: [Int32] = [1, -1, 4, 0, -1, 2]
        try checkGradients([logits]) { try crossEntropy($0[0], targets) }
        try checkGradients([logits]) { try crossEntropy($0[0], targets, weights: [1, 2, 0.5, -1, 3, 0.25]) }
        try checkGradients([logits]) { try tokenLogProbs($0[0], [1, 0, 4, 0, 3, 2]) }
    }

    @Test func binaryCrossEntropyOnLogits() throws {
        var rng = RNG(seed: 21)
        let logits = randn([2, 4], std: 2, &rng)
        let labels: [Float] = [1, 0, 0.25, 1, 0, 0.5, 1, 0]
        let weights: [Float] = [1, 1, 2, 0, 1, 0.5, 1, 0]
        try checkGradients([logits]) { try binaryCrossEntropy(logits: $0[0], labels: labels, weights: weights) }
        // Value against the textbook form -y·log σ(x) - (1-y)·log(1-σ(x)), in Double.
        var num = 0.0, den = 0.0
        for i in 0..<8 {
            let x = Double(logits.ptr[i]), y = Double(labels[i]), w = Double(weights[i]), s = 1 / (1 + exp(-x))
            num += w * (-y * log(s) - (1 - y) * log(1 - s)); den += w
        }
        let loss = try binaryCrossEntropy(logits: logits, labels: labels, weights: weights).item
        #expect(abs(Double(loss) - num / den) < 1e-5)
        // Large logits stay finite.
        let big = try Tensor([80, -80], shape: [2])
        #expect(try binaryCrossEntropy(logits: big, labels: [0, 1], weights: [1, 1]).item.isFinite)
    }

    @Test(arguments: [true, false])
    func fusedAttention(causal: Bool) throws {
        var rng = RNG(seed: 12)
        for (b, t, heads, hs) in [(2, 5, 2, 3), (1, 7, 3, 2), (3, 1, 1, 4)] {
            let qkv = randn([b, t, 3 * heads * hs], &rng)
            try checkGradients([qkv]) { try selfAttention($0[0], heads: heads, causal: causal) }
            try checkGradients([qkv]) { try attentionReference($0[0], heads: heads, causal: causal) }
        }
    }

    @Test func layoutOps() throws {
        var rng = RNG(seed: 13)
        let x = randn([2, 3, 4], &rng), y = randn([2, 2, 4], &rng)
        try checkGradients([x]) { try permute($0[0], [2, 0, 1]) }
        try checkGradients([x]) { try transposed($0[0]) }
        try checkGradients([x]) { try $0[0].reshaped([4, -1]) }
        try checkGradients([x]) { try $0[0].rows(1, 1) }
        try checkGradients([x, y]) { try concat([$0[0], $0[1]], axis: 1) }
        try checkGradients([x]) { try narrow($0[0], axis: 2, start: 1, length: 2) }
    }

    @Test func dropoutUsesItsSeededMask() throws {
        var rng = RNG(seed: 14)
        let x = randn([4, 5], &rng)
        // The same seed gives the same mask on every evaluation, so the op is a fixed function.
        try checkGradients([x]) { xs in
            var r = RNG(seed: 5)
            return try dropout(xs[0], p: 0.3, rng: &r)
        }
        var r = RNG(seed: 5)
        let y = try dropout(x, p: 0.3, rng: &r)
        let zeros = y.array.filter { $0 == 0 }.count
        #expect(zeros > 0 && zeros < 20)
        for i in 0..<20 where y.ptr[i] != 0 { #expect(abs(y.ptr[i] - x.ptr[i] / 0.7) < 1e-5) }
    }

    @Test func composedGraphAccumulatesThroughSharedNodes() throws {
        // x feeds three branches; its gradient must be the sum of all three.
        var rng = RNG(seed: 15)
        let x = randn([3, 4], &rng), w = randn([4, 4], &rng)
        try checkGradients([x, w]) { v in
            let h = try matmul(v[0], v[1])
            return try add(try mul(h, v[0]), try softmax(try add(h, gelu(v[0]))))
        }
    }

    @Test func gradientsAccumulateAcrossBackwardCalls() throws {
        var rng = RNG(seed: 16)
        let w = randn([3, 3], &rng)
        w.requiresGrad = true
        let x = randn([2, 3], &rng)
        try sum(try matmul(x, w)).backward()
        let once = w.grad!.array
        try sum(try matmul(x, w)).backward()
        #expect(maxAbsDiff(w.grad!.array, once.map { 2 * $0 }) < 1e-5)
        w.zeroGrad()
        #expect(w.grad == nil)
    }
}

@Suite struct ConvolutionGradientTests {
    @Test(arguments: [(3, 1, 1), (2, 2, 0), (3, 2, 1)])
    func unfoldWindows(kernel: Int, stride: Int, padding: Int) throws {
        var rng = RNG(seed: 17)
        let x = randn([2, 5, 6, 3], &rng)
        try checkGradients([x]) { try unfold($0[0], kernel: kernel, stride: stride, padding: padding) }
    }

    @Test func convolutionAsUnfoldAndLinear() throws {
        var rng = RNG(seed: 18)
        let x = randn([1, 4, 4, 2], &rng), w = randn([3, 18], &rng), b = randn([3], &rng)
        try checkGradients([x, w, b]) { try maxPool2(gelu(try linear(try unfold($0[0], kernel: 3, padding: 1), $0[1], $0[2]))) }
    }

    @Test func maxPoolPicksWindowMaxima() throws {
        let x = try Tensor([1, 5, 2, 0,  3, 4, 9, 8,  7, 6, 1, 1,  0, 2, 3, 4], shape: [1, 4, 4, 1])
        let y = try maxPool2(x)
        #expect(y.shape == [1, 2, 2, 1])
        #expect(y.array == [5, 9, 7, 4])
        // Unfold of a 3x3 window at the top-left corner with padding 1 sees zeros outside.
        let u = try unfold(x, kernel: 3, padding: 1)
        #expect(Array(u.array.prefix(9)) == [0, 0, 0, 0, 1, 5, 0, 3, 4])
    }
}
