import Testing
import MSTaRTensor
import MSTaRTasks

@Suite struct HandwritingAugmentationTests {
    @Test func sameStreamSameDistortionAndStaysInTheBox() throws {
        let bank = try Fixture.bank()
        let aug = HandwritingAugmentation.standard
        for i in stride(from: 0, to: 400, by: 7) {
            var a = RNG(seed: UInt64(i)), b = RNG(seed: UInt64(i)), c = RNG(seed: UInt64(i) + 1000)
            let x = aug.apply(bank.pixels[i], rng: &a), y = aug.apply(bank.pixels[i], rng: &b)
            let z = aug.apply(bank.pixels[i], rng: &c)
            #expect(x == y)
            #expect(x != z)
            #expect(x.count == 64 && x.allSatisfy { $0 >= 0 && $0 <= 1 })
            #expect(x.max()! > 0.5, "image \(i) lost its ink")
            // A fixed number of draws: both streams end in the same state.
            #expect(a.next() == b.next())
        }
    }

    @Test func noDistortionIsTheIdentity() throws {
        let bank = try Fixture.bank()
        let none = HandwritingAugmentation(rotation: 0, shear: 0, scale: 0, shift: 0, thicken: 0, gamma: 1)
        var rng = RNG(seed: 4)
        for i in 0..<50 {
            let out = none.apply(bank.pixels[i], rng: &rng)
            let source = bank.pixels[i].map { Float($0) / 16 }
            #expect(zip(out, source).allSatisfy { abs($0 - $1) < 1e-5 })
        }
    }

    @Test func distortionsKeepTheDigitRecognisablyClose() throws {
        // Mean absolute change per pixel stays well below the difference between two digits.
        let bank = try Fixture.bank()
        var rng = RNG(seed: 2)
        var change: Float = 0
        for i in 0..<200 {
            let out = HandwritingAugmentation.standard.apply(bank.pixels[i], rng: &rng)
            change += zip(out, bank.pixels[i]).map { abs($0 - Float($1) / 16) }.reduce(0, +) / 64
        }
        #expect(change / 200 > 0.02 && change / 200 < 0.2, "mean change \(change / 200)")
    }

    @Test func augmentedScenesKeepTheirFactsAndFitTheCanvas() throws {
        let plain = try Fixture.suite()
        let augmented = try Fixture.suite(style: RenderStyle(augmentation: .standard))
        var differing = 0
        for i in 0..<40 {
            let p = plain.example(.captions, index: i), a = augmented.example(.captions, index: i)
            #expect(p.facts == a.facts && p.chain == a.chain && p.question == a.question)
            let image = try #require(a.image)
            #expect(image.height == 32 && image.width == 48)
            #expect(image.pixels.allSatisfy { $0 >= 0 && $0 <= 1 })
            #expect(a.sourceImages.count == a.facts.reads.flatMap { $0 }.count)
            if p.image != a.image { differing += 1 }
            // Deterministic: the same example twice is the same scene.
            #expect(augmented.example(.captions, index: i).image == image)
        }
        #expect(differing == 40)
    }

    @Test func evaluationSplitsAreDrawnWithoutDistortion() throws {
        #expect(RenderStyle.standard.augmentation == nil)
        let suite = try Fixture.suite()
        #expect(suite.renderer.style.augmentation == nil)
    }
}
