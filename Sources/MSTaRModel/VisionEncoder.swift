import MSTaRTensor

/// A small ViT: patch embedding of the grey scene, learned 2-D position embeddings (one per patch
/// row plus one per patch column), non-causal encoder blocks, then a patch merger and projector
/// that turn each `merge × merge` square of patches into one token of the language model's width.
public final class VisionEncoder {
    public let config: ModelConfig
    public let patchWeight, patchBias, rowPosition, columnPosition: Tensor
    public let blocks: [TransformerBlock]
    public let normWeight, normBias: Tensor
    public let projector1Weight, projector1Bias, projector2Weight, projector2Bias: Tensor

    public init(_ config: ModelConfig, rng: inout RNG) {
        self.config = config
        let p2 = config.patch * config.patch, d = config.visionDim
        patchWeight = Init.normal([d, p2], std: 1 / Float(p2).squareRoot(), rng: &rng)
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

    public var namedParameters: [(String, Tensor)] {
        var out: [(String, Tensor)] = [("patch.weight", patchWeight), ("patch.bias", patchBias),
                                       ("pos.row", rowPosition), ("pos.column", columnPosition)]
        for (i, b) in blocks.enumerated() { out += b.namedParameters.map { ("blocks.\(i).\($0.0)", $0.1) } }
        out.append(("norm.weight", normWeight))
        if config.norm == .layerNorm { out.append(("norm.bias", normBias)) }
        out += [("projector.0.weight", projector1Weight), ("projector.0.bias", projector1Bias),
                ("projector.2.weight", projector2Weight), ("projector.2.bias", projector2Bias)]
        return out
    }

    /// Cuts `images` ([B, H, W] pixels, row-major) into patches ordered so that each merge square's
    /// patches are adjacent: output [B, imageTokens · merge², patch²]. Reordering here, on the input,
    /// means the merger is a plain reshape.
    func patchify(_ images: Tensor) -> Tensor {
        let c = config, b = images.shape[0]
        let (p, m) = (c.patch, c.merge)
        let out = Tensor(uninitialized: [b, c.gridHeight * c.gridWidth, p * p])
        let src = images.ptr, dst = out.ptr
        var o = 0
        for bi in 0..<b {
            let img = src + bi * c.imageHeight * c.imageWidth
            for mr in 0..<(c.gridHeight / m) {
                for mc in 0..<(c.gridWidth / m) {
                    for r in 0..<m {
                        for q in 0..<m {
                            let (pr, pc) = (mr * m + r, mc * m + q)
                            for y in 0..<p {
                                for x in 0..<p { dst[o] = img[(pr * p + y) * c.imageWidth + pc * p + x]; o += 1 }
                            }
                        }
                    }
                }
            }
        }
        return out
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

    /// images [B, H, W] → image tokens [B, imageTokens, dModel].
    public func callAsFunction(_ images: Tensor) throws -> Tensor {
        let c = config, b = images.shape[0]
        guard images.rank == 3, images.shape[1] == c.imageHeight, images.shape[2] == c.imageWidth else {
            throw TensorError.shapeMismatch("vision encoder expects images [B, \(c.imageHeight), \(c.imageWidth)], got \(images.shape)")
        }
        let patches = patchify(images)
        let coords = patchCoordinates
        let position = try add(try embedding(coords.rows, rowPosition), try embedding(coords.columns, columnPosition))
        var x = try add(try linear(patches, patchWeight, patchBias), position)
        for block in blocks { x = try block(x) }
        x = c.norm == .layerNorm ? try layerNorm(x, weight: normWeight, bias: normBias) : try rmsNorm(x, weight: normWeight)
        let merged = try x.reshaped([b, c.imageTokens, c.visionDim * c.merge * c.merge])
        return try linear(gelu(try linear(merged, projector1Weight, projector1Bias)), projector2Weight, projector2Bias)
    }
}
