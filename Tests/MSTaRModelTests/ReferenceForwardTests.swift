import Foundation
import MSTaRModel
import MSTaRTasks
import MSTaRTensor
import Testing

/// A plain re-implementation of the policy's forward pass in Double, written from the model's
/// description (raster-order patches, 2-D positions, merge squares, prefix image tokens), not from
/// its code: an independent reference for the whole model.
private struct Reference {
    let model: VisionLanguageModel
    var c: ModelConfig { model.config }

    func w(_ t: Tensor) -> [[Double]] {
        let cols = t.shape.last!, rows = t.count / cols
        return (0..<rows).map { r in (0..<cols).map { Double(t.ptr[r * cols + $0]) } }
    }
    func v(_ t: Tensor) -> [Double] { (0..<t.count).map { Double(t.ptr[$0]) } }

    func linear(_ x: [[Double]], _ weight: Tensor, _ bias: Tensor?) -> [[Double]] {
        let wm = w(weight), b = bias.map(v)
        return x.map { row in wm.enumerated().map { o, wr in zip(row, wr).reduce(b?[o] ?? 0) { $0 + $1.0 * $1.1 } } }
    }
    func layerNorm(_ x: [[Double]], _ weight: Tensor, _ bias: Tensor) -> [[Double]] {
        let g = v(weight), b = v(bias)
        return x.map { row in
            let m = row.reduce(0, +) / Double(row.count)
            let varc = row.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(row.count)
            return row.enumerated().map { j, e in (e - m) / (varc + 1e-5).squareRoot() * g[j] + b[j] }
        }
    }
    func gelu(_ x: [[Double]]) -> [[Double]] {
        x.map { $0.map { 0.5 * $0 * (1 + Foundation.tanh(0.7978845608 * ($0 + 0.044715 * $0 * $0 * $0))) } }
    }
    func add(_ a: [[Double]], _ b: [[Double]]) -> [[Double]] { zip(a, b).map { zip($0, $1).map(+) } }

    func attention(_ qkv: [[Double]], heads: Int, causal: Bool) -> [[Double]] {
        let t = qkv.count, d = qkv[0].count / 3, hs = d / heads
        var out = [[Double]](repeating: [Double](repeating: 0, count: d), count: t)
        for h in 0..<heads {
            for i in 0..<t {
                let js = causal ? Array(0...i) : Array(0..<t)
                let s = js.map { j in (0..<hs).reduce(0.0) { $0 + qkv[i][h * hs + $1] * qkv[j][d + h * hs + $1] } / Double(hs).squareRoot() }
                let mx = s.max()!
                let e = s.map { Foundation.exp($0 - mx) }
                let z = e.reduce(0, +)
                for (n, j) in js.enumerated() { for q in 0..<hs { out[i][h * hs + q] += e[n] / z * qkv[j][2 * d + h * hs + q] } }
            }
        }
        return out
    }
    func block(_ x: [[Double]], _ b: TransformerBlock) -> [[Double]] {
        let a = linear(attention(linear(layerNorm(x, b.ln1Weight, b.ln1Bias), b.qkvWeight, b.qkvBias), heads: b.heads, causal: b.causal),
                       b.projWeight, b.projBias)
        let x1 = add(x, a)
        let m = linear(gelu(linear(layerNorm(x1, b.ln2Weight, b.ln2Bias), b.fc1Weight, b.fc1Bias)), b.fc2Weight, b.fc2Bias)
        return add(x1, m)
    }

