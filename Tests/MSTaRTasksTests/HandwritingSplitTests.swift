import Testing
import MSTaRTasks

@Suite struct HandwritingSplitTests {
    @Test func poolsAreDisjointAndCoverTheBank() throws {
        let bank = try Fixture.bank()
        let split = try HandwritingSplit(bank: bank, seed: 3)
        let train = split.allImages(in: .train), val = split.allImages(in: .validation), test = split.allImages(in: .test)
        #expect(Set(train).isDisjoint(with: val))
        #expect(Set(train).isDisjoint(with: test))
        #expect(Set(val).isDisjoint(with: test))
        #expect((train + val + test).sorted() == Array(0..<bank.count))
        #expect(Double(train.count) / Double(bank.count) > 0.68 && Double(train.count) / Double(bank.count) < 0.72)
        #expect(Double(test.count) / Double(bank.count) > 0.18 && Double(test.count) / Double(bank.count) < 0.22)
        for d in 0...9 {
            for pool in HandwritingPool.allCases {
                #expect(split.images(of: d, in: pool).allSatisfy { bank.labels[$0] == d })
            }
        }
        let other = try HandwritingSplit(bank: bank, seed: 4)
        #expect(other.allImages(in: .test) != test)
        #expect(try HandwritingSplit(bank: bank, seed: 3) == split)
    }

    @Test func trainAndTestScenesUseDisjointHandwriting() throws {
        let suite = try Fixture.suite()
        let bank = try Fixture.bank()
        var trainSide = Set<Int>(), testSide = Set<Int>(), valSide = Set<Int>()
        for name in SplitName.allCases {
            for e in suite.examples(name) {
                // Every drawn image shows the digit the facts say, in reading order.
                #expect(e.sourceImages.map { bank.labels[$0] } == (name == .text ? [] : e.facts.reads.flatMap { $0 }))
                switch name.pool {
                case .train: trainSide.formUnion(e.sourceImages)
                case .validation: valSide.formUnion(e.sourceImages)
                case .test: testSide.formUnion(e.sourceImages)
                }
            }
        }
        #expect(trainSide.count > 300 && testSide.count > 100 && valSide.count > 30)
        #expect(trainSide.isDisjoint(with: testSide))
        #expect(trainSide.isDisjoint(with: valSide))
        #expect(valSide.isDisjoint(with: testSide))
        #expect(trainSide.isSubset(of: Set(suite.handwriting.allImages(in: .train))))
        #expect(testSide.isSubset(of: Set(suite.handwriting.allImages(in: .test))))
    }
}
