import MSTaRTensor

/// How scenes are drawn: placement jitter, pixel noise and ink contrast.
public struct RenderStyle: Sendable, Equatable, Codable {
    /// Largest random offset of a digit from its slot, in pixels, each axis.
    public var jitter: Int
    /// Standard deviation of the Gaussian noise added to every pixel.
    public var noise: Float
    /// Lowest ink intensity of a digit or bar (the highest is 1).
    public var minContrast: Float
    /// Distortions of each digit image before it is pasted (nil: pasted as written; every
    /// evaluation split). Pretraining scenes use them to see more handwriting than the bank holds.
    public var augmentation: HandwritingAugmentation?

    public init(jitter: Int = 1, noise: Float = 0.05, minContrast: Float = 0.75, augmentation: HandwritingAugmentation? = nil) {
        self.jitter = jitter
        self.noise = noise
        self.minContrast = minContrast
        self.augmentation = augmentation
    }

    /// The style every split uses unless told otherwise.
    public static let standard = RenderStyle()
}

/// A digit image placed on a canvas: top-left corner at (x, y).
public struct DigitPlacement: Sendable, Equatable {
    /// The digit drawn.
    public var digit: Int
    /// Left column.
    public var x: Int
    /// Top row.
    public var y: Int

    public init(digit: Int, x: Int, y: Int) {
        self.digit = digit; self.x = x; self.y = y
    }
}

/// Draws scenes of each family on the common 32x48 canvas from handwritten digit images.
public struct SceneRenderer: Sendable {
    /// The digit images.
    public let bank: DigitBank
    /// Which images each split may draw.
    public let handwriting: HandwritingSplit
    /// Jitter, noise and contrast.
    public let style: RenderStyle

    static let h = Canvas.sceneHeight, w = Canvas.sceneWidth, side = DigitBank.side

    public init(bank: DigitBank, handwriting: HandwritingSplit, style: RenderStyle = .standard) {
        self.bank = bank
        self.handwriting = handwriting
        self.style = style
    }

    /// Renders the scene of `family` with `facts`, drawing handwriting from `pool`; also returns the
    /// bank indices of the digit images it drew, in drawing order.
    public func render(_ family: Family, facts: SceneFacts, pool: HandwritingPool,
                       rng: inout RNG) -> (canvas: Canvas, sources: [Int]) {
        let r = renderLaidOut(family, facts: facts, pool: pool, rng: &rng)
        return (r.canvas, r.sources)
    }

    /// `render`, also returning where each digit was pasted (top-left corners of its 8 × 8 box), in
    /// drawing order: what a detector or a dense reading objective needs.
    public func renderLaidOut(_ family: Family, facts: SceneFacts, pool: HandwritingPool,
                              rng: inout RNG) -> (canvas: Canvas, sources: [Int], placements: [DigitPlacement]) {
        var canvas = Canvas()
        var placements = [DigitPlacement]()
        switch family {
        case .arithmetic:
            placements = rowPlacements(facts.reads.flatMap { $0 }, rng: &rng)
        case .counting:
            placements = gridPlacements(facts: facts, rng: &rng)
        case .comparison:
            for (row, digits) in facts.reads.prefix(2).enumerated() {
                placements += numberPlacements(digits, top: row == 0 ? 3 : 19, rng: &rng)
            }
        case .chart:
            placements = drawChart(facts: facts, canvas: &canvas, rng: &rng)
        }
        var sources = [Int]()
        for p in placements {
            let image = handwriting.pick(p.digit, from: pool, rng: &rng)
            sources.append(image)
            let contrast = rng.uniform(style.minContrast, 1)
            if let augmentation = style.augmentation {
                draw(augmentation.apply(bank.pixels[image], rng: &rng), at: p, contrast: contrast, on: &canvas)
            } else {
                draw(bank.pixels[image], at: p, contrast: contrast, on: &canvas)
            }
        }
        addNoise(&canvas, rng: &rng)
        return (canvas, sources, placements)
    }

    /// Cells of the counting grid (3 rows x 5 columns) for `n` digits, chosen at random, row-major.
    public static func gridCells(count n: Int, rng: inout RNG) -> [Int] {
        Array(rng.permutation(gridRows * gridColumns).prefix(n)).sorted()
    }

    /// Shape of the counting grid.
    public static let gridRows = 3, gridColumns = 5

    private func offset(_ rng: inout RNG) -> Int { style.jitter > 0 ? rng.int(in: -style.jitter...style.jitter) : 0 }

    private func clampX(_ x: Int) -> Int { min(max(x, 0), Self.w - Self.side) }
    private func clampY(_ y: Int) -> Int { min(max(y, 0), Self.h - Self.side) }

