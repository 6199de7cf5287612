import MSTaRTensor

/// A small ViT: patch embedding of the grey scene, learned 2-D position embeddings (one per patch
/// row plus one per patch column), non-causal encoder blocks, then a patch merger and projector
/// that turn each `merge × merge` square of patches into one token of the language model's width.
public final class VisionEncoder {
    /// The model's sizes and choices.
    public let config: ModelConfig
    /// Patch embedding [visionDim, window² or stem channels] and bias; position vectors per patch row and column.
    public let patchWeight, patchBias, rowPosition, columnPosition: Tensor
    /// The convolutional stem's weights ([out, 3·3·in]) and biases; empty for the patch stem.
    public let stemWeights: [Tensor], stemBiases: [Tensor]
    /// The non-causal encoder blocks.
    public let blocks: [TransformerBlock]
    /// Final norm's weight and bias [visionDim].
    public let normWeight, normBias: Tensor
    /// The projector: merged patches [visionDim·merge²] → dModel, GELU, then dModel → dModel.
    public let projector1Weight, projector1Bias, projector2Weight, projector2Bias: Tensor

    /// A freshly initialised encoder for `config`.
    public init(_ config: ModelConfig, rng: inout RNG) {
        self.config = config
        let d = config.visionDim
        var stemWeights: [Tensor] = [], stemBiases: [Tensor] = []
        if config.stem == .conv {
            var inC = 1
            for outC in config.stemChannels {
                stemWeights.append(Init.kaimingNormal([outC, 9 * inC], rng: &rng))
                stemBiases.append(.zeros([outC]))
                inC = outC
            }
        }
        self.stemWeights = stemWeights
        self.stemBiases = stemBiases
        let fanIn = config.stem == .conv ? config.stemChannels.last! : config.window * config.window
        patchWeight = Init.normal([d, fanIn], std: 1 / Float(fanIn).squareRoot(), rng: &rng)
        patchBias = .zeros([d])
        rowPosition = Init.normal([config.gridHeight, d], std: 0.02, rng: &rng)
        columnPosition = Init.normal([config.gridWidth, d], std: 0.02, rng: &rng)
        var blocks: [TransformerBlock] = []
        for _ in 0..<config.visionLayers {
            blocks.append(TransformerBlock(dModel: d, heads: config.visionHeads, mlpHidden: config.visionMLP, causal: false,
                                           norm: config.norm, mlp: config.mlp, depth: config.visionLayers, rng: &rng))
        }
        self.blocks = blocks
        normWeight = .full([d], 1); normBias = .zeros([d])
        let merged = d * config.merge * config.merge
        projector1Weight = Init.normal([config.dModel, merged], std: 0.02, rng: &rng)
        projector1Bias = .zeros([config.dModel])
        projector2Weight = Init.normal([config.dModel, config.dModel], std: 0.02, rng: &rng)
        projector2Bias = .zeros([config.dModel])
    }

    /// Every parameter with its checkpoint name (without the `vision.` prefix), in a fixed order.
    public var namedParameters: [(String, Tensor)] {
        var out: [(String, Tensor)] = []
        for (i, (w, b)) in zip(stemWeights, stemBiases).enumerated() { out += [("stem.\(i).weight", w), ("stem.\(i).bias", b)] }
        out += [("patch.weight", patchWeight), ("patch.bias", patchBias), ("pos.row", rowPosition), ("pos.column", columnPosition)]
        for (i, b) in blocks.enumerated() { out += b.namedParameters.map { ("blocks.\(i).\($0.0)", $0.1) } }
        out.append(("norm.weight", normWeight))
        if config.norm == .layerNorm { out.append(("norm.bias", normBias)) }
        out += [("projector.0.weight", projector1Weight), ("projector.0.bias", projector1Bias),
                ("projector.2.weight", projector2Weight), ("projector.2.bias", projector2Bias)]
        return out
    }

