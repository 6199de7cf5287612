import Foundation
import MSTaRTasks
import MSTaRTensor

/// How responses are drawn.
public struct SamplingOptions: Codable, Equatable, Sendable {
    /// Softmax temperature; 0 means greedy (argmax).
    public var temperature: Float
    /// Nucleus sampling: keep the smallest set of tokens whose probability reaches `topP` (1 = off).
    public var topP: Float
    /// Most tokens generated per response (including `<eos>`).
    public var maxTokens: Int
    /// Most sequences decoded at once (bounds KV-cache memory).
    public var chunk: Int
    /// Whether a response ends at `<eos>` (benchmarks turn this off to decode a fixed length).
    public var stopAtEOS: Bool

    /// Creates options from their fields; the defaults sample at temperature 1 without top-p.
    public init(temperature: Float = 1, topP: Float = 1, maxTokens: Int = 48, chunk: Int = 512, stopAtEOS: Bool = true) {
        self.temperature = temperature; self.topP = topP; self.maxTokens = maxTokens; self.chunk = chunk
        self.stopAtEOS = stopAtEOS
    }

    /// Greedy decoding.
    public static func greedy(maxTokens: Int = 48) -> SamplingOptions { SamplingOptions(temperature: 0, maxTokens: maxTokens) }
}

/// A prompt to sample from: its scene, its prompt ids, and a stream id that seeds its samples
/// (so a prompt's samples are the same whatever else is in the batch).
public struct SamplePrompt: Sendable {
    /// The scene (nil for text-only prompts, which see a blank canvas).
    public var image: Canvas?
    /// Prompt ids the responses continue (`<bos> [<image>] question <response>`).
    public var prompt: [Int]
    /// Stream id that, with the seed, seeds this prompt's samples.
    public var stream: UInt64
    /// Creates a prompt from its fields.
    public init(image: Canvas?, prompt: [Int], stream: UInt64) {
        self.image = image; self.prompt = prompt; self.stream = stream
    }

    /// The prompt of `example`: its scene and `<bos> [<image>] question <response>`.
    public init(_ example: Example, stream: UInt64, tokenizer: Tokenizer = .standard) throws {
        self.init(image: example.image, prompt: try tokenizer.encodePrompt(question: example.question, hasImage: example.image != nil),
                  stream: stream)
    }
}

/// One generated response.
public struct Rollout: Sendable, Equatable {
    /// Generated ids, ending with `<eos>` when `finished`.
    public var tokens: [Int]
    /// log π(token) of each generated token under the policy (temperature 1).
    public var logProbs: [Float]
    /// Mean entropy (nats) of the policy's next-token distribution (temperature 1) over the response.
    public var meanEntropy: Float
    /// Whether the response ended with `<eos>` rather than the length limit.
    public var finished: Bool

    /// A response generated elsewhere, or read back from a step's records.
    public init(tokens: [Int], logProbs: [Float], meanEntropy: Float, finished: Bool) {
        self.tokens = tokens; self.logProbs = logProbs; self.meanEntropy = meanEntropy; self.finished = finished
    }
}

/// Batched generation with a KV cache.
///
/// Each prompt's prefix (image tokens and prompt text) is computed once (a chunk's prompts in one
/// forward with the portable numerics) and its keys and values are shared by its K samples; only
/// generated tokens get per-sample cache rows, laid out so that attention runs across a prompt's
/// samples in SIMD lanes (`GeneratedCache`). Samples of a prompt that have drawn the same tokens so
/// far decode as one row. Every matrix product in decoding computes a row the same way wherever it
/// sits (in fixed blocks of rows under OpenBLAS) and every sample draws from its own seeded stream,
/// so a sample's tokens and log-probabilities do not depend on which other prompts are in the
/// batch or on the thread count.
public final class Sampler {
    /// The policy that decodes.
    public let model: VisionLanguageModel
    /// Token id that ends a response.
    public let eos: Int
    /// Rows per GEMM block in decoding. Each block packs the weights again, so fewer, larger blocks
    /// pack less (128 measured 5% faster than 64 in `mstar bench`).
    static let block = 128

