import MSTaRTensor

/// The keys and values of generated tokens during decoding, laid out for attention across a
/// prompt's K samples at once.
///
/// A prompt's samples go in blocks of `laneWidth`, one SIMD lane per sample. Per layer, element
/// (prompt p, block b, time t, feature f, lane i) sits at (((p·blocks + b)·maxNew + t)·width + f)·laneWidth + i:
/// the lanes innermost, then features, so that storing a time step's keys and values fills whole
/// cache lines in order (with time inside features, each step's stores touched a new line per
/// feature, most of them out of cache), and attention reads a head's features together. Attention over the
/// prompt's shared prefix then costs one vector FMA per (time, feature) for the whole block
/// against a broadcast key or value, with no horizontal sums; per-row scalar dot products (chains
/// of dependent adds, which Swift may not reorder) made attention half of all sampling time.
/// Each lane does only its own sample's arithmetic, in an order fixed by the head size and the
/// lengths, so results do not depend on the batch or the thread count.
public final class GeneratedCache {
    /// Samples per prompt (K), most generated tokens per sample, and features per key or value (the model width).
    public let k: Int, maxNew: Int, width: Int
    /// Samples per block: 16 for K ≥ 9 (a prefix key loaded once serves 16 samples), 8 for K ≥ 5,
    /// fewer for greedy decoding or small K. Each lane's arithmetic is the same at every width.
    public let laneWidth: Int
    /// Blocks per prompt.
    let blocks: Int
    let keys: [Tensor], values: [Tensor]
    let zeroRow: Tensor

    /// Key and value caches for `layers` layers and `prompts` prompts of `k` samples, `maxNew` tokens
    /// deep. Not zeroed: attention reads a block's slots only at times before the current one, and
    /// every lane of every block still decoding is stored at every time (finished lanes as zeros).
    public init(layers: Int, prompts: Int, k: Int, maxNew: Int, width: Int) {
        self.k = k; self.maxNew = maxNew; self.width = width
        laneWidth = k >= 9 ? 16 : (k >= 5 ? 8 : (k >= 3 ? 4 : 2))
        blocks = (k + laneWidth - 1) / laneWidth
        let shape = [prompts, blocks, maxNew, width, laneWidth]
        keys = (0..<layers).map { _ in Tensor(uninitialized: shape) }
        values = (0..<layers).map { _ in Tensor(uninitialized: shape) }
        zeroRow = Tensor.zeros([3 * width])
    }

    /// The blocks with at least one active sequence: prompt, block, and per lane the sequence's row
    /// among the active ones (-1 when that sample has finished or does not exist).
    public struct LaneGroups: Sendable {
        /// Per group its prompt and block; `rows` holds `laneWidth` entries per group, each lane's active row or -1.
        public var prompt: [Int] = [], block: [Int] = [], rows: [Int32] = []
    }

    /// `active` in ascending order (as the sampler keeps it).
    public func laneGroups(active: [Int]) -> LaneGroups {
        var g = LaneGroups()
        var last = -1
        for (r, s) in active.enumerated() {
            let p = s / k, j = s % k, b = j / laneWidth
            if p * blocks + b != last {
                g.prompt.append(p); g.block.append(b); g.rows += repeatElement(-1, count: laneWidth)
                last = p * blocks + b
            }
            g.rows[g.rows.count - laneWidth + j % laneWidth] = Int32(r)
        }
        return g
    }

