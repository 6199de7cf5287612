import Foundation
import MSTaRTasks
import Testing

/// Datasets and images from outside: line endings as written, numbers named where they fail, and
/// compressed data that cannot expand past what its header promises.
@Suite struct TasksInputSafetyTests {
    @Test func jsonlWithWindowsLineEndingsReadsEveryLine() throws {
        let dir = try Fixture.tempDir("crlf")
        let path = try JSONL.export(Array(try Fixture.suite().examples(.test).prefix(3)), to: dir.path)
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        try Data((lines.joined(separator: "\r\n") + "\r\n").utf8).write(to: URL(fileURLWithPath: path))
        let got = try JSONL.read(path, onBadLine: .refuse)
        #expect(got.examples.count == 3 && got.badLines.isEmpty)
    }

    @Test func numbersBeyondAnIntNameTheirField() throws {
        let dir = try Fixture.tempDir("bignum")
        let path = try JSONL.export(Array(try Fixture.suite().examples(.test).prefix(1)), to: dir.path)
        let line = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")[0]
        let big = line.replacingOccurrences(of: "\"source_images\":[", with: "\"source_images\":[99999999999999999999,")
        let huge = line.replacingOccurrences(of: "\"answer\":", with: "\"answer\":1e400,\"x\":")
        try Data((big + "\n" + huge + "\n").utf8).write(to: URL(fileURLWithPath: path))
        let got = try JSONL.read(path, onBadLine: .skip)
        #expect(got.badLines.map(\.message) == [
            "\"source_images\": 99999999999999999999 is not a whole number from -2^63 to 2^63-1",
            "\"answer\": 1e400 is not a whole number from -2^63 to 2^63-1",
        ])
    }

    @Test func aDecompressionBombStopsAtTheSizeItsHeaderGives() throws {
        // A 64 x 64 grey image whose data inflates to 64 MB of zeros: refused after 4 kB of it.
        func be(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }
        func chunk(_ type: String, _ body: [UInt8]) -> [UInt8] {
            let typed = Array(type.utf8) + body
            return be(UInt32(body.count)) + typed + be(Zlib.crc32(typed))
        }
        let bomb = Zlib.deflate([UInt8](repeating: 0, count: 64 << 20))
        let png = PNG.signature + chunk("IHDR", be(64) + be(64) + [8, 0, 0, 0, 0]) + chunk("IDAT", bomb) + chunk("IEND", [])
        #expect(bomb.count < 100_000)
        do { _ = try PNG.decode(png); Issue.record("the bomb decoded") } catch {
            #expect("\(error)".contains("inflates to more than 4160 bytes"), "\(error)")
        }
        #expect(throws: TasksError.self) { try Zlib.inflate(bomb, gzip: false, limit: 1 << 20) }
    }
}
