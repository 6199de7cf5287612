/// Embedding lookup; its backward scatter-adds rows of the gradient into the table.

/// Rows of `table` ([vocab, dim]) for each id, shaped `shape + [dim]` (default `[ids.count, dim]`).
public func embedding(_ ids: [Int32], _ table: Tensor, shape: [Int]? = nil) throws -> Tensor {
    guard table.rank == 2 else { throw TensorError.shapeMismatch("embedding table must be [vocab, dim], got \(table.shape)") }
    let (vocab, dim) = (table.shape[0], table.shape[1])
    let lead = shape ?? [ids.count]
    guard lead.reduce(1, *) == ids.count else {
        throw TensorError.shapeMismatch("embedding: \(ids.count) ids cannot take shape \(lead)")
    }
    if let bad = ids.first(where: { $0 < 0 || Int($0) >= vocab }) {
        throw TensorError.invalid("embedding: id \(bad) outside the vocabulary 0..<\(vocab)")
    }
    let out = Tensor(uninitialized: lead + [dim])
    let pt = table.ptr, po = out.ptr
    for (i, id) in ids.enumerated() { (po + i * dim).update(from: pt + Int(id) * dim, count: dim) }
    return out.recording([table]) { out in
        let g = out.grad!.ptr
        table.accumulateGrad { dt, fresh in
            if fresh { dt.update(repeating: 0, count: vocab * dim) }
            // Sequential scatter-add: repeated ids add in a fixed order, so results are deterministic.
            for (i, id) in ids.enumerated() { add(dt + Int(id) * dim, g + i * dim, dim) }
        }
    }
}
