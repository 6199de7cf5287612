import Foundation
import MSTaRTensor
import Testing

/// Runs a Python snippet (python3 with numpy and safetensors, which scripts/test installs) and returns its stdout.
func python(_ code: String, args: [String] = []) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["python3", "-c", code] + args
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else {
        throw TensorError.invalid("python failed (run scripts/test, which installs numpy and safetensors): \(String(decoding: errData, as: UTF8.self))")
    }
    return String(decoding: data, as: UTF8.self)
}

func temporaryDirectory() throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mstar-test-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
}

@Suite struct SafeTensorsTests {
    @Test func roundTripKeepsValuesShapesAndMetadata() throws {
        var rng = RNG(seed: 40)
        let a = randn([3, 5], &rng), b = randn([7], &rng), s = Tensor(scalar: 2.5)
        let dir = try temporaryDirectory()
        let url = dir.appendingPathComponent("t.safetensors")
        try SafeTensors.write([("a", a), ("b.weird \"name\"", b), ("s", s)], metadata: ["format": "pt", "step": "3"], to: url)
        let f = try SafeTensors.read(url)
        #expect(f.order == ["a", "b.weird \"name\"", "s"])
        #expect(f.tensors["a"]!.shape == [3, 5] && f.tensors["a"]!.array == a.array)
        #expect(f.tensors["b.weird \"name\""]!.array == b.array)
        #expect(f.tensors["s"]!.shape == [] && f.tensors["s"]!.item == 2.5)
        #expect(f.metadata == ["format": "pt", "step": "3"])
        // Header is 8-byte aligned.
        let bytes = try Data(contentsOf: url)
        let n = bytes.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        #expect(n % 8 == 0)
        // No temporary file is left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["t.safetensors"])
    }

    @Test func truncatedAndCorruptFilesAreRefused() throws {
        var rng = RNG(seed: 41)
        let good = try SafeTensors.encode([("w", randn([4, 4], &rng))])
        #expect(throws: TensorError.self) { try SafeTensors.decode(good.prefix(good.count - 4)) }  // truncated data
        #expect(throws: TensorError.self) { try SafeTensors.decode(good.prefix(5)) }  // truncated length
        var badHeader = good
        badHeader[8] = UInt8(ascii: "[")
        #expect(throws: TensorError.self) { try SafeTensors.decode(badHeader) }
        var hugeLength = good
        hugeLength.replaceSubrange(0..<8, with: withUnsafeBytes(of: UInt64(1 << 40).littleEndian) { Data($0) })
        #expect(throws: TensorError.self) { try SafeTensors.decode(hugeLength) }
        let extra = good + Data([0, 0, 0, 0])  // bytes no tensor covers
        #expect(throws: TensorError.self) { try SafeTensors.decode(extra) }
        do {
            _ = try SafeTensors.decode(good.prefix(good.count - 4), source: "model.safetensors")
            Issue.record("truncated file was accepted")
        } catch let e as TensorError {
            #expect(e.description.contains("model.safetensors") && e.description.contains("truncated"))
        }
    }

    @Test func pythonSafetensorsReadsOurFilesAndWeReadTheirs() throws {
        var rng = RNG(seed: 42)
        let a = randn([2, 3], &rng), b = randn([4], &rng)
        let dir = try temporaryDirectory()
        let ours = dir.appendingPathComponent("ours.safetensors"), theirs = dir.appendingPathComponent("theirs.safetensors")
        try SafeTensors.write([("a", a), ("b", b)], metadata: ["who": "mstar"], to: ours)
        let read = try python("""
            import sys, json
            from safetensors.numpy import load_file
            from safetensors import safe_open
            t = load_file(sys.argv[1])
            with safe_open(sys.argv[1], framework="numpy") as f: meta = f.metadata()
            print(json.dumps({k: [list(v.shape), [float(x) for x in v.ravel()], str(v.dtype)] for k, v in t.items()} | {"meta": meta}))
            """, args: [ours.path])
        let json = try JSONSerialization.jsonObject(with: Data(read.utf8)) as! [String: Any]
        for (name, t) in [("a", a), ("b", b)] {
            let entry = json[name] as! [Any]
            #expect((entry[0] as! [Int]) == t.shape)
            #expect((entry[1] as! [Double]).map(Float.init) == t.array)
            #expect(entry[2] as! String == "float32")
        }
        #expect((json["meta"] as! [String: String]) == ["who": "mstar"])

        _ = try python("""
            import sys, numpy as np
            from safetensors.numpy import save_file
            save_file({"x": np.arange(6, dtype=np.float32).reshape(2, 3) / 7, "h": np.array([1.5, -2.25], dtype=np.float16),
                       "d": np.array([[0.1]], dtype=np.float64)}, sys.argv[1], metadata={"src": "python"})
            """, args: [theirs.path])
        let f = try SafeTensors.read(theirs)
        #expect(f.tensors["x"]!.shape == [2, 3])
        #expect(f.tensors["x"]!.array == (0..<6).map { Float($0) / 7 })
        #expect(f.tensors["h"]!.array == [1.5, -2.25])
        #expect(f.tensors["d"]!.array == [Float(0.1)])
        #expect(f.metadata == ["src": "python"])
    }
}
