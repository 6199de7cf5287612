import Foundation
import Testing
import MSTaRTasks

@Suite struct TaskSuiteTests {
    @Test func sameSeedSameBytesDifferentSeedDifferent() throws {
        let a = try Fixture.suite(seed: 11), b = try Fixture.suite(seed: 11), c = try Fixture.suite(seed: 12)
        for split in SplitName.allCases {
            #expect(a.examples(split) == b.examples(split))
            #expect(a.examples(split) != c.examples(split))
        }
        // Byte-identical exports.
        let d1 = try Fixture.tempDir("det1"), d2 = try Fixture.tempDir("det2"), d3 = try Fixture.tempDir("det3")
        try JSONL.export(a.examples(.seed), to: d1.path)
        try JSONL.export(b.examples(.seed), to: d2.path)
        try JSONL.export(c.examples(.seed), to: d3.path)
        let fm = FileManager.default
        let j1 = try Data(contentsOf: d1.appendingPathComponent("data.jsonl"))
        #expect(j1 == (try Data(contentsOf: d2.appendingPathComponent("data.jsonl"))))
        #expect(j1 != (try Data(contentsOf: d3.appendingPathComponent("data.jsonl"))))
        let names = try fm.contentsOfDirectory(atPath: d1.appendingPathComponent("images").path).sorted()
        #expect(names.count == 40)
        for n in names {
            let x = try Data(contentsOf: d1.appendingPathComponent("images/\(n)"))
            let y = try Data(contentsOf: d2.appendingPathComponent("images/\(n)"))
            #expect(x == y)
        }
    }

    @Test func examplesDependOnlyOnSeedSplitAndIndex() throws {
        let bank = try Fixture.bank()
        let small = try TaskSuite(seed: 5, sizes: SplitSizes(labelled: 12), bank: bank)
        let large = try TaskSuite(seed: 5, sizes: SplitSizes(labelled: 40), bank: bank)
        #expect(Array(large.examples(.labelled).prefix(12)) == small.examples(.labelled))
        #expect(small.example(.test, index: 77) == large.example(.test, index: 77))
        // Splits differ from each other even at the same index.
        #expect(small.example(.labelled, index: 0).image != small.example(.unlabelled, index: 0).image)
    }

    @Test func familiesAndLevelsAreBalanced() throws {
        let suite = try Fixture.suite()
        let test = suite.examples(.test)
        #expect(test.count == 80)
        for f in Family.allCases {
            let mine = test.filter { $0.family == f }
            #expect(mine.count == 20)
            #expect(suite.examples(.test, family: f) == mine)
            for l in Level.inDistribution { #expect(mine.filter { $0.level == l }.count >= 6) }
            #expect(mine.allSatisfy { $0.kind.family == f })
        }
        for split in SplitName.allCases where split != .ood {
            #expect(suite.examples(split).allSatisfy { $0.level != .ood })
        }
        #expect(suite.examples(.ood).allSatisfy { $0.level == .ood })
        #expect(Set(suite.examples(.ood).map(\.family)) == Set(Family.allCases))
    }

    @Test func levelsGrowHarder() throws {
        let suite = try TaskSuite(seed: 1, sizes: SplitSizes(test: 240, ood: 80), bank: try Fixture.bank())
        let all = suite.examples(.test) + suite.examples(.ood)
        func digits(_ f: Family, _ l: Level) -> Set<Int> {
            Set(all.filter { $0.family == f && $0.level == l }.map { $0.facts.reads.flatMap { $0 }.count })
        }
        #expect(digits(.arithmetic, .one) == [2] && digits(.arithmetic, .two) == [3])
        #expect(digits(.arithmetic, .three) == [4, 5] && digits(.arithmetic, .ood) == [6])
        #expect(digits(.counting, .one).isSubset(of: 3...4) && digits(.counting, .ood).isSubset(of: 12...15))
        #expect(digits(.comparison, .one) == [3] && digits(.comparison, .two) == [4])
        #expect(all.filter { $0.family == .comparison && $0.level == .ood }.allSatisfy {
            $0.kind == .difference && $0.facts.numbers.max()! >= 100 })
        #expect(digits(.chart, .one) == [2] && digits(.chart, .three) == [4] && digits(.chart, .ood) == [5, 6])
        // Every number in a chain has a token.
        #expect(all.allSatisfy { ($0.answer ?? 0) <= Tokenizer.maxNumber })
    }

    @Test func annotationsFollowTheSplit() throws {
        let suite = try Fixture.suite()
        #expect(suite.examples(.seed).allSatisfy { $0.annotation == .chain && $0.visibleTarget == $0.chain })
        #expect(suite.examples(.labelled).allSatisfy { $0.annotation == .answer && $0.visibleTarget == "answer \($0.answer!)" })
        #expect(suite.examples(.unlabelled).allSatisfy { $0.annotation == .none && $0.visibleTarget == nil && $0.answer != nil })
        #expect(suite.examples(.captions).allSatisfy { $0.kind == .caption && $0.answer == nil && !$0.chain.contains("answer") })
        #expect(suite.examples(.text).allSatisfy { $0.image == nil && $0.question.hasPrefix("given ") })
        #expect(suite.examples(.test).allSatisfy { $0.image != nil && $0.id.hasPrefix("test-") })
        #expect(suite.example(.seed, index: 17).id == "seed-000017")
    }

    @Test func namesParse() throws {
        #expect(try SplitName(name: "OOD") == .ood)
        #expect(try Family(name: "chart") == .chart)
        do { _ = try SplitName(name: "train"); Issue.record("must throw") } catch {
            #expect("\(error)".contains("captions, text, seed, labelled, unlabelled, validation, test, ood"))
        }
    }
}
