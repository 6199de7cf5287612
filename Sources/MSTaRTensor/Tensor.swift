import Foundation

/// Float32 memory shared by a tensor and its views. Allocated once, freed when the last view goes.
public final class Storage: @unchecked Sendable {
    /// The first element.
    public let base: UnsafeMutablePointer<Float>
    /// Number of elements.
    public let count: Int

    /// Uninitialised memory for `count` floats (callers write every element before reading).
    public init(uninitializedCount count: Int) {
        self.count = count
        base = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(count, 1))
    }

    /// Zero-filled memory for `count` floats.
    public convenience init(zeros count: Int) {
        self.init(uninitializedCount: count)
        base.initialize(repeating: 0, count: count)
    }

    deinit { base.deallocate() }
}

/// A contiguous, row-major Float32 tensor that can take part in reverse-mode autodiff.
///
/// Tensors are always contiguous: a view (`reshaped`, `rows`) shares storage with an offset,
/// and layout changes (`transposed`, `permuted`) copy. Hot kernels read `ptr` directly.
/// A tensor created by an op while any input `requiresGrad` records its inputs and a backward
/// closure; `backward()` on a scalar walks that graph once and frees it.
public final class Tensor: @unchecked Sendable, CustomStringConvertible {
    /// Sizes of each dimension, outermost first. A scalar has shape [].
    public let shape: [Int]
    /// Number of elements.
    public let count: Int
    /// The memory this tensor reads; shared with views.
    public let storage: Storage
    /// Element offset of this tensor's first element in `storage`.
    public let offset: Int

    /// Whether gradients flow to this tensor.
    public var requiresGrad: Bool
    /// The accumulated gradient (same shape), once a backward pass reached this tensor.
    public var grad: Tensor?
    /// An optional name (parameters use it for checkpoints and error messages).
    public var name: String?

    // The autodiff graph: inputs of the op that produced this tensor, and how to push `grad` to them.
    var parents: [Tensor] = []
    var backwardFn: ((Tensor) -> Void)?

    /// Whether ops record the autodiff graph; turn off with `Tensor.withoutGrad { ... }`.
    @TaskLocal public static var isGradEnabled = true

    /// Runs `body` without recording the autodiff graph (inference, evaluation, sampling).
    public static func withoutGrad<R>(_ body: () throws -> R) rethrows -> R {
        try $isGradEnabled.withValue(false) { try body() }
    }

    // MARK: creation