    /// Whether samples of a prompt with the same tokens so far decode as one row (the default; the
    /// rollouts are the same bits either way, which the tests check by turning it off).
    public var sharesIdenticalPrefixes = true

    /// A sampler decoding from `model` that stops responses at `eos`.
    public init(model: VisionLanguageModel, eos: Int = Tokenizer.standard.eos) {
        self.model = model
        self.eos = eos
    }

    /// `k` responses for each prompt; `seed` and each prompt's stream seed every sample.
    public func generate(_ prompts: [SamplePrompt], k: Int, options: SamplingOptions, seed: UInt64,
                         shouldStop: (() -> Bool)? = nil) throws -> [[Rollout]] {
        try generate(prompts, k: k, temperatures: [options.temperature], options: options, seed: seed, shouldStop: shouldStop).first ?? []
    }

    /// `k` responses for each prompt at each temperature, `[temperature][prompt][sample]`: each
    /// chunk of prompts is prefilled once and decoded at every temperature, with the chunks and
    /// seeds of `generate`, so each temperature's rollouts are the ones `generate` gives.
    ///
    /// Decoding a chunk at one temperature is a job of its own, run whole on one thread: a decoding
    /// step's products and attention are too small to split well over threads, and the jobs are
    /// many (the temperature search's candidates, a step's chunks). A row's bits depend neither on
    /// the thread nor on the other rows, so the rollouts are the same bits at any thread count.
    public func generate(_ prompts: [SamplePrompt], k: Int, temperatures: [Float], options: SamplingOptions, seed: UInt64,
                         shouldStop: (() -> Bool)? = nil) throws -> [[[Rollout]]] {
        guard k > 0 else { throw TensorError.invalid("k must be at least 1") }
        let perChunk = Swift.max(1, options.chunk / k)
        let chunks = stride(from: 0, to: prompts.count, by: perChunk).map { Array(prompts[$0..<Swift.min(prompts.count, $0 + perChunk)]) }
        let nT = temperatures.count
        guard nT > 0 else { return [] }
        // Chunks go in waves, each with enough jobs to keep every thread busy while the threads
        // take them in turn (jobs differ in cost); a wave's prefix caches are held at once. Where
        // a wave has too few (chunk, temperature) pairs, each chunk's prompts are split into parts,
        // each decoded as in its whole chunk.
        let target = 4 * Runtime.threads
        let perWave = Swift.max(1, (target + nT - 1) / nT)
        // The decoding products' weights, packed once for every job (as they are now: a policy
        // trained between calls is packed again).
        let weights = Numerics.mode == .portable ? DecodeWeights(model) : nil
        var out = [[[Rollout]]](repeating: [], count: nT)
        var first = 0
        while first < chunks.count {
            // A stop returns, at every temperature, the chunks that all of them finished.
            if shouldStop?() == true { break }
            let wave = Array(chunks[first..<Swift.min(chunks.count, first + perWave)])
            // (Under OpenBLAS a row's bits depend on its place in a block of rows: chunks stay whole.)
            let parts = Runtime.threads == 1 || Numerics.mode != .portable
                ? 1 : Swift.min(perChunk, (target + wave.count * nT - 1) / (wave.count * nT))
            var prefilled = [Prefilled?](repeating: nil, count: wave.count)
            try prefilled.withUnsafeMutableBufferPointer { slots in
                try parallelJobs(wave.count) { c in slots[c] = try Tensor.withoutGrad { try prefill(wave[c]) } }
            }
            // Job j: chunk j / (parts · nT), then its part, then the temperature. Chunk by chunk (a
            // stop keeps whole chunks), the hottest first (more distinct samples, longer responses),
            // so that no long job is left for the end.
            var decoded = [[[Rollout]]?](repeating: nil, count: wave.count * parts * nT)
            let order = decoded.indices.sorted {
                ($0 / (parts * nT), -temperatures[$0 % nT], $0) < ($1 / (parts * nT), -temperatures[$1 % nT], $1)
            }
            try decoded.withUnsafeMutableBufferPointer { slots in
                try parallelJobs(slots.count, stop: shouldStop) { q in
                    let j = order[q]
                    let c = j / (parts * nT), part = j / nT % parts, chunk = wave[c]
                    let size = (chunk.count + parts - 1) / parts
                    let range = Swift.min(chunk.count, part * size)..<Swift.min(chunk.count, (part + 1) * size)
                    var o = options
                    o.temperature = temperatures[j % nT]
                    slots[j] = range.isEmpty ? [] : try Tensor.withoutGrad {
                        try decodeChunk(chunk, part: range, prefilled[c]!, k: k, options: o, seed: seed, weights: weights)
                    }
                }
            }
            for c in wave.indices {
                let jobs = (c * parts * nT)..<((c + 1) * parts * nT)
                guard jobs.allSatisfy({ decoded[$0] != nil }) else { return out }
                for part in 0..<parts { for t in 0..<nT { out[t] += decoded[(c * parts + part) * nT + t]! } }
            }
            first += wave.count
        }
        return out
    }

