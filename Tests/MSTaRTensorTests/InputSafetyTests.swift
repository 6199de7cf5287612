import Foundation
import MSTaRTensor
import Testing

/// Files from outside are read with limits, and their sizes are checked before they allocate.
@Suite struct InputSafetyTests {
    func tempDir() throws -> String {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("mstar-input-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    @Test func onlyRegularFilesWithinTheLimitAreRead() throws {
        let dir = try tempDir()
        let file = dir + "/a.txt"
        try Data("hello".utf8).write(to: URL(fileURLWithPath: file))
        #expect(try InputFile.text(file, limit: 5) == "hello")
        #expect(throws: TensorError.self) { try InputFile.read(file, limit: 4) }
        // A FIFO with no writer would block a plain open forever; a folder and devices are refused.
        #expect(mkfifo(dir + "/fifo", 0o644) == 0)
        for path in [dir + "/fifo", dir, "/dev/zero", "/dev/null", dir + "/missing"] {
            do { _ = try InputFile.read(path, limit: 1 << 20); Issue.record("\(path) was read") } catch {
                #expect("\(error)".contains(path), "\(error)")
            }
        }
    }

    @Test func linesSplitAtLFAndCRLF() {
        #expect(InputFile.lines("a\r\nb\nc\r\n").map(String.init) == ["a", "b", "c", ""])
        #expect(InputFile.lines("one").map(String.init) == ["one"])
    }

    @Test func safetensorsShapesThatOverflowOrOutgrowTheFileAreRefused() throws {
        func file(_ header: String, payload: Int = 16) -> Data {
            var h = Array(header.utf8)
            while h.count % 8 != 0 { h.append(0x20) }
            var d = Data()
            withUnsafeBytes(of: UInt64(h.count).littleEndian) { d.append(contentsOf: $0) }
            d.append(contentsOf: h)
            d.append(Data(count: payload))
            return d
        }
        let cases = [
            // 2^32 · 2^32 wraps to 0 in unchecked arithmetic; so does 2^62 · 4 bytes.
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,0]}}",
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904],\"data_offsets\":[0,0]}}",
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1,-4],\"data_offsets\":[0,16]}}",
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,16]}}",
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,1e300]}}",
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1,4],\"data_offsets\":[0,16]}}",
            "{\"a\":7}",
        ]
        for header in cases {
            #expect(throws: TensorError.self, "\(header)") { try SafeTensors.decode(file(header)) }
        }
        #expect(try SafeTensors.decode(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}")).tensors["a"]?.shape == [2, 2])
    }

    @Test func aTruncatedFileNamesTheSameTensorEveryTime() throws {
        let tensors = (0..<40).map { ("t\($0)", Tensor.full([8], Float($0))) }
        let full = try SafeTensors.encode(tensors)
        let cut = full.prefix(full.count - 200)
        var messages = Set<String>()
        for _ in 0..<5 {
            do { _ = try SafeTensors.decode(cut); Issue.record("truncated file decoded") } catch { messages.insert("\(error)") }
        }
        // The first tensor in file order that runs past the end, whatever the dictionary's order.
        #expect(messages.count == 1)
        #expect(messages.first?.contains("'t33'") == true, "\(messages)")
    }
}