    /// One layer's attention for every active row: stores the rows' new keys and values (from
    /// `qkv` [active, 3·width]) at time `generated - 1`, then writes each row's attention output
    /// over its prompt's prefix (rows of `prefixKeys`/`prefixValues` [prompts, maxPrefix, width])
    /// and its own generated tokens to `out` [active, width].
    /// `only`: the groups to run (all when nil); `qkv` need hold only their rows.
    public func attend(layer l: Int, groups: LaneGroups, only: Range<Int>? = nil, qkv: UnsafeMutablePointer<Float>, generated: Int,
                       heads: Int, prefixKeys: UnsafeMutablePointer<Float>, prefixValues: UnsafeMutablePointer<Float>,
                       prefixLength: [Int], maxPrefix: Int, out: UnsafeMutablePointer<Float>) {
        let range = only ?? 0..<groups.prompt.count
        let kernel = LaneAttention(d: width, heads: heads, maxNew: maxNew, maxPrefix: maxPrefix, generated: generated,
                                   keys: keys[l].ptr, values: values[l].ptr, blocks: blocks, qkv: qkv,
                                   prefixKeys: prefixKeys, prefixValues: prefixValues, out: out, zeroRow: zeroRow.ptr)
        switch laneWidth {
        case 16: kernel.run(SIMD16<Float>.self, groups, range, prefixLength)
        case 8: kernel.run(SIMD8<Float>.self, groups, range, prefixLength)
        case 4: kernel.run(SIMD4<Float>.self, groups, range, prefixLength)
        default: kernel.run(SIMD2<Float>.self, groups, range, prefixLength)
        }
    }
}

/// One layer step of decoding attention over lane blocks (see `GeneratedCache`).
private struct LaneAttention {
    let d: Int, heads: Int, maxNew: Int, maxPrefix: Int, generated: Int
    let keys: UnsafeMutablePointer<Float>, values: UnsafeMutablePointer<Float>, blocks: Int
    let qkv: UnsafeMutablePointer<Float>, prefixKeys: UnsafeMutablePointer<Float>, prefixValues: UnsafeMutablePointer<Float>
    let out: UnsafeMutablePointer<Float>
    /// 3·d zeros: the row a finished sample's lane reads.
    let zeroRow: UnsafeMutablePointer<Float>

    func run<V: LaneVector>(_: V.Type, _ groups: GeneratedCache.LaneGroups, _ range: Range<Int>, _ prefixLength: [Int]) {
        let w = V.scalarCount, n = range.count, g0 = range.lowerBound
        let perGroup = 2 * d + maxPrefix + maxNew + 1  // vectors: queries, outputs, scores, maximum
        let scratch = UnsafeMutablePointer<V>.allocate(capacity: n * perGroup)  // one per layer step, not per group
        defer { scratch.deallocate() }
        groups.rows.withUnsafeBufferPointer { rows in
            parallelEach(n) { i in
                let gi = g0 + i
                let p = groups.prompt[gi]
                let block = (p * blocks + groups.block[gi]) * d * maxNew * w
                group(V.self, rows: rows.baseAddress! + gi * w, prefixLength: prefixLength[p],
                      prefixKeys: prefixKeys + p * maxPrefix * d, prefixValues: prefixValues + p * maxPrefix * d,
                      keys: keys + block, values: values + block, scratch: scratch + i * perGroup)
            }
        }
    }