    /// The generator of sample `j` of a prompt with stream `stream`.
    public static func sampleRNG(seed: UInt64, stream: UInt64, sample j: Int) -> RNG {
        RNG(seed: SplitMix64.mix(seed ^ SplitMix64.mix(stream)), stream: UInt64(j))
    }

    /// A chunk's prefixes, run once for every temperature it is decoded at.
    struct Prefilled {
        /// Prefix length (image tokens and prompt) of each prompt, and the longest.
        let prefixLength: [Int], maxPrefix: Int
        /// Per layer, each prompt's prefix keys and values [prompts, maxPrefix, dModel].
        let keys: [Tensor], values: [Tensor]
        /// Each prompt's next-token logits after its prefix [prompts, vocab].
        let firstLogits: Tensor
    }

    /// Prefills each prompt alone: keys and values of its prefix, and its first-token logits.
    func prefill(_ prompts: [SamplePrompt]) throws -> Prefilled {
        let c = model.config, d = c.dModel, layers = c.layers
        let nP = prompts.count
        let prefixLength = try prompts.map { p -> Int in
            guard !p.prompt.isEmpty, p.prompt.count < c.maxText else {
                throw TensorError.invalid("prompt of \(p.prompt.count) tokens: must be 1 to \(c.maxText - 1) tokens")
            }
            return c.imageTokens + p.prompt.count
        }
        let maxPrefix = prefixLength.max()!
        let prefixK = (0..<layers).map { _ in Tensor(uninitialized: [nP, maxPrefix, d]) }
        let prefixV = (0..<layers).map { _ in Tensor(uninitialized: [nP, maxPrefix, d]) }
        let firstLogits = Tensor(uninitialized: [nP, c.vocab])
        if Numerics.mode == .portable {
            // The chunk's prompts in one forward, right-padded: every row has the bits it has alone
            // (causal attention, and products whose rows do not depend on their place).
            try prefillTogether(prompts, prefixLength: prefixLength, maxPrefix: maxPrefix, firstRow: 0,
                                keys: prefixK, values: prefixV, logits: firstLogits)
        } else {
            // OpenBLAS's products can give a row other bits by its place: each prompt alone.
            for i in prompts.indices {
                try prefillTogether([prompts[i]], prefixLength: [prefixLength[i]], maxPrefix: maxPrefix, firstRow: i,
                                    keys: prefixK, values: prefixV, logits: firstLogits)
            }
        }
        return Prefilled(prefixLength: prefixLength, maxPrefix: maxPrefix, keys: prefixK, values: prefixV, firstLogits: firstLogits)
    }

