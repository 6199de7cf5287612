import MSTaRTensor
import Testing

@Suite struct FNV1aTests {
    /// The published 64-bit FNV-1a test vectors.
    @Test func matchesTheReferenceVectors() {
        var empty = FNV1a()
        #expect(empty.value == 0xcbf29ce484222325)
        var a = FNV1a()
        a.add(bytes: Array("a".utf8))
        #expect(a.value == 0xaf63dc4c8601ec8c)
        var foobar = FNV1a()
        foobar.add(bytes: Array("foobar".utf8))
        #expect(foobar.value == 0x85944171f73967e8)
        empty.add(UInt64(0))
        var zeros = FNV1a()
        zeros.add(bytes: [UInt8](repeating: 0, count: 8))
        #expect(empty.value == zeros.value, "a word is its 8 little-endian bytes")
    }
}
