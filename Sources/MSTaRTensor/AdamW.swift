import Foundation

/// AdamW (Loshchilov & Hutter): Adam with bias correction and decoupled weight decay,
/// p ← p − lr·(m̂ / (√v̂ + eps) + wd·p). Matches torch.optim.AdamW.
public final class AdamW {
    /// Hyperparameters; `lr` is the base rate that a schedule scales.
    public struct Config: Codable, Equatable, Sendable {
        public var lr: Float
        public var beta1: Float
        public var beta2: Float
        public var eps: Float
        public var weightDecay: Float
        public init(lr: Float = 3e-4, beta1: Float = 0.9, beta2: Float = 0.95, eps: Float = 1e-8, weightDecay: Float = 0.1) {
            self.lr = lr; self.beta1 = beta1; self.beta2 = beta2; self.eps = eps; self.weightDecay = weightDecay
        }

        /// Checks each hyperparameter read from a file: finite, betas in [0, 1), eps above 0.
        public func validate() throws {
            for (name, v, ok) in [("lr", lr, lr >= 0 && lr <= 1), ("beta1", beta1, beta1 >= 0 && beta1 < 1),
                                  ("beta2", beta2, beta2 >= 0 && beta2 < 1), ("eps", eps, eps > 0 && eps <= 1),
                                  ("weightDecay", weightDecay, weightDecay >= 0 && weightDecay <= 10)] where !(v.isFinite && ok) {
                throw TensorError.invalid("optimizer \(name) is \(v), outside its range (lr 0 to 1, betas 0 to below 1, eps above 0 up to 1, weightDecay 0 to 10)")
            }
        }
    }

    public var config: Config
    /// The parameters, in a fixed order (state is saved by position and name).
    public let params: [Tensor]
    /// Whether weight decay applies to each parameter (by default: matrices yes; vectors, i.e. biases and norms, no).
    public var decays: [Bool]
    /// Updates taken so far (drives bias correction).
    public private(set) var step = 0
    private var m: [Tensor]
    private var v: [Tensor]

    public init(params: [Tensor], config: Config = Config(), decays: [Bool]? = nil) {
        self.params = params
        self.config = config
        self.decays = decays ?? params.map { $0.rank >= 2 }
        m = params.map { Tensor.zeros($0.shape) }
        v = params.map { Tensor.zeros($0.shape) }
    }

    /// One update at learning rate `lr` (default: `config.lr`). Parameters without a gradient are skipped.
    public func update(lr: Float? = nil) {
        step += 1
        let lr = lr ?? config.lr
        let (b1, b2, eps) = (config.beta1, config.beta2, config.eps)
        let bc1 = 1 - Float(pow(Double(b1), Double(step)))
        let bc2 = 1 - Float(pow(Double(b2), Double(step)))
        for (i, p) in params.enumerated() {
            guard let g = p.grad else { continue }
            let decay = decays[i] ? 1 - lr * config.weightDecay : 1
            let pp = p.ptr, pg = g.ptr, pm = m[i].ptr, pv = v[i].ptr
            parallelFor(p.count) { r in
                for j in r {
                    let gj = pg[j]
                    let mj = b1 * pm[j] + (1 - b1) * gj
                    let vj = b2 * pv[j] + (1 - b2) * gj * gj
                    pm[j] = mj; pv[j] = vj
                    pp[j] = pp[j] * decay - lr * (mj / bc1) / ((vj / bc2).squareRoot() + eps)
                }
            }
        }
    }

    /// Buffers for `saveBackup`, allocated on first use and reused: one copy of the parameters and
    /// both moments, plus the step.
    private var backup: (params: [Tensor], m: [Tensor], v: [Tensor], step: Int)?

    /// Copies parameters, moments and step into the backup buffers (no allocation after the first call).
    public func saveBackup() {
        if backup == nil {
            func like(_ ts: [Tensor]) -> [Tensor] { ts.map { Tensor(uninitialized: $0.shape) } }
            backup = (like(params), like(m), like(v), 0)
        }
        for i in params.indices {
            backup!.params[i].ptr.update(from: params[i].ptr, count: params[i].count)
            backup!.m[i].ptr.update(from: m[i].ptr, count: m[i].count)
            backup!.v[i].ptr.update(from: v[i].ptr, count: v[i].count)
        }
        backup!.step = step
    }

    /// Puts back what `saveBackup` copied.
    public func restoreBackup() {
        guard let b = backup else { return }
        for i in params.indices {
            params[i].ptr.update(from: b.params[i].ptr, count: params[i].count)
            m[i].ptr.update(from: b.m[i].ptr, count: m[i].count)
            v[i].ptr.update(from: b.v[i].ptr, count: v[i].count)
        }
        step = b.step
    }

    /// Whether every parameter is finite.
    public var parametersAreFinite: Bool {
        params.allSatisfy { p in (0..<p.count).allSatisfy { p.ptr[$0].isFinite } }
    }

    /// Clears every parameter's gradient.
    public func zeroGrad() { for p in params { p.zeroGrad() } }

    /// Moment tensors by name ("m.<param>", "v.<param>"; unnamed params use their index), for saving.
    public func stateTensors() -> [(String, Tensor)] {
        var out: [(String, Tensor)] = []
        for (i, p) in params.enumerated() {
            let name = p.name ?? String(i)
            out.append(("m.\(name)", m[i]))
            out.append(("v.\(name)", v[i]))
        }
        return out
    }

    /// Restores moments saved by `stateTensors()` and the step count; every tensor must be present with its shape.
    public func loadState(_ tensors: [String: Tensor], step: Int) throws {
        for (i, p) in params.enumerated() {
            let name = p.name ?? String(i)
            for (prefix, dst) in [("m", m[i]), ("v", v[i])] {
                guard let t = tensors["\(prefix).\(name)"] else {
                    throw TensorError.invalid("optimizer state has no '\(prefix).\(name)'; was it saved for this model?")
                }
                guard t.shape == dst.shape else {
                    throw TensorError.shapeMismatch("optimizer state '\(prefix).\(name)' has shape \(t.shape), parameter has \(dst.shape)")
                }
                dst.ptr.update(from: t.ptr, count: t.count)
            }
        }
        self.step = step
    }
}

/// Scales all gradients so their global L2 norm is at most `maxNorm`; returns the norm before clipping.
@discardableResult
public func clipGradNorm(_ params: [Tensor], maxNorm: Float) -> Float {
    var ss: Double = 0
    for p in params { if let g = p.grad { for j in 0..<g.count { ss += Double(g.ptr[j]) * Double(g.ptr[j]) } } }
    let norm = Float(ss.squareRoot())
    if norm > maxNorm && norm.isFinite {
        let s = maxNorm / (norm + 1e-6)
        for p in params { if let g = p.grad { for j in 0..<g.count { g.ptr[j] *= s } } }
    }
    return norm
}