    /// Decodes `k` samples of the prompts `part` of a prefilled chunk (its prompts `chunk`). A
    /// part decodes as it does within its whole chunk: the length limit is the chunk's.
    private func decodeChunk(_ chunk: [SamplePrompt], part: Range<Int>, _ prefilled: Prefilled, k: Int, options: SamplingOptions,
                             seed: UInt64, weights: DecodeWeights?) throws -> [[Rollout]] {
        let c = model.config, d = c.dModel, layers = c.layers
        let prompts = chunk[part], lo = part.lowerBound
        let nP = prompts.count, n = nP * k
        let prefixLength = Array(prefilled.prefixLength[part]), maxPrefix = prefilled.maxPrefix
        let prefixK = prefilled.keys.map { $0.ptr + lo * maxPrefix * d }, prefixV = prefilled.values.map { $0.ptr + lo * maxPrefix * d }
        let firstLogits = prefilled.firstLogits.ptr + lo * c.vocab

        // The chunk's limit: `maxTokens`, or less when the chunk's longest prefix leaves less room.
        // That makes a long prompt's neighbours stop early too; the recorded notebooks (PRM labels
        // of long prefixes) depend on it, so it stays until they are next re-recorded.
        let maxNew = Swift.max(1, Swift.min(options.maxTokens, c.maxSeq - maxPrefix))
        let generatedCache = GeneratedCache(layers: layers, prompts: nP, k: k, maxNew: maxNew, width: d)
        var rngs = (0..<n).map { Sampler.sampleRNG(seed: seed, stream: prompts[lo + $0 / k].stream, sample: $0 % k) }
        var tokens = [[Int]](repeating: [], count: n)
        var logProbs = [[Float]](repeating: [], count: n)
        var entropy = [Double](repeating: 0, count: n)
        var finished = [Bool](repeating: false, count: n)
        // Per-sequence limit: the chunk's limit, or less when the prompt is long.
        let limit = (0..<n).map { Swift.min(maxNew, c.maxSeq - prefixLength[$0 / k]) }

        // First token of every sample from its prompt's prefill logits.
        var logits = Tensor(uninitialized: [n, c.vocab])
        for s in 0..<n { (logits.ptr + s * c.vocab).update(from: firstLogits + (s / k) * c.vocab, count: c.vocab) }
        var active = Array(0..<n)
        // Samples of a prompt that have drawn the same tokens so far have the same next-token
        // logits, bit for bit (a row's bits do not depend on its place), so each such set decodes
        // as one row, its representative's: rep[s] is the first sample of s's set. At low
        // temperatures most of a prompt's samples share long prefixes.
        var rep = (0..<n).map { ($0 / k) * k }
        var logitRow = Array(0..<n)  // row of `logits` that active[r] samples from
        while !active.isEmpty {
            // Sample for every active sequence (row logitRow[r] of `logits` belongs to active[r]).
            let picks = UnsafeMutablePointer<(Int, Float, Float)>.allocate(capacity: active.count)
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: active.count * c.vocab)  // one per step, not per row
            defer { picks.deallocate(); scratch.deallocate() }
            rngs.withUnsafeMutableBufferPointer { rngBuf in
                logitRow.withUnsafeBufferPointer { logitRow in
                    parallelEach(active.count) { r in
                        let s = active[r]
                        picks[r] = Sampler.pick(logits.ptr + logitRow[r] * c.vocab, c.vocab, options, &rngBuf[s],
                                                scratch: scratch + r * c.vocab)
                    }
                }
            }
            var next: [Int] = []
            for (r, s) in active.enumerated() {
                let (tok, lp, h) = picks[r]
                tokens[s].append(tok); logProbs[s].append(lp); entropy[s] += Double(h)
                if tok == eos && options.stopAtEOS { finished[s] = true } else if tokens[s].count < limit[s] { next.append(s) }
            }
            active = next
            if active.isEmpty { break }
            // The sets after this token: same set before and the same token now.
            var firstOf: [Int: Int] = [:]
            var unique: [Int] = []
            logitRow = active.map { s in
                let key = sharesIdenticalPrefixes ? rep[s] * c.vocab + tokens[s].last! : -1 - s
                if let u = firstOf[key] { rep[s] = unique[u]; return u }
                firstOf[key] = unique.count; rep[s] = s; unique.append(s)
                return unique.count - 1
            }
            logits = try decode(active: active, unique: unique, rowOf: logitRow, k: k, tokens: tokens, prefixLength: prefixLength,
                                maxPrefix: maxPrefix, prefixK: prefixK, prefixV: prefixV, cache: generatedCache, weights: weights)
        }
        return (0..<nP).map { p in
            (0..<k).map { j in
                let s = p * k + j
                return Rollout(tokens: tokens[s], logProbs: logProbs[s],
                               meanEntropy: Float(entropy[s] / Double(Swift.max(1, tokens[s].count))), finished: finished[s])
            }
        }
    }

    /// Runs the prompts' prefixes through the model together, storing each layer's keys and values
    /// (rows `firstRow...` of [chunk prompts, maxPrefix, dModel]) and each prompt's logits at its
    /// last position (rows `firstRow...` of [chunk prompts, vocab]).
    private func prefillTogether(_ prompts: [SamplePrompt], prefixLength: [Int], maxPrefix: Int, firstRow: Int,
                                 keys: [Tensor], values: [Tensor], logits: Tensor) throws {
        let c = model.config, d = c.dModel, nP = prompts.count
        let pixels = c.imageHeight * c.imageWidth
        let images = Tensor.zeros([nP, c.imageHeight, c.imageWidth])
        for (i, p) in prompts.enumerated() {
            guard let canvas = p.image else { continue }
            guard canvas.height == c.imageHeight, canvas.width == c.imageWidth else {
                throw TensorError.shapeMismatch("scene \(canvas.height)x\(canvas.width) does not fit the model's \(c.imageHeight)x\(c.imageWidth) input")
            }
            canvas.pixels.withUnsafeBufferPointer { (images.ptr + i * pixels).update(from: $0.baseAddress!, count: pixels) }
        }
        let (prefix, states) = try model.prefill(images: try model.vision(images), prompts: prompts.map { $0.prompt.map(Int32.init) })
        let rows = prefix.qkv.first!.shape[1], textRows = states.shape[1]
        for (l, qkv) in prefix.qkv.enumerated() {
            for i in 0..<nP {
                for t in 0..<prefixLength[i] {
                    let src = qkv.ptr + (i * rows + t) * 3 * d
                    (keys[l].ptr + ((firstRow + i) * maxPrefix + t) * d).update(from: src + d, count: d)
                    (values[l].ptr + ((firstRow + i) * maxPrefix + t) * d).update(from: src + 2 * d, count: d)
                }
            }
        }
        let last = Tensor(uninitialized: [nP, d])
        for (i, p) in prompts.enumerated() { (last.ptr + i * d).update(from: states.ptr + (i * textRows + p.prompt.count - 1) * d, count: d) }
        let out = try linear(last, model.head)
        withExtendedLifetime(out) { (logits.ptr + firstRow * c.vocab).update(from: out.ptr, count: nP * c.vocab) }
    }

    /// One decoding step for the `active` sequences: embeds the last token of each of `unique` (one
    /// per set of samples with the same tokens; active row r belongs to set `rowOf[r]`), runs the
    /// linear layers on those rows only, appends every active row's keys and values to the cache
    /// (a set's rows get its one row), and returns next-token logits [unique, vocab].
    private func decode(active: [Int], unique: [Int], rowOf: [Int], k: Int, tokens: [[Int]], prefixLength: [Int], maxPrefix: Int,
                        prefixK: [UnsafeMutablePointer<Float>], prefixV: [UnsafeMutablePointer<Float>], cache: GeneratedCache,
                        weights: DecodeWeights?) throws -> Tensor {
        let c = model.config, d = c.dModel, a = active.count, u = unique.count
        // Every active sequence has fed the same number of tokens: all start together and leave when done.
        let generated = tokens[active[0]].count
        let groups = cache.laneGroups(active: active)
        // Active row of each set's representative (the first active row of the set).
        var repRow = [Int](repeating: -1, count: u)
        for (r, i) in rowOf.enumerated() where repRow[i] < 0 { repRow[i] = r }
        let x = Tensor(uninitialized: [u, d])
        for (i, s) in unique.enumerated() {
            let g = tokens[s].count - 1  // index of the token being fed among generated ones
            let pos = prefixLength[s / k] - c.imageTokens + g  // text position (image tokens have none)
            let tok = tokens[s][g]
            let xr = x.ptr + i * d, te = model.tokenEmbedding.ptr + tok * d, pe = model.positionEmbedding.ptr + pos * d
            for j in 0..<d { xr[j] = te[j] + pe[j] }
        }
        // With packed weights the q/k/v product and attention go a few prompts at a time, so that
        // the rows are still in cache when attention spreads them over lanes (a whole step's
        // q/k/v outgrow the cache, and reading them back was most of attention's time).
        let slices = weights == nil ? [] : Self.slices(groups, laneWidth: cache.laneWidth, rowOf: rowOf, rows: 64)
        let most = slices.map { $0.rows.count }.max() ?? 0
        let sliceQKV = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(1, 2 * most * 3 * d))
        defer { sliceQKV.deallocate() }
        for (l, block) in model.blocks.enumerated() {
            let h = try block.normalize(x, block.ln1Weight, block.ln1Bias)
            let attnAll = Tensor(uninitialized: [a, d])
            if let packed = weights?.qkv[l] {
                let setRows = sliceQKV, expanded = sliceQKV + most * 3 * d
                for slice in slices {
                    let r0 = slice.rows.lowerBound, u0 = slice.units.lowerBound
                    withExtendedLifetime(h) { packed(h.ptr + u0 * d, rows: slice.units.count, into: setRows) }
                    var base = setRows - r0 * 3 * d  // the slice's rows at their active index
                    if slice.units.count < slice.rows.count {
                        for r in slice.rows { (expanded + (r - r0) * 3 * d).update(from: setRows + (rowOf[r] - u0) * 3 * d, count: 3 * d) }
                        base = expanded - r0 * 3 * d
                    }
                    cache.attend(layer: l, groups: groups, only: slice.groups, qkv: base, generated: generated, heads: block.heads,
                                 prefixKeys: prefixK[l], prefixValues: prefixV[l], prefixLength: prefixLength, maxPrefix: maxPrefix,
                                 out: attnAll.ptr)
                }
            } else {
                let qkvUnique = blockedLinear(h, block.qkvWeight, block.qkvBias)
                var qkv = qkvUnique
                if u < a {
                    qkv = Tensor(uninitialized: [a, 3 * d])
                    for (r, i) in rowOf.enumerated() { (qkv.ptr + r * 3 * d).update(from: qkvUnique.ptr + i * 3 * d, count: 3 * d) }
                }
                cache.attend(layer: l, groups: groups, qkv: qkv.ptr, generated: generated, heads: block.heads,
                             prefixKeys: prefixK[l], prefixValues: prefixV[l], prefixLength: prefixLength, maxPrefix: maxPrefix,
                             out: attnAll.ptr)
            }
            var attn = attnAll
            if u < a {
                attn = Tensor(uninitialized: [u, d])
                for (i, r) in repRow.enumerated() { (attn.ptr + i * d).update(from: attnAll.ptr + r * d, count: d) }
            }
            let x1 = try add(x, blockedLinear(attn, block.projWeight, block.projBias, weights?.proj[l]))
            let h2 = try block.normalize(x1, block.ln2Weight, block.ln2Bias)
            let m = blockedLinear(try block.activate(blockedLinear(h2, block.fc1Weight, block.fc1Bias, weights?.fc1[l])),
                                  block.fc2Weight, block.fc2Bias, weights?.fc2[l])
            let x2 = try add(x1, m)
            x.ptr.update(from: x2.ptr, count: u * d)
        }
        let normed = c.norm == .layerNorm
            ? try layerNorm(x, weight: model.normWeight, bias: model.normBias) : try rmsNorm(x, weight: model.normWeight)
        return blockedLinear(normed, model.head, nil, weights?.head)
    }

    /// Runs of whole prompts' lane groups with about `rows` active rows each: their groups, their
    /// active rows and the distinct rows (sets of samples) those belong to, each a contiguous range
    /// (active rows go prompt by prompt, and a prompt's sets follow its first row).
    static func slices(_ groups: GeneratedCache.LaneGroups, laneWidth w: Int, rowOf: [Int], rows: Int)
        -> [(groups: Range<Int>, rows: Range<Int>, units: Range<Int>)] {
        var out: [(groups: Range<Int>, rows: Range<Int>, units: Range<Int>)] = []
        let n = groups.prompt.count
        var g0 = 0
        // A group's lanes hold its active rows in order, -1 for the samples that have finished.
        func lastRow(_ g: Int) -> Int { (0..<w).reduce(-1) { Swift.max($0, Int(groups.rows[g * w + $1])) } }
        func firstRow(_ g: Int) -> Int { (0..<w).reduce(Int.max) { r, i in groups.rows[g * w + i] < 0 ? r : Swift.min(r, Int(groups.rows[g * w + i])) } }
        while g0 < n {
            var g1 = g0 + 1
            let r0 = firstRow(g0)
            // Whole prompts (a prompt's blocks may share sets), until the slice has its rows.
            while g1 < n && (groups.prompt[g1] == groups.prompt[g1 - 1] || lastRow(g1 - 1) + 1 - r0 < rows) { g1 += 1 }
            let r1 = lastRow(g1 - 1) + 1
            let u0 = rowOf[r0], u1 = rowOf[r0..<r1].max()! + 1
            out.append((g0..<g1, r0..<r1, u0..<u1))
            g0 = g1
        }
        return out
    }

    /// x [rows, in] · Wᵀ + b with every row computed the same way whatever the number of rows:
    /// with the portable numerics by `packed` (W and b packed for the portable product, whose rows
    /// never depend on their place); under OpenBLAS in fixed blocks of `block` rows (the last one
    /// padded), spread over the workers.
    func blockedLinear(_ x: Tensor, _ w: Tensor, _ b: Tensor?, _ packed: PackedLinear? = nil) -> Tensor {
        let rows = x.count / w.shape[1], inF = w.shape[1], outF = w.shape[0], bs = Sampler.block
        let out = Tensor(uninitialized: [rows, outF])
        if let packed {
            withExtendedLifetime(x) { packed(x.ptr, rows: rows, into: out.ptr) }
            return out
        }
        let blocks = (rows + bs - 1) / bs
        parallelEach(blocks) { blk in
            let lo = blk * bs, n = Swift.min(bs, rows - lo)
            let src: UnsafeMutablePointer<Float>, dst: UnsafeMutablePointer<Float>
            let padded = n < bs
            if padded {
                src = .allocate(capacity: bs * inF); src.initialize(repeating: 0, count: bs * inF)
                src.update(from: x.ptr + lo * inF, count: n * inF)
                dst = .allocate(capacity: bs * outF)
            } else {
                src = x.ptr + lo * inF; dst = out.ptr + lo * outF
            }
            if let b { for r in 0..<bs { (dst + r * outF).update(from: b.ptr, count: outF) } }
            sgemmSingle(transB: true, m: bs, n: outF, k: inF, a: src, b: w.ptr, beta: b == nil ? 0 : 1, c: dst)
            if padded {
                (out.ptr + lo * outF).update(from: dst, count: n * outF)
                src.deallocate(); dst.deallocate()
            }
        }
        return out
    }

    /// Chooses the next token from one row of logits; returns (token, log π(token), entropy of π),
    /// with π the policy at temperature 1. `scratch` holds `v` floats.
    static func pick(_ logits: UnsafeMutablePointer<Float>, _ v: Int, _ o: SamplingOptions, _ rng: inout RNG,
                     scratch probs: UnsafeMutablePointer<Float>) -> (Int, Float, Float) {
        var m = -Float.infinity, arg = 0
        for j in 0..<v where logits[j] > m { m = logits[j]; arg = j }
        // One exponential per token: with e = exp(l - m) and z = Σ e, log π = l - m - log z and the
        // entropy is log z - Σ e (l - m) / z (no exp of the log-probabilities again).
        // The exponentials eight at a time (each lane has the scalar version's bits), the sums in order.
        var z: Double = 0, el: Double = 0
        Sampler.exponentials(logits, v, minus: m, times: 1, into: probs)
        for j in 0..<v {
            let e = probs[j]
            z += Double(e); el += Double(e) * Double(logits[j] - m)
        }
        let logZ = Float(log(z)) + m
        let h = log(z) - el / z
        var token = arg
        if o.temperature > 0 {
            // Probabilities at the sampling temperature (at 1 they are the e above), then the nucleus.
            var sum = z
            if o.temperature != 1 {
                Sampler.exponentials(logits, v, minus: m, times: 1 / o.temperature, into: probs)
                sum = 0
                for j in 0..<v { sum += Double(probs[j]) }
            }
            if o.topP < 1 {
                let order = (0..<v).sorted { (probs[$0], -$0) > (probs[$1], -$1) }
                var kept: Double = 0
                var cut = v
                for (i, j) in order.enumerated() {
                    kept += Double(probs[j]) / sum
                    if kept >= Double(o.topP) { cut = i + 1; break }
                }
                for j in order[cut...] { probs[j] = 0 }
            }
            token = rng.categorical(UnsafeBufferPointer(start: probs, count: v))
        }
        return (token, logits[token] - logZ, Float(h))
    }
}