    /// Element (time t, feature f) of a block's lanes is at base + (t·d + f)·lanes.
    @inline(__always)
    private func group<V: LaneVector>(_: V.Type, rows: UnsafePointer<Int32>, prefixLength lp: Int,
                                prefixKeys pk: UnsafeMutablePointer<Float>, prefixValues pv: UnsafeMutablePointer<Float>,
                                keys: UnsafeMutablePointer<Float>, values: UnsafeMutablePointer<Float>,
                                scratch: UnsafeMutablePointer<V>) {
        let w = V.scalarCount, hs = d / heads, g = generated, total = lp + g, t0 = g - 1
        let q = scratch, o = q + d, scores = o + d, mz = scores + maxPrefix + maxNew
        // Lanes are addressed as floats (a SIMD lane subscript is not inlined in generic code).
        let qf = UnsafeMutableRawPointer(q).assumingMemoryBound(to: Float.self)
        let of = UnsafeMutableRawPointer(o).assumingMemoryBound(to: Float.self)
        let sf = UnsafeMutableRawPointer(scores).assumingMemoryBound(to: Float.self)
        let mf = UnsafeMutableRawPointer(mz).assumingMemoryBound(to: Float.self)
        // Queries into lanes, the new keys and values into the cache; the lane of a finished or
        // missing sample gets zeros (so that every slot read was written). Feature by
        // feature, so that each store is one lane vector: storing row by row, 16 features apart,
        // compiles to scatters, which took a third of decoding attention.
        withUnsafeTemporaryAllocation(of: UnsafePointer<Float>.self, capacity: w) { src in
            for i in 0..<w { src[i] = rows[i] >= 0 ? UnsafePointer(qkv + Int(rows[i]) * 3 * d) : UnsafePointer(zeroRow) }
            // One time step of a block is d·lanes floats in a row: the stores fill whole cache lines in order.
            let kt = keys + t0 * d * w, vt = values + t0 * d * w
            for f in 0..<d {
                for i in 0..<w {
                    let row = src[i]
                    qf[f * w + i] = row[f]
                    kt[f * w + i] = row[d + f]
                    vt[f * w + i] = row[2 * d + f]
                }
            }
        }
        let scale = 1 / Float(hs).squareRoot()
        for h in 0..<heads {
            let c0 = h * hs
            prefixScores(V.self, q + c0, pk + c0, lp, hs, scale, scores)
            generatedScores(V.self, q + c0, keys + c0 * w, g, hs, scale, scores + lp)
            // Softmax per lane (the maximum on floats: lane-wise max is not vectorised in generic code).
            for i in 0..<w { mf[i] = -.infinity }
            for t in 0..<total { for i in 0..<w { mf[i] = Swift.max(mf[i], sf[t * w + i]) } }
            let m = mz[0]
            var z = V()
            for t in 0..<total {
                let e = V.exp(scores[t] - m)
                scores[t] = e
                z += e
            }
            weightedValues(V.self, scores, pv + c0, lp, values + c0 * w, g, hs, 1 / z, o + c0)
        }
        for i in 0..<w where rows[i] >= 0 {
            let dst = out + Int(rows[i]) * d
            for f in 0..<d { dst[f] = of[f * w + i] }
        }
    }

    /// scores[t] = (q · key t) · scale over the prefix (rows `d` apart, one key for every lane), four
    /// time steps at a time (four independent FMA chains).
    @inline(__always)
    private func prefixScores<V: LaneVector>(_: V.Type, _ q: UnsafeMutablePointer<V>, _ keys: UnsafeMutablePointer<Float>, _ count: Int,
                                       _ hs: Int, _ scale: Float, _ scores: UnsafeMutablePointer<V>) {
        var t = 0
        while t + 4 <= count {
            let k0 = keys + t * d, k1 = k0 + d, k2 = k1 + d, k3 = k2 + d
            var a0 = V(), a1 = V(), a2 = V(), a3 = V()
            for j in 0..<hs {
                let qj = q[j]
                a0.addProduct(qj, V(repeating: k0[j])); a1.addProduct(qj, V(repeating: k1[j]))
                a2.addProduct(qj, V(repeating: k2[j])); a3.addProduct(qj, V(repeating: k3[j]))
            }
            scores[t] = a0 * scale; scores[t + 1] = a1 * scale; scores[t + 2] = a2 * scale; scores[t + 3] = a3 * scale
            t += 4
        }
        while t < count {
            let k0 = keys + t * d
            var a0 = V()
            for j in 0..<hs { a0.addProduct(q[j], V(repeating: k0[j])) }
            scores[t] = a0 * scale
            t += 1
        }
    }

    /// scores[t] = (q · key t) · scale over the generated keys (lane vectors; feature j's times are
    /// vector t of feature j at keys + (t·d + j)·lanes), four time steps at a time.
    @inline(__always)
    private func generatedScores<V: LaneVector>(_: V.Type, _ q: UnsafeMutablePointer<V>, _ keys: UnsafeMutablePointer<Float>, _ count: Int,
                                          _ hs: Int, _ scale: Float, _ scores: UnsafeMutablePointer<V>) {
        let w = V.scalarCount, ts = d * w
        var t = 0
        while t + 4 <= count {
            var a0 = V(), a1 = V(), a2 = V(), a3 = V()
            for j in 0..<hs {
                let qj = q[j], kj = keys + j * w + t * ts
                a0.addProduct(qj, lanes(kj, V.self)); a1.addProduct(qj, lanes(kj + ts, V.self))
                a2.addProduct(qj, lanes(kj + 2 * ts, V.self)); a3.addProduct(qj, lanes(kj + 3 * ts, V.self))
            }
            scores[t] = a0 * scale; scores[t + 1] = a1 * scale; scores[t + 2] = a2 * scale; scores[t + 3] = a3 * scale
            t += 4
        }
        while t < count {
            var a0 = V()
            for j in 0..<hs { a0.addProduct(q[j], lanes(keys + j * w + t * ts, V.self)) }
            scores[t] = a0 * scale
            t += 1
        }
    }