    /// Cuts `images` ([B, H, W] pixels, row-major) into one window per patch (window² pixels
    /// centred on the patch, zero outside the image), ordered so that each merge square's patches are
    /// adjacent: output [B, imageTokens · merge², window²]. Reordering here, on the input, means the
    /// merger is a plain reshape.
    func patchify(_ images: Tensor) -> Tensor {
        let c = config, b = images.shape[0]
        let (p, m, w) = (c.patch, c.merge, c.window)
        let pad = (w - p) / 2
        let out = Tensor(uninitialized: [b, c.gridHeight * c.gridWidth, w * w])
        let src = images.ptr, dst = out.ptr
        var o = 0
        for bi in 0..<b {
            let img = src + bi * c.imageHeight * c.imageWidth
            for mr in 0..<(c.gridHeight / m) {
                for mc in 0..<(c.gridWidth / m) {
                    for r in 0..<m {
                        for q in 0..<m {
                            let (pr, pc) = (mr * m + r, mc * m + q)
                            for y in 0..<w {
                                let iy = pr * p - pad + y
                                for x in 0..<w {
                                    let ix = pc * p - pad + x
                                    let inside = iy >= 0 && iy < c.imageHeight && ix >= 0 && ix < c.imageWidth
                                    dst[o] = inside ? img[iy * c.imageWidth + ix] : 0
                                    o += 1
                                }
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    /// The convolutional stem: per convolution, unfold 3 × 3 neighbourhoods, one GEMM, GELU, 2 × 2
    /// max pooling; then the grid cells are put in merge-square order, as `patchify` does.
    /// Output [B, gridHeight · gridWidth, last channel count].
    func convolutionalFeatures(_ images: Tensor) throws -> Tensor {
        let c = config, b = images.shape[0], m = c.merge
        var x = try images.reshaped([b, c.imageHeight, c.imageWidth, 1])
        for (w, bias) in zip(stemWeights, stemBiases) {
            x = try maxPool2(gelu(try linear(try unfold(x, kernel: 3, padding: 1), w, bias)))
        }
        let ch = x.shape[3]
        let squares = try x.reshaped([b, c.gridHeight / m, m, c.gridWidth / m, m, ch])
        return try permute(squares, [0, 1, 3, 2, 4, 5]).reshaped([b, c.gridHeight * c.gridWidth, ch])
    }

    /// Row and column index of each patch, in patchify's order.
    lazy var patchCoordinates: (rows: [Int32], columns: [Int32]) = {
        let c = config, m = c.merge
        var rows: [Int32] = [], cols: [Int32] = []
        for mr in 0..<(c.gridHeight / m) {
            for mc in 0..<(c.gridWidth / m) {
                for r in 0..<m { for q in 0..<m { rows.append(Int32(mr * m + r)); cols.append(Int32(mc * m + q)) } }
            }
        }
        return (rows, cols)
    }()

    /// images [B, H, W] → image tokens [B, imageTokens, dModel] (the global token first, when on).
    public func callAsFunction(_ images: Tensor) throws -> Tensor {
        let c = config, b = images.shape[0]
        guard images.rank == 3, images.shape[1] == c.imageHeight, images.shape[2] == c.imageWidth else {
            throw TensorError.shapeMismatch("vision encoder expects images [B, \(c.imageHeight), \(c.imageWidth)], got \(images.shape)")
        }
        let patches = config.stem == .conv ? try convolutionalFeatures(images) : patchify(images)
        let coords = patchCoordinates
        let position = try add(try embedding(coords.rows, rowPosition), try embedding(coords.columns, columnPosition))
        var x = try add(try linear(patches, patchWeight, patchBias), position)
        for block in blocks { x = try block(x) }
        x = c.norm == .layerNorm ? try layerNorm(x, weight: normWeight, bias: normBias) : try rmsNorm(x, weight: normWeight)
        let merged = try x.reshaped([b, c.mergedTokens, c.visionDim * c.merge * c.merge])
        let tokens = try linear(gelu(try linear(merged, projector1Weight, projector1Bias)), projector2Weight, projector2Bias)
        guard c.globalToken else { return tokens }
        return try concat([try mean(tokens, axis: 1, keepDim: true), tokens], axis: 1)
    }
}
