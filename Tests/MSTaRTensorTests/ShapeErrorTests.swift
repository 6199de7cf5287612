import MSTaRTensor
import Testing

/// Bad shapes give an error naming both shapes, before any kernel runs.
@Suite struct ShapeErrorTests {
    private func message(_ body: () throws -> Tensor) -> String {
        do { _ = try body(); return "no error" } catch { return "\(error)" }
    }

    @Test func errorsNameBothShapes() throws {
        let a = Tensor.zeros([2, 3]), b = Tensor.zeros([4, 5]), w = Tensor.zeros([6, 4])
        let mm = message { try matmul(a, b) }
        #expect(mm.contains("[2, 3]") && mm.contains("[4, 5]"), "\(mm)")
        let lin = message { try linear(a, w) }
        #expect(lin.contains("[2, 3]") && lin.contains("[6, 4]"), "\(lin)")
        let addMsg = message { try add(a, b) }
        #expect(addMsg.contains("[2, 3]") && addMsg.contains("[4, 5]"), "\(addMsg)")
        let cat = message { try concat([a, b], axis: 0) }
        #expect(cat.contains("[2, 3]") && cat.contains("[4, 5]"), "\(cat)")
        let rs = message { try a.reshaped([4, 2]) }
        #expect(rs.contains("[2, 3]") && rs.contains("[4, 2]"), "\(rs)")
        let ln = message { try layerNorm(a, weight: .zeros([4]), bias: .zeros([4])) }
        #expect(ln.contains("[2, 3]") && ln.contains("[4]"), "\(ln)")
        let ce = message { try crossEntropy(a, [0]) }
        #expect(ce.contains("[2, 3]") && ce.contains("1 targets"), "\(ce)")
        let att = message { try selfAttention(Tensor.zeros([1, 2, 10]), heads: 4) }
        #expect(att.contains("[1, 2, 10]"), "\(att)")
        let emb = message { try embedding([7], Tensor.zeros([5, 2])) }
        #expect(emb.contains("7") && emb.contains("0..<5"), "\(emb)")
    }

    @Test func backwardNeedsAScalarOrAGradient() throws {
        let x = Tensor.zeros([2], requiresGrad: true)
        let y = scale(x, 2)
        #expect(throws: TensorError.self) { try y.backward() }
        #expect(throws: TensorError.self) { try y.backward(.zeros([3])) }
        #expect(throws: TensorError.self) { try Tensor.zeros([1]).backward() }
    }

    @Test func noGradModeRecordsNothing() throws {
        let w = Tensor.full([2, 2], 1, requiresGrad: true)
        let y = try Tensor.withoutGrad { try matmul(w, w) }
        #expect(!y.requiresGrad)
        #expect(try matmul(w, w).requiresGrad)
    }
}
