import Foundation
import Testing
import MSTaRTasks

@Suite struct DigitBankTests {
    @Test func loadsTheVendoredDigits() throws {
        let bank = try Fixture.bank()
        #expect(bank.count == 1797)
        #expect(bank.pixels.allSatisfy { $0.count == 64 && $0.allSatisfy { $0 <= 16 } })
        #expect(bank.indicesByDigit().map(\.count) == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180])
        // The first rows of sklearn's digits.csv.gz.
        #expect(Array(bank.pixels[0][0..<8]) == [0, 0, 5, 13, 9, 1, 0, 0])
        #expect(Array(bank.labels[0..<3]) == [0, 1, 2])
    }

    @Test func missingFileSaysWhatToDo() {
        do {
            _ = try DigitBank.load(path: "/nonexistent/digits.csv.gz")
            Issue.record("loading a missing file must throw")
        } catch {
            let message = "\(error)"
            #expect(message.contains("/nonexistent/digits.csv.gz"))
            #expect(message.contains("MSTAR_DIGITS"))
        }
    }

    @Test func badRowNamesItsLine() throws {
        let dir = try Fixture.tempDir("bank")
        let good = (Array(repeating: "0", count: 64) + ["3"]).joined(separator: ",")
        let bad = (Array(repeating: "0", count: 63) + ["3"]).joined(separator: ",")
        let path = dir.appendingPathComponent("digits.csv").path
        try (good + "\n" + bad + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: TasksError.self) { try DigitBank.load(path: path) }
        do { _ = try DigitBank.load(path: path) } catch { #expect("\(error)".contains("digits.csv:2:")) }
    }

    @Test func gzipRoundTripThroughZlib() throws {
        let text = Array("hello handwriting ".utf8)
        #expect(try Zlib.inflate(Zlib.deflate(text), gzip: false, limit: 1 << 20) == text)
        #expect(throws: TasksError.self) { try Zlib.inflate([1, 2, 3, 4], gzip: true, limit: 1 << 20) }
        #expect(Zlib.crc32(Array("123456789".utf8)) == 0xCBF4_3926)  // the CRC-32 check value
    }
}