    /// n digits evenly spread over the width, the row at a random height near the middle.
    private func rowPlacements(_ digits: [Int], rng: inout RNG) -> [DigitPlacement] {
        let slot = Double(Self.w) / Double(max(digits.count, 1))
        let rowY = 12 + rng.int(in: -3...3)
        return digits.enumerated().map { i, d in
            let lo = Int(slot * Double(i)), hi = max(lo, Int(slot * Double(i + 1)) - Self.side)
            let x = min(max(Int(slot * Double(i) + (slot - Double(Self.side)) / 2) + offset(&rng), lo), hi)
            return DigitPlacement(digit: d, x: clampX(x), y: clampY(rowY + offset(&rng)))
        }
    }

    /// The grid's digits sit in the cells recorded by the generator: facts.reads[0] in row-major order.
    private func gridPlacements(facts: SceneFacts, rng: inout RNG) -> [DigitPlacement] {
        let digits = facts.reads.first ?? []
        let cells = Self.gridCells(count: digits.count, rng: &rng)
        let rowY = [1, 12, 23]
        return zip(cells, digits).map { cell, d in
            let r = cell / Self.gridColumns, c = cell % Self.gridColumns
            let x = Int(9.6 * Double(c) + 0.8) + offset(&rng)
            return DigitPlacement(digit: d, x: clampX(x), y: clampY(rowY[r] + offset(&rng)))
        }
    }

    /// One multi-digit number written left to right near the centre of its half of the canvas.
    private func numberPlacements(_ digits: [Int], top: Int, rng: inout RNG) -> [DigitPlacement] {
        let gaps = (0..<max(digits.count - 1, 0)).map { _ in rng.int(in: 0...1) }
        let width = Self.side * digits.count + gaps.reduce(0, +)
        let start = min(max((Self.w - width) / 2 + rng.int(in: -6...6), 0), Self.w - width)
        let y = clampY(top + offset(&rng))
        var x = start
        return digits.enumerated().map { i, d in
            defer { x += Self.side + (i < gaps.count ? gaps[i] : 0) }
            return DigitPlacement(digit: d, x: x, y: y)
        }
    }

    /// Bars stand on an axis at row 23, 4 pixels per unit of height; labels sit below the axis.
    private func drawChart(facts: SceneFacts, canvas: inout Canvas, rng: inout RNG) -> [DigitPlacement] {
        let labels = facts.reads.first ?? []
        let slot = Double(Self.w) / Double(max(labels.count, 1))
        for x in 0..<Self.w { canvas[23, x] = 0.5 }
        var placements = [DigitPlacement]()
        for (i, label) in labels.enumerated() {
            let lo = Int(slot * Double(i)), hi = max(lo, Int(slot * Double(i + 1)) - Self.side)
            let x = min(max(Int(slot * Double(i) + (slot - Double(Self.side)) / 2) + offset(&rng), lo), hi)
            placements.append(DigitPlacement(digit: label, x: clampX(x), y: 24))
            let height = i < facts.heights.count ? facts.heights[i] : 0
            let barX = min(max(x + 2 + offset(&rng), 0), Self.w - 4)
            let ink = rng.uniform(style.minContrast, 1)
            for y in max(0, 23 - 4 * height)..<23 {
                for dx in 0..<4 { canvas[y, barX + dx] = ink }
            }
        }
        return placements
    }

    private func draw(_ pixels: [UInt8], at p: DigitPlacement, contrast: Float, on canvas: inout Canvas) {
        for r in 0..<Self.side where p.y + r < canvas.height {
            for c in 0..<Self.side where p.x + c < canvas.width {
                let v = Float(pixels[r * Self.side + c]) / 16 * contrast
                if v > canvas[p.y + r, p.x + c] { canvas[p.y + r, p.x + c] = v }
            }
        }
    }

    private func draw(_ intensities: [Float], at p: DigitPlacement, contrast: Float, on canvas: inout Canvas) {
        for r in 0..<Self.side where p.y + r < canvas.height {
            for c in 0..<Self.side where p.x + c < canvas.width {
                let v = intensities[r * Self.side + c] * contrast
                if v > canvas[p.y + r, p.x + c] { canvas[p.y + r, p.x + c] = v }
            }
        }
    }

    private func addNoise(_ canvas: inout Canvas, rng: inout RNG) {
        guard style.noise > 0 else { return }
        for i in canvas.pixels.indices {
            canvas.pixels[i] = min(max(canvas.pixels[i] + style.noise * rng.normal(), 0), 1)
        }
    }
}
