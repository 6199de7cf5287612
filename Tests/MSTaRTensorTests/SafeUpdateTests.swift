import MSTaRTensor
import Testing

/// `AdamW.safeUpdate`, the one update step of every objective: a non-finite loss, gradient or
/// result leaves parameters, moments and step as they were.
@Suite struct SafeUpdateTests {
    func setup() throws -> (w: Tensor, opt: AdamW) {
        let w = try Tensor([0.5, -1, 2], shape: [3], requiresGrad: true)
        return (w, AdamW(params: [w], config: .init(lr: 0.1)))
    }

    @Test func aFiniteUpdateMovesTheParametersAndReturnsTheMeanLoss() throws {
        let (w, opt) = try setup()
        let before = w.array
        let r = try opt.safeUpdate(lr: 0.1, clip: 10, parts: 2) { _ in sum(try mul(w, w)) }
        #expect(w.array != before && opt.step == 1)
        #expect(r.loss == before.map { $0 * $0 }.reduce(0, +))
        #expect(w.grad == nil, "gradients are cleared after the update")
    }

    @Test(arguments: ["loss", "gradient", "update"])
    func aNonFiniteUpdateIsRolledBack(_ what: String) throws {
        let (w, opt) = try setup()
        _ = try opt.safeUpdate(lr: 0.1, clip: 10) { _ in sum(try mul(w, w)) }
        let before = w.array, stepBefore = opt.step, moments = opt.stateTensors().map { $0.1.array }
        do {
            _ = try opt.safeUpdate(lr: what == "update" ? .nan : 0.1, clip: 10) { _ in
                switch what {
                case "loss": return sum(scale(w, .nan))
                case "gradient":
                    // A finite loss (-1.5e38) whose gradient's norm (4.2e38) is beyond Float.
                    return sum(try mul(w, try Tensor([3e38, 3e38, 0], shape: [3])))
                default: return sum(try mul(w, w))
                }
            }
            Issue.record("a non-finite \(what) was accepted")
        } catch let e as NonFiniteLoss {
            #expect(e.description.contains("restored the last good state"))
            #expect(what == "loss" ? !e.loss.isFinite : what == "gradient" ? e.loss.isFinite && !e.gradNorm.isFinite : e.gradNorm.isFinite,
                    "\(e)")
        }
        #expect(w.array == before && opt.step == stepBefore && opt.stateTensors().map { $0.1.array } == moments)
        #expect(w.grad == nil)
    }
}
