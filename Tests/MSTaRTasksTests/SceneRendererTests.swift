import Testing
import MSTaRTensor
import MSTaRTasks

@Suite struct SceneRendererTests {
    @Test func everyFamilyAndLevelFitsTheCommonCanvas() throws {
        let suite = try Fixture.suite()
        for split in [SplitName.seed, .ood] {
            for e in suite.examples(split) {
                let image = try #require(e.image)
                #expect(image.height == 32 && image.width == 48)
                #expect(image.pixels.count == 32 * 48)
                #expect(image.pixels.allSatisfy { $0 >= 0 && $0 <= 1 })
                #expect(image.pixels.reduce(0, +) > 10)  // there is ink
                #expect(e.sourceImages.count == e.facts.reads.flatMap { $0 }.count)
            }
        }
    }

    @Test func digitsArePastedFromTheBank() throws {
        // Without noise and jitter the row of two digits sits at x = 8 and x = 32, rows 9...23.
        let suite = try Fixture.suite(style: RenderStyle(jitter: 0, noise: 0))
        let bank = try Fixture.bank()
        let e = suite.example(.seed, index: 0)
        #expect(e.family == .arithmetic && e.facts.reads[0].count == 2)
        let image = try #require(e.image)
        for (i, source) in e.sourceImages.enumerated() {
            let x = i == 0 ? 8 : 32
            let digit = bank.pixels[source].map { Float($0) / 16 }
            let found = (9...15).contains { y in
                // The block equals the digit times one contrast factor in [0.75, 1].
                let k = (0..<64).map { image[y + $0 / 8, x + $0 % 8] }.max()! / digit.max()!
                return k >= 0.75 && k <= 1.0001 && (0..<64).allSatisfy { j in
                    abs(image[y + j / 8, x + j % 8] - k * digit[j]) < 1e-5
                }
            }
            #expect(found, "digit \(i) (bank image \(source)) not found in the canvas")
        }
        // Outside the digit row the canvas is empty.
        #expect((0..<48).allSatisfy { image[0, $0] == 0 && image[31, $0] == 0 })
    }

    @Test func chartBarsHaveFourPixelsPerUnit() throws {
        let suite = try Fixture.suite(style: RenderStyle(jitter: 0, noise: 0))
        let e = suite.example(.seed, index: 3)
        #expect(e.family == .chart)
        let image = try #require(e.image)
        let n = e.facts.heights.count
        for (i, h) in e.facts.heights.enumerated() {
            let slot = 48.0 / Double(n)
            let x = Int(slot * Double(i) + (slot - 8) / 2) + 3  // inside the 4-pixel bar
            let inked = (0..<23).filter { image[$0, x] > 0.5 }.count
            #expect(inked == 4 * h, "bar \(i): \(inked) inked rows for height \(h)")
        }
        #expect((0..<48).allSatisfy { image[23, $0] >= 0.5 })  // the axis
    }

    @Test func sameStreamSameCanvas() throws {
        let suite = try Fixture.suite()
        let facts = SceneFacts(reads: [[1, 2, 3]])
        var a = RNG(seed: 9), b = RNG(seed: 9), c = RNG(seed: 10)
        let x = suite.renderer.render(.arithmetic, facts: facts, pool: .train, rng: &a)
        let y = suite.renderer.render(.arithmetic, facts: facts, pool: .train, rng: &b)
        let z = suite.renderer.render(.arithmetic, facts: facts, pool: .train, rng: &c)
        #expect(x.canvas == y.canvas && x.sources == y.sources)
        #expect(x.canvas != z.canvas)
    }

    @Test func asciiArtHasOneLinePerRow() throws {
        var canvas = Canvas()
        canvas[0, 0] = 1
        canvas[31, 47] = 0.35
        let art = canvas.ascii()
        let lines = art.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        #expect(lines.count == 32)
        #expect(lines.allSatisfy { $0.count == 96 })
        #expect(lines.first!.hasPrefix("@@  "))
        #expect(lines.last!.hasSuffix(" --"))
        #expect(canvas.ascii(doubleWidth: false).split(separator: "\n").first!.count == 48)
    }
}