extension Sampler {
    /// out[j] = fastExp((logits[j] - m) · s) (without the product when s is 1), eight lanes at a time.
    @inline(__always)
    static func exponentials(_ logits: UnsafePointer<Float>, _ v: Int, minus m: Float, times s: Float,
                             into out: UnsafeMutablePointer<Float>) {
        let mv = SIMD8<Float>(repeating: m), sv = SIMD8<Float>(repeating: s)
        var j = 0
        while j + 8 <= v {
            let d = UnsafeRawPointer(logits + j).loadUnaligned(as: SIMD8<Float>.self) - mv
            UnsafeMutableRawPointer(out + j).storeBytes(of: fastExp(s == 1 ? d : d * sv), as: SIMD8<Float>.self)
            j += 8
        }
        while j < v {
            let d = logits[j] - m
            out[j] = fastExp(s == 1 ? d : d * s)
            j += 1
        }
    }
}

/// The weights of decoding's products packed for them (`PackedLinear`), one per layer and the head.
final class DecodeWeights {
    let qkv: [PackedLinear], proj: [PackedLinear], fc1: [PackedLinear], fc2: [PackedLinear], head: PackedLinear

    init(_ model: VisionLanguageModel) {
        qkv = model.blocks.map { PackedLinear(weight: $0.qkvWeight, bias: $0.qkvBias) }
        proj = model.blocks.map { PackedLinear(weight: $0.projWeight, bias: $0.projBias) }
        fc1 = model.blocks.map { PackedLinear(weight: $0.fc1Weight, bias: $0.fc1Bias) }
        fc2 = model.blocks.map { PackedLinear(weight: $0.fc2Weight, bias: $0.fc2Bias) }
        head = PackedLinear(weight: model.head, bias: nil)
    }
}
