import Foundation
import MSTaRTensor
import Testing

/// Kernels against plain reference loops computed in Double.
@Suite struct KernelTests {
    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func sgemmMatchesTripleLoop(transA: Bool, transB: Bool) throws {
        var rng = RNG(seed: 20)
        let (m, n, k) = (17, 9, 33)
        let a = randn(transA ? [k, m] : [m, k], &rng), b = randn(transB ? [n, k] : [k, n], &rng)
        let c = try matmul(a, b, transA: transA, transB: transB)
        for i in 0..<m {
            for j in 0..<n {
                var s = 0.0
                for p in 0..<k {
                    let av = transA ? a[p, i] : a[i, p], bv = transB ? b[j, p] : b[p, j]
                    s += Double(av) * Double(bv)
                }
                #expect(abs(Double(c[i, j]) - s) < 1e-4)
            }
        }
    }

    @Test func linearMatchesLoop() throws {
        var rng = RNG(seed: 21)
        let x = randn([5, 7], &rng), w = randn([3, 7], &rng), b = randn([3], &rng)
        let y = try linear(x, w, b)
        for i in 0..<5 {
            for o in 0..<3 {
                var s = Double(b[o])
                for p in 0..<7 { s += Double(x[i, p]) * Double(w[o, p]) }
                #expect(abs(Double(y[i, o]) - s) < 1e-5)
            }
        }
    }

    @Test func fastExpAndTanhAgainstLibm() {
        var worstExp: Double = 0, worstTanh: Double = 0
        var x: Float = -80
        while x < 80 {
            let e = Double(fastExp(x)), ref = Foundation.exp(Double(x))
            worstExp = max(worstExp, abs(e - ref) / ref)
            x += 0.0137
        }
        x = -12
        while x < 12 {
            worstTanh = max(worstTanh, abs(Double(fastTanh(x)) - Foundation.tanh(Double(x))))
            x += 0.001
        }
        #expect(worstExp < 5e-7)
        #expect(worstTanh < 5e-7)
        #expect(fastExp(-200) == 0)
        #expect(fastExp(-Float.infinity) == 0)
        #expect(fastExp(.nan).isNaN)
    }

