import Foundation
import Testing
import MSTaRTasks

@Suite struct PNGTests {
    /// An independent CRC-32 (bitwise, no table, no zlib) to check the encoder's chunk CRCs.
    static func crc32(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            c ^= UInt32(b)
            for _ in 0..<8 { c = (c >> 1) ^ (c & 1 == 1 ? 0xEDB8_8320 : 0) }
        }
        return ~c
    }

    static func be32(_ b: [UInt8], _ i: Int) -> Int {
        Int(b[i]) << 24 | Int(b[i + 1]) << 16 | Int(b[i + 2]) << 8 | Int(b[i + 3])
    }

    func scene() throws -> Canvas { try #require(try Fixture.suite().example(.test, index: 3).image) }

    @Test func signatureChunksAndCRCs() throws {
        let png = PNG.encode(try scene())
        #expect(Array(png[0..<8]) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        var pos = 8
        var types = [String]()
        while pos < png.count {
            let n = Self.be32(png, pos)
            let type = String(decoding: png[(pos + 4)..<(pos + 8)], as: UTF8.self)
            types.append(type)
            #expect(UInt32(Self.be32(png, pos + 8 + n)) == Self.crc32(png[(pos + 4)..<(pos + 8 + n)]), "CRC of \(type)")
            if type == "IHDR" {
                #expect(Self.be32(png, pos + 8) == 48 && Self.be32(png, pos + 12) == 32)
                #expect(Array(png[(pos + 16)..<(pos + 21)]) == [8, 0, 0, 0, 0])
            }
            pos += 12 + n
        }
        #expect(pos == png.count)
        #expect(types == ["IHDR", "IDAT", "IEND"])
    }

    @Test func decodesBackAndDownsamples() throws {
        let canvas = try scene()
        let decoded = try PNG.decode(PNG.encode(canvas))
        #expect(decoded.width == 48 && decoded.height == 32 && decoded.grey == canvas.bytes)
        let big = try PNG.decode(PNG.encode(canvas, scale: 3))
        #expect(big.width == 144 && big.height == 96)
        #expect(big.grey[(3 * 10 + 2) * 144 + 3 * 20 + 1] == canvas.bytes[10 * 48 + 20])
        let dir = try Fixture.tempDir("png")
        let path = dir.appendingPathComponent("x4.png").path
        try PNG.write(canvas, to: path, scale: 4)
        #expect(try PNG.readCanvas(path).bytes == canvas.bytes)
        // A corrupted byte is caught by the CRC.
        var bad = PNG.encode(canvas)
        bad[40] ^= 0xFF
        #expect(throws: TasksError.self) { try PNG.decode(bad) }
        #expect(throws: TasksError.self) { try PNG.decode(Array("not a png".utf8)) }
        let wrongSize = dir.appendingPathComponent("small.png").path
        try PNG.write(Canvas(height: 8, width: 8), to: wrongSize)
        do { _ = try PNG.readCanvas(wrongSize); Issue.record("must throw") } catch {
            #expect("\(error)".contains("8x8"))
        }
    }

    static let pythonDecoder = """
        import struct, sys, zlib
        data = open(sys.argv[1], 'rb').read()
        assert data[:8] == b'\\x89PNG\\r\\n\\x1a\\n', 'signature'
        pos, idat, names = 8, b'', []
        while pos < len(data):
            n, = struct.unpack('>I', data[pos:pos + 4])
            kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
            crc, = struct.unpack('>I', data[pos + 8 + n:pos + 12 + n])
            assert zlib.crc32(kind + body) & 0xffffffff == crc, 'crc ' + kind.decode()
            names.append(kind.decode())
            if kind == b'IHDR':
                w, h, depth, colour, _, _, interlace = struct.unpack('>IIBBBBB', body)
            if kind == b'IDAT':
                idat += body
            pos += 12 + n
        raw = zlib.decompress(idat)
        assert len(raw) == h * (w + 1), 'size'
        rows = []
        for y in range(h):
            f, line = raw[y * (w + 1)], bytearray(raw[y * (w + 1) + 1:(y + 1) * (w + 1)])
            assert f == 0, 'filter'
            rows.append(bytes(line))
        print(w, h, depth, colour, interlace, ','.join(names))
        print(b''.join(rows).hex())
        """

    @Test(.enabled(if: Fixture.hasPython, "needs python3 on PATH"))
    func pythonStandardLibraryReadsIt() throws {
        let canvas = try scene()
        let dir = try Fixture.tempDir("pypng")
        let path = dir.appendingPathComponent("scene.png").path
        try PNG.write(canvas, to: path)
        let result = try #require(Fixture.run("python3", ["-c", Self.pythonDecoder, path]))
        #expect(result.0 == 0, "python: \(result.2)")
        let lines = result.1.split(separator: "\n")
        #expect(lines.first == "48 32 8 0 0 IHDR,IDAT,IEND")
        #expect(lines.last.map(String.init) == canvas.bytes.map { String(format: "%02x", $0) }.joined())
    }

    @Test(.enabled(if: Fixture.hasFile, "needs file(1)"))
    func fileRecognisesIt() throws {
        let dir = try Fixture.tempDir("filepng")
        let path = dir.appendingPathComponent("scene.png").path
        try PNG.write(try scene(), to: path, scale: 2)
        let result = try #require(Fixture.run("file", ["-b", path]))
        #expect(result.1.contains("PNG image data, 96 x 64, 8-bit grayscale, non-interlaced"))
    }

    @Test func exactPixelsTravelInAnAncillaryChunk() throws {
        let h = Canvas.sceneHeight, w = Canvas.sceneWidth
        let canvas = try Canvas(height: h, width: w, pixels: (0..<(h * w)).map { Float($0 % 13) / 13.7 })
        let plain = try PNG.decode(PNG.encode(canvas))
        let exact = try PNG.decode(PNG.encode(canvas, exactPixels: true))
        // The 8-bit image is the same; only a reader that knows the chunk gets the exact pixels.
        #expect(plain.exact == nil && exact.grey == plain.grey && exact.exact == canvas.pixels)
        #expect(canvas.pixels.contains { Float(UInt8(($0 * 255).rounded())) / 255 != $0 })
        // A chunk of the wrong size, or with a value outside 0...1, is ignored as any ancillary chunk.
        func with(_ body: [UInt8]) throws -> PNG.Image {
            var bytes = PNG.encode(canvas)
            let ihdrEnd = 8 + 12 + 13
            var chunk = [UInt8]()
            for s in [24, 16, 8, 0] { chunk.append(UInt8(UInt32(body.count) >> UInt32(s) & 0xFF)) }
            let typed = Array(PNG.exactChunk.utf8) + body
            chunk += typed
            let crc = Zlib.crc32(typed)
            for s in [24, 16, 8, 0] { chunk.append(UInt8(crc >> UInt32(s) & 0xFF)) }
            bytes.insert(contentsOf: chunk, at: ihdrEnd)
            return try PNG.decode(bytes)
        }
        #expect(try with([1, 2, 3]).exact == nil)
        let nan: [UInt8] = (0..<(h * w)).flatMap { _ -> [UInt8] in [0, 0, 0xC0, 0x7F] }
        #expect(try with(nan).exact == nil)
        let half: [UInt8] = (0..<(h * w)).flatMap { _ -> [UInt8] in [0, 0, 0, 0x3F] }
        #expect(try with(half).exact == [Float](repeating: 0.5, count: h * w))
    }
}