    /// A tensor over existing storage (a view when other tensors share it).
    public init(shape: [Int], storage: Storage, offset: Int = 0, requiresGrad: Bool = false) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in shape \(shape)")
        let n = shape.reduce(1, *)
        precondition(offset + n <= storage.count, "view \(shape) at offset \(offset) exceeds storage of \(storage.count)")
        self.shape = shape
        self.count = n
        self.storage = storage
        self.offset = offset
        self.requiresGrad = requiresGrad
    }

    /// Uninitialised memory; for kernels that write every element.
    public convenience init(uninitialized shape: [Int]) {
        self.init(shape: shape, storage: Storage(uninitializedCount: shape.reduce(1, *)))
    }

    /// All zeros.
    public static func zeros(_ shape: [Int], requiresGrad: Bool = false) -> Tensor {
        Tensor(shape: shape, storage: Storage(zeros: shape.reduce(1, *)), requiresGrad: requiresGrad)
    }

    /// Every element `value`.
    public static func full(_ shape: [Int], _ value: Float, requiresGrad: Bool = false) -> Tensor {
        let t = Tensor(uninitialized: shape)
        t.ptr.update(repeating: value, count: t.count)
        t.requiresGrad = requiresGrad
        return t
    }

    /// A tensor holding a copy of `values`, which must have exactly `shape`'s element count.
    public convenience init(_ values: [Float], shape: [Int], requiresGrad: Bool = false) throws {
        let n = shape.reduce(1, *)
        guard n == values.count else {
            throw TensorError.shapeMismatch("\(values.count) values cannot fill shape \(shape) (\(n) elements)")
        }
        self.init(uninitialized: shape)
        values.withUnsafeBufferPointer { ptr.update(from: $0.baseAddress!, count: n) }
        self.requiresGrad = requiresGrad
    }

    /// A scalar.
    public convenience init(scalar: Float) {
        self.init(uninitialized: [])
        ptr[0] = scalar
    }

    /// A copy with its own storage, outside any graph.
    public func copy() -> Tensor {
        let t = Tensor(uninitialized: shape)
        t.ptr.update(from: ptr, count: count)
        return t
    }

    /// The same values, cut out of the autodiff graph (shares storage).
    public func detached() -> Tensor { Tensor(shape: shape, storage: storage, offset: offset) }

    // MARK: access

    /// Pointer to the first element. Valid while this tensor is alive.
    @inline(__always)
    public var ptr: UnsafeMutablePointer<Float> { storage.base + offset }

    /// Number of dimensions.
    public var rank: Int { shape.count }

    /// The values as an array (a copy).
    public var array: [Float] { Array(UnsafeBufferPointer(start: ptr, count: count)) }

    /// The single value of a one-element tensor.
    public var item: Float {
        precondition(count == 1, "item needs a one-element tensor, got shape \(shape)")
        return ptr[0]
    }

    /// Element at a multi-index (for tests and inspection, not hot loops).
    public subscript(_ index: Int...) -> Float {
        get { ptr[flatIndex(index)] }
        set { ptr[flatIndex(index)] = newValue }
    }

    private func flatIndex(_ index: [Int]) -> Int {
        precondition(index.count == rank, "index \(index) has \(index.count) coordinates for shape \(shape)")
        var f = 0
        for (i, d) in zip(index, shape) {
            precondition(i >= 0 && i < d, "index \(index) out of range for shape \(shape)")
            f = f * d + i
        }
        return f
    }

    /// Size of dimension `axis` (negative counts from the end).
    public func size(_ axis: Int) -> Int { shape[axis < 0 ? rank + axis : axis] }

    public var description: String {
        let head = array.prefix(8).map { String(format: "%.4g", Double($0)) }.joined(separator: ", ")
        return "Tensor(\(shape): [\(head)\(count > 8 ? ", ..." : "")])"
    }

    // MARK: views

    /// The same storage under another shape with the same element count (one dimension may be -1).
    public func reshaped(_ newShape: [Int]) throws -> Tensor {
        var s = newShape
        if let i = s.firstIndex(of: -1) {
            let rest = s.enumerated().filter { $0.offset != i }.map(\.element).reduce(1, *)
            guard rest > 0, count % rest == 0 else {
                throw TensorError.shapeMismatch("cannot reshape \(shape) to \(newShape)")
            }
            s[i] = count / rest
        }
        guard s.reduce(1, *) == count else {
            throw TensorError.shapeMismatch("cannot reshape \(shape) (\(count) elements) to \(newShape)")
        }
        let out = Tensor(shape: s, storage: storage, offset: offset)
        return out.recording([self]) { out in
            let g = out.grad!
            self.accumulateGrad { dst, fresh in
                if fresh { dst.update(from: g.ptr, count: g.count) } else { add(dst, g.ptr, g.count) }
            }
        }
    }

    /// Rows `start ..< start + length` of dimension 0, as a view sharing storage.
    public func rows(_ start: Int, _ length: Int) throws -> Tensor {
        guard rank >= 1, start >= 0, length >= 0, start + length <= shape[0] else {
            throw TensorError.shapeMismatch("rows \(start)..<\(start + length) out of range for shape \(shape)")
        }
        let inner = shape.dropFirst().reduce(1, *)
        let out = Tensor(shape: [length] + shape.dropFirst(), storage: storage, offset: offset + start * inner)
        return out.recording([self]) { out in
            let g = out.grad!
            self.accumulateGrad { dst, fresh in
                let d = dst + start * inner
                if fresh { dst.update(repeating: 0, count: self.count) }
                add(d, g.ptr, g.count)
            }
        }
    }

    // MARK: autodiff plumbing

    /// Attaches `inputs` and `backward` to this freshly computed tensor when grads are recorded.
    /// `backward` receives this tensor (its `grad` is set) and must accumulate into the inputs.
    @discardableResult
    public func recording(_ inputs: [Tensor], _ backward: @escaping (Tensor) -> Void) -> Tensor {
        if Tensor.isGradEnabled && inputs.contains(where: { $0.requiresGrad }) {
            requiresGrad = true
            parents = inputs
            backwardFn = backward
        }
        return self
    }

    /// Gives `body` this tensor's gradient buffer to add into. `fresh` is true when the buffer was
    /// just allocated and is uninitialised: the body must then write every element instead of adding.
    /// Does nothing when this tensor does not require grad.
    public func accumulateGrad(_ body: (UnsafeMutablePointer<Float>, _ fresh: Bool) -> Void) {
        guard requiresGrad else { return }
        if let g = grad {
            body(g.ptr, false)
        } else {
            let g = Tensor(uninitialized: shape)
            body(g.ptr, true)
            grad = g
        }
    }

    /// Backpropagates from this tensor. Without `gradient`, the tensor must hold one element and
    /// its gradient is 1. Parameter gradients accumulate across calls until `zeroGrad()`;
    /// the graph and intermediate gradients are freed afterwards.
    public func backward(_ gradient: Tensor? = nil) throws {
        if let gradient {
            guard gradient.shape == shape else {
                throw TensorError.shapeMismatch("gradient of shape \(gradient.shape) for tensor of shape \(shape)")
            }
        } else {
            guard count == 1 else {
                throw TensorError.shapeMismatch("backward() without a gradient needs a one-element tensor, got shape \(shape)")
            }
        }
        guard requiresGrad else {
            throw TensorError.invalid("backward() on a tensor that does not require grad: no parameter takes part in it")
        }
        // Topological order by iterative depth-first search (graphs can be deep).
        var order: [Tensor] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(Tensor, Int)] = [(self, 0)]
        visited.insert(ObjectIdentifier(self))
        while let (node, i) = stack.popLast() {
            if i < node.parents.count {
                stack.append((node, i + 1))
                let p = node.parents[i]
                if p.backwardFn != nil && !visited.contains(ObjectIdentifier(p)) {
                    visited.insert(ObjectIdentifier(p))
                    stack.append((p, 0))
                }
            } else {
                order.append(node)
            }
        }
        let seed = gradient?.copy() ?? Tensor.full(shape, 1)
        if let g = grad { add(g.ptr, seed.ptr, count) } else { grad = seed }
        for node in order.reversed() {
            guard let fn = node.backwardFn, node.grad != nil else { continue }
            fn(node)
            // Free the graph as we go: activations and intermediate grads are no longer needed.
            node.backwardFn = nil
            node.parents = []
            if node !== self { node.grad = nil }
        }
        backwardFn = nil
        parents = []
    }

    /// Clears the accumulated gradient.
    public func zeroGrad() { grad = nil }
}

/// dst[i] += src[i]
@inline(__always)
func add(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, _ n: Int) {
    for i in 0..<n { dst[i] += src[i] }
}