    /// out[j] = inv · (Σ_t p[t] · prefix value (t, j) + Σ_t p[prefix + t] · generated value (t, j))
    /// for the head's features, four at a time; prefix values are rows `d` apart, generated ones
    /// lane vectors as in `generatedScores`.
    @inline(__always)
    private func weightedValues<V: LaneVector>(_: V.Type, _ p: UnsafeMutablePointer<V>, _ prefix: UnsafeMutablePointer<Float>, _ prefixCount: Int,
                                         _ generated: UnsafeMutablePointer<Float>, _ generatedCount: Int, _ hs: Int, _ inv: V,
                                         _ out: UnsafeMutablePointer<V>) {
        let w = V.scalarCount, ts = d * w
        let pg = p + prefixCount
        var j = 0
        while j + 4 <= hs {
            var a0 = V(), a1 = V(), a2 = V(), a3 = V()
            for t in 0..<prefixCount {
                let pt = p[t], v = prefix + t * d + j
                a0.addProduct(pt, V(repeating: v[0])); a1.addProduct(pt, V(repeating: v[1]))
                a2.addProduct(pt, V(repeating: v[2])); a3.addProduct(pt, V(repeating: v[3]))
            }
            let g0 = generated + j * w, g1 = g0 + w, g2 = g1 + w, g3 = g2 + w
            for t in 0..<generatedCount {
                let pt = pg[t], o = t * ts
                a0.addProduct(pt, lanes(g0 + o, V.self)); a1.addProduct(pt, lanes(g1 + o, V.self))
                a2.addProduct(pt, lanes(g2 + o, V.self)); a3.addProduct(pt, lanes(g3 + o, V.self))
            }
            out[j] = a0 * inv; out[j + 1] = a1 * inv; out[j + 2] = a2 * inv; out[j + 3] = a3 * inv
            j += 4
        }
        while j < hs {
            var a0 = V()
            for t in 0..<prefixCount { a0.addProduct(p[t], V(repeating: prefix[t * d + j])) }
            for t in 0..<generatedCount { a0.addProduct(pg[t], lanes(generated + j * w + t * ts, V.self)) }
            out[j] = a0 * inv
            j += 1
        }
    }
}

@inline(__always)
private func lanes<V: LaneVector>(_ p: UnsafeMutablePointer<Float>, _: V.Type) -> V {
    UnsafeRawPointer(p).loadUnaligned(as: V.self)
}

/// The float vectors decoding attention runs on, one lane per sample.
protocol LaneVector: SIMD where Scalar == Float {
    /// `fastExp` on every lane, with the scalar version's bits.
    static func exp(_ x: Self) -> Self
}

extension SIMD16: LaneVector where Scalar == Float {
    @inline(__always)
    static func exp(_ x: SIMD16<Float>) -> SIMD16<Float> { SIMD16(lowHalf: fastExp(x.lowHalf), highHalf: fastExp(x.highHalf)) }
}

extension SIMD8: LaneVector where Scalar == Float {
    @inline(__always)
    static func exp(_ x: SIMD8<Float>) -> SIMD8<Float> { fastExp(x) }
}

extension SIMD4: LaneVector where Scalar == Float {
    @inline(__always)
    static func exp(_ x: SIMD4<Float>) -> SIMD4<Float> { SIMD8<Float>.exp(SIMD8<Float>(lowHalf: x, highHalf: x)).lowHalf }
}

extension SIMD2: LaneVector where Scalar == Float {
    @inline(__always)
    static func exp(_ x: SIMD2<Float>) -> SIMD2<Float> { SIMD4<Float>.exp(SIMD4<Float>(lowHalf: x, highHalf: x)).lowHalf }
}