    /// The 8-lane exp gives every lane exactly the scalar version's bits, out of range included.
    @Test func vectorFastExpEqualsScalar() {
        var rng = RNG(seed: 12)
        var xs: [Float] = [-200, -87.5, -87.33654, -1e-30, 0, 1e-30, 88.7, 100, -.infinity]
        xs += (0..<4000).map { _ in (rng.uniform() * 2 - 1) * 100 }
        while xs.count % 8 != 0 { xs.append(0.5) }
        for i in stride(from: 0, to: xs.count, by: 8) {
            let v = fastExp(SIMD8<Float>(xs[i..<(i + 8)]))
            for j in 0..<8 { #expect(v[j].bitPattern == fastExp(xs[i + j]).bitPattern, "exp(\(xs[i + j]))") }
        }
    }

    @Test func softmaxAndNormsMatchLoops() throws {
        var rng = RNG(seed: 22)
        let x = randn([4, 9], std: 3, &rng), w = randn([9], &rng), b = randn([9], &rng)
        let sm = try softmax(x), lsm = try logSoftmax(x)
        let ln = try layerNorm(x, weight: w, bias: b), rn = try rmsNorm(x, weight: w)
        for i in 0..<4 {
            let row = (0..<9).map { Double(x[i, $0]) }
            let mx = row.max()!
            let z = row.reduce(0) { $0 + Foundation.exp($1 - mx) }
            let mu = row.reduce(0, +) / 9
            let varc = row.reduce(0) { $0 + ($1 - mu) * ($1 - mu) } / 9
            let ms = row.reduce(0) { $0 + $1 * $1 } / 9
            for j in 0..<9 {
                #expect(abs(Double(sm[i, j]) - Foundation.exp(row[j] - mx) / z) < 1e-6)
                #expect(abs(Double(lsm[i, j]) - (row[j] - mx - Foundation.log(z))) < 1e-5)
                let lnRef = (row[j] - mu) / (varc + 1e-5).squareRoot() * Double(w[j]) + Double(b[j])
                #expect(abs(Double(ln[i, j]) - lnRef) < 1e-4)
                let rnRef = row[j] / (ms + 1e-5).squareRoot() * Double(w[j])
                #expect(abs(Double(rn[i, j]) - rnRef) < 1e-4)
            }
        }
    }

    @Test func geluMatchesFormula() {
        var rng = RNG(seed: 23)
        let x = randn([200], std: 3, &rng)
        let y = gelu(x)
        for i in 0..<200 {
            let v = Double(x.ptr[i])
            let ref = 0.5 * v * (1 + Foundation.tanh(0.7978845608 * (v + 0.044715 * v * v * v)))
            #expect(abs(Double(y.ptr[i]) - ref) < 1e-5)
        }
    }

    @Test func crossEntropyMatchesLoop() throws {
        var rng = RNG(seed: 24)
        let logits = randn([5, 6], std: 2, &rng)
        let targets: [Int32] = [2, -1, 0, 5, -1]
        let loss = try crossEntropy(logits, targets).item
        var total = 0.0, n = 0.0
        for i in 0..<5 where targets[i] >= 0 {
            let row = (0..<6).map { Double(logits[i, $0]) }
            let lse = Foundation.log(row.reduce(0) { $0 + Foundation.exp($1) })
            total += lse - row[Int(targets[i])]
            n += 1
        }
        #expect(abs(Double(loss) - total / n) < 1e-5)
    }

    @Test(arguments: [true, false])
    func fusedAttentionMatchesLoopAndComposedOps(causal: Bool) throws {
        var rng = RNG(seed: 25)
        let (b, t, heads, hs) = (2, 6, 2, 4)
        let c = heads * hs
        let qkv = randn([b, t, 3 * c], &rng)
        let fused = try selfAttention(qkv, heads: heads, causal: causal)
        let composed = try attentionReference(qkv, heads: heads, causal: causal)
        #expect(maxAbsDiff(fused.array, composed.array) < 1e-5)
        // Plain loop in Double.
        for bi in 0..<b {
            for h in 0..<heads {
                for i in 0..<t {
                    let visible = causal ? i + 1 : t
                    var scores = [Double](repeating: 0, count: visible)
                    for j in 0..<visible {
                        var s = 0.0
                        for d in 0..<hs { s += Double(qkv[bi, i, h * hs + d]) * Double(qkv[bi, j, c + h * hs + d]) }
                        scores[j] = s / Double(hs).squareRoot()
                    }
                    let mx = scores.max()!
                    let e = scores.map { Foundation.exp($0 - mx) }
                    let z = e.reduce(0, +)
                    for d in 0..<hs {
                        var o = 0.0
                        for j in 0..<visible { o += e[j] / z * Double(qkv[bi, j, 2 * c + h * hs + d]) }
                        #expect(abs(Double(fused[bi, i, h * hs + d]) - o) < 1e-5)
                    }
                }
            }
        }
    }

    /// Attention for later positions only (cached prefixes continued), each batch row from its
    /// own start, gives those positions the bits of the whole sequence's attention, padded after
    /// or not, and refuses to record a gradient.
    @Test func attentionFromALaterPositionHasTheWholeSequencesBits() throws {
        var rng = RNG(seed: 26)
        let (b, t, heads, hs) = (3, 9, 2, 4)
        let c = heads * hs
        let qkv = randn([b, t, 3 * c], &rng)
        let whole = try selfAttention(qkv, heads: heads, causal: true)
        for (starts, count) in [([0, 0, 0], 9), ([1, 5, 8], 1), ([2, 0, 4], 5), ([3, 3, 3], 2)] {
            let later = try Tensor.withoutGrad { try selfAttention(qkv, heads: heads, queriesFrom: starts, count: count) }
            #expect(later.shape == [b, count, c])
            for bi in 0..<b {
                for i in 0..<count {
                    for f in 0..<c { #expect(later[bi, i, f].bitPattern == whole[bi, starts[bi] + i, f].bitPattern, "\(starts) row \(bi)") }
                }
            }
        }
        #expect(throws: TensorError.self) { try Tensor.withoutGrad { try selfAttention(qkv, heads: heads, queriesFrom: [8, 0, 0], count: 2) } }
        qkv.requiresGrad = true
        #expect(throws: TensorError.self) { try selfAttention(qkv, heads: heads, queriesFrom: [1, 1, 1], count: 1) }
    }

    @Test func embeddingAndLayoutOpsMatchLoops() throws {
        var rng = RNG(seed: 26)
        let table = randn([5, 3], &rng)
        let e = try embedding([4, 0, 4], table)
        for (r, id) in [4, 0, 4].enumerated() { for j in 0..<3 { #expect(e[r, j] == table[id, j]) } }
        let x = randn([2, 3, 4], &rng)
        let p = try permute(x, [2, 0, 1])
        for i in 0..<2 { for j in 0..<3 { for k in 0..<4 { #expect(p[k, i, j] == x[i, j, k]) } } }
        let cat = try concat([x, try narrow(x, axis: 1, start: 1, length: 2)], axis: 1)
        #expect(cat.shape == [2, 5, 4])
        for i in 0..<2 { for k in 0..<4 { #expect(cat[i, 3, k] == x[i, 1, k] && cat[i, 4, k] == x[i, 2, k]) } }
    }

    @Test func parallelKernelsGiveTheSameBytesAsSerial() throws {
        // Element-wise and attention kernels split work by thread count; outputs must not change.
        var rng = RNG(seed: 27)
        let x = randn([64, 1024], &rng)
        let qkv = randn([4, 16, 48], &rng)
        let serial = (gelu(x).array, try softmax(x).array, try selfAttention(qkv, heads: 4).array)
        let parallel = try Runtime.withThreads(2) { (gelu(x).array, try softmax(x).array, try selfAttention(qkv, heads: 4).array) }
        #expect(serial.0 == parallel.0 && serial.1 == parallel.1 && serial.2 == parallel.2)
    }
}