    func logits(image: Canvas, tokens: [Int]) -> [[Double]] {
        let vis = model.vision, p = c.patch, m = c.merge, win = c.window, pad = (c.window - c.patch) / 2
        // Features of each grid cell in raster order, with its 2-D position.
        var patches: [[Double]] = [], rows: [Int] = [], cols: [Int] = []
        if c.stem == .conv {
            // Two 3x3 convolutions (zero padding), each with GELU and 2x2 max pooling.
            var fmap: [[[Double]]] = (0..<c.imageHeight).map { y in (0..<c.imageWidth).map { x in [Double(image[y, x])] } }
            for (wt, bt) in zip(vis.stemWeights, vis.stemBiases) {
                let wm = w(wt), bv = v(bt), h = fmap.count, wd = fmap[0].count, inC = fmap[0][0].count
                var conv = [[[Double]]](repeating: [[Double]](repeating: [], count: wd), count: h)
                for y in 0..<h {
                    for x in 0..<wd {
                        conv[y][x] = (0..<wm.count).map { o in
                            var s = bv[o]
                            for ky in 0..<3 {
                                for kx in 0..<3 {
                                    let (iy, ix) = (y + ky - 1, x + kx - 1)
                                    guard iy >= 0, iy < h, ix >= 0, ix < wd else { continue }
                                    for ci in 0..<inC { s += wm[o][(ky * 3 + kx) * inC + ci] * fmap[iy][ix][ci] }
                                }
                            }
                            return 0.5 * s * (1 + Foundation.tanh(0.7978845608 * (s + 0.044715 * s * s * s)))
                        }
                    }
                }
                var pooled = [[[Double]]](repeating: [[Double]](repeating: [], count: wd / 2), count: h / 2)
                for y in 0..<(h / 2) {
                    for x in 0..<(wd / 2) {
                        var cell = [Double](repeating: -Double.infinity, count: wm.count)
                        for (dy, dx) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                            for o in 0..<wm.count { cell[o] = max(cell[o], conv[2 * y + dy][2 * x + dx][o]) }
                        }
                        pooled[y][x] = cell
                    }
                }
                fmap = pooled
            }
            for gy in 0..<c.gridHeight { for gx in 0..<c.gridWidth { patches.append(fmap[gy][gx]); rows.append(gy); cols.append(gx) } }
        } else {
            for pr in 0..<c.gridHeight {
                for pc in 0..<c.gridWidth {
                    var patch: [Double] = []
                    for y in 0..<win {
                        for x in 0..<win {
                            let (iy, ix) = (pr * p - pad + y, pc * p - pad + x)
                            patch.append(iy >= 0 && iy < c.imageHeight && ix >= 0 && ix < c.imageWidth ? Double(image[iy, ix]) : 0)
                        }
                    }
                    patches.append(patch); rows.append(pr); cols.append(pc)
                }
            }
        }
        let rowPos = w(vis.rowPosition), colPos = w(vis.columnPosition)
        var x = linear(patches, vis.patchWeight, vis.patchBias).enumerated().map { i, e in
            zip(e, zip(rowPos[rows[i]], colPos[cols[i]])).map { $0 + $1.0 + $1.1 }
        }
        for b in vis.blocks { x = block(x, b) }
        x = layerNorm(x, vis.normWeight, vis.normBias)
        // Each merge square's patches, concatenated row by row.
        var merged: [[Double]] = []
        for mr in 0..<(c.gridHeight / m) {
            for mc in 0..<(c.gridWidth / m) {
                var token: [Double] = []
                for r in 0..<m { for q in 0..<m { token += x[(mr * m + r) * c.gridWidth + mc * m + q] } }
                merged.append(token)
            }
        }
        var imageTokens = linear(gelu(linear(merged, vis.projector1Weight, vis.projector1Bias)), vis.projector2Weight, vis.projector2Bias)
        if c.globalToken {
            let avg = (0..<imageTokens[0].count).map { j in imageTokens.reduce(0) { $0 + $1[j] } / Double(imageTokens.count) }
            imageTokens.insert(avg, at: 0)
        }
        let wte = w(model.tokenEmbedding), wpe = w(model.positionEmbedding)
        var h = imageTokens + tokens.enumerated().map { i, t in zip(wte[t], wpe[i]).map(+) }
        for b in model.blocks { h = block(h, b) }
        let text = layerNorm(Array(h[imageTokens.count...]), model.normWeight, model.normBias)
        return linear(text, model.tokenEmbedding, nil)
    }
}

@Suite struct ReferenceForwardTests {
    @Test func forwardMatchesPlainReference() throws {
        let model = try tinyModel(seed: 90)
        var rng = RNG(seed: 91)
        let images = try (0..<2).map { _ in try randomCanvas(&rng) }
        let tokens = [[1, 4, 2, 7, 3], [5, 5, 9, 0, 1]]
        let batch = Tensor.zeros([2, 16, 24])
        for (i, img) in images.enumerated() { img.pixels.withUnsafeBufferPointer { (batch.ptr + i * 384).update(from: $0.baseAddress!, count: 384) } }
        let logits = try model.logits(images: batch, tokens: tokens.flatMap { $0.map(Int32.init) }, batch: 2, length: 5)
        let reference = Reference(model: model)
        var worst = 0.0
        for i in 0..<2 {
            let ref = reference.logits(image: images[i], tokens: tokens[i])
            for t in 0..<5 { for j in 0..<11 { worst = max(worst, abs(Double(logits[i, t, j]) - ref[t][j])) } }
        }
        #expect(worst < 1e-4, "max difference \(worst)")
    }

    /// Gradients of the whole policy (vision encoder, projector, language model, tied head) against
    /// central differences of the SFT loss, on sampled parameter entries.
    @Test func fullModelGradientsMatchFiniteDifferences() throws {
        let model = try tinyModel(seed: 92)
        var rng = RNG(seed: 93)
        let seqs = try (0..<2).map { i in
            TrainingSequence(image: try randomCanvas(&rng), prompt: [1, 3 + i], response: [4, 6, 2])
        }
        let batch = try SequenceBatch(seqs, config: model.config)
        func loss() throws -> Float {
            try crossEntropy(try model.logits(images: batch.images, tokens: batch.tokens, batch: batch.batch, length: batch.length), batch.targets).item
        }
        let l = try crossEntropy(try model.logits(images: batch.images, tokens: batch.tokens, batch: batch.batch, length: batch.length), batch.targets)
        try l.backward()
        for (name, p) in model.namedParameters where !name.hasPrefix("score.") {
            let g = try #require(p.grad, "\(name) has no gradient")
            for _ in 0..<3 {
                let i = rng.int(below: p.count), saved = p.ptr[i], eps: Float = 1e-2
                p.ptr[i] = saved + eps
                let up = try Tensor.withoutGrad { try loss() }
                p.ptr[i] = saved - eps
                let down = try Tensor.withoutGrad { try loss() }
                p.ptr[i] = saved
                let numeric = (up - down) / (2 * eps)
                #expect(abs(g.ptr[i] - numeric) <= 3e-3 + 5e-2 * abs(numeric), "\(name)[\(i)]: \(g.ptr[i]) vs \(numeric)")
            }
        }
    }
}
