import ArgumentParser
import Foundation
import MSTaR
import MSTaRModel
import MSTaRTasks
import MSTaRTensor

/// `mstar bench`: throughput of the engine's hot paths, as one JSON object with `--json`.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure GEMM throughput, a transformer training step, and the policy's SFT step and KV-cache sampling.",
        discussion: "Runs the reference transformer (d_model 128, 4 layers, 4 heads, MLP 512, vocabulary 256, sequence 80, batch 32) through forward, backward, gradient clipping and AdamW. Compare ratios within one run: the machine is shared and noisy.")

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    @Option(help: "BLAS and worker threads (default: the number of cores).")
    var threads: Int?

    @Option(help: "Timed training steps (after 3 warm-up steps).")
    var steps = 10

    @Option(help: "Seed for weights and token ids.")
    var seed: UInt64 = 0

    @Option(help: "Policy for the evolution step (default: checkpoints/pre-evolved when present, else a fresh policy briefly warmed up on the seed chains).")
    var policy: String?

    @Flag(help: "Skip the evolution step.")
    var noEvolve = false

    @Option(help: "portable (the engine's kernels, the same bits on every CPU) or openblas.")
    var numerics: NumericsMode = .portable

    func run() throws {
        Numerics.warnIfSlow()
        Numerics.mode = numerics
        Runtime.setThreads(threads ?? ProcessInfo.processInfo.activeProcessorCount)
        let config = GPT.Config()
        let (batch, seq) = (32, config.maxSeq)

        // GEMM at the shapes a training step runs (rows = batch·seq tokens): the forward products
        // x·Wᵀ (the headline number), and, listed apart, the backward ones (dx = g·W, dW = gᵀ·x, whose
        // depth is every row) and attention's per-head products.
        let rows = batch * seq, c = config.dModel, h = config.mlpHidden, v = config.vocab, hs = c / config.heads
        let forward = [(rows, 3 * c, c), (rows, c, c), (rows, h, c), (rows, c, h), (rows, v, c)]
        let shapes: [(m: Int, n: Int, k: Int, transA: Bool, transB: Bool, forward: Bool)] =
            forward.map { ($0.0, $0.1, $0.2, false, true, true) }
            + [(rows, c, 3 * c, false, false, false), (3 * c, c, rows, true, false, false), (h, c, rows, true, false, false),
               (c, h, rows, true, false, false), (seq, seq, hs, false, true, false), (seq, hs, seq, false, false, false)]
        var gemm: [[String: Any]] = []
        var gemmFlops = 0.0, gemmSeconds = 0.0
        var rng = RNG(seed: seed)
        for s in shapes {
            let a = Init.normal([s.m, s.k], std: 1, rng: &rng), b = Init.normal([s.n, s.k], std: 1, rng: &rng)
            let out = Tensor(uninitialized: [s.m, s.n])
            let flops = 2.0 * Double(s.m * s.n * s.k)
            let reps = max(10, Int(2e9 / flops))  // about 2 GFLOP per shape
            func product() {
                sgemm(transA: s.transA, transB: s.transB, m: s.m, n: s.n, k: s.k, a: a.ptr, b: b.ptr, c: out.ptr)
            }
            product()
            let t = try time { for _ in 0..<reps { product() } }
            if s.forward {
                gemmFlops += flops * Double(reps)
                gemmSeconds += t
            }
            gemm.append(["m": s.m, "n": s.n, "k": s.k, "trans_a": s.transA, "trans_b": s.transB,
                         "gflops": round3(flops * Double(reps) / t / 1e9)])
        }
        let gemmGflops = gemmFlops / gemmSeconds / 1e9

        // Training step of the reference transformer.
        let model = GPT(config, rng: &rng)
        let opt = AdamW(params: model.parameters, config: .init(lr: 3e-4, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1))
        let ids = (0..<(rows)).map { _ in Int32(rng.int(below: config.vocab)) }
        let targets = (0..<(rows)).map { _ in Int32(rng.int(below: config.vocab)) }
        var lastLoss: Float = 0
        func step() throws {
            opt.zeroGrad()
            let loss = try crossEntropy(try model(ids, batch: batch, seq: seq), targets)
            try loss.backward()
            clipGradNorm(opt.params, maxNorm: 1)
            opt.update()
            lastLoss = loss.item
        }
        for _ in 0..<3 { try step() }
        let trainSeconds = try time { for _ in 0..<steps { try step() } }
        let tokensPerSecond = Double(rows * steps) / trainSeconds
        // Matrix-product FLOPs of one step (forward; backward is twice that): per token and layer the
        // four linears and attention's two T×T products, plus the head.
        let perToken = Double(config.layers) * 2 * Double(c * 3 * c + c * c + 2 * c * h + 2 * seq * c) + 2 * Double(c * v)
        let trainGflops = 3 * perToken * tokensPerSecond / 1e9

        let params = model.parameters.reduce(0) { $0 + $1.count }

        // The policy: one SFT step and KV-cache sampling, on random scenes and tokens.
        let policy = try VisionLanguageModel(ModelConfig(vocab: Tokenizer.standard.vocabSize), rng: &rng)
        let pc = policy.config
        func randomCanvas() throws -> Canvas {
            try Canvas(height: pc.imageHeight, width: pc.imageWidth, pixels: (0..<(pc.imageHeight * pc.imageWidth)).map { _ in rng.uniform() })
        }
        func randomTokens(_ n: Int) -> [Int] { (0..<n).map { _ in 5 + rng.int(below: pc.vocab - 5) } }
        let sftBatch = try SequenceBatch((0..<32).map { _ in
            TrainingSequence(image: try randomCanvas(), prompt: randomTokens(12), response: randomTokens(37))
        }, config: pc)
        let trainer = SFTTrainer(model: policy, options: .init(batchSize: 32, schedule: .constant(lr: 3e-4),
                                                               optimizer: .init(lr: 3e-4, beta1: 0.9, beta2: 0.98, eps: 1e-8, weightDecay: 0.01)), seed: seed)
        for _ in 0..<2 { try trainer.update([sftBatch]) }
        let sftSeconds = try time { for _ in 0..<steps { try trainer.update([sftBatch]) } }
        let sftTokensPerSecond = Double(sftBatch.batch * sftBatch.length * steps) / sftSeconds

        let prompts = try (0..<128).map { i in SamplePrompt(image: try randomCanvas(), prompt: randomTokens(12), stream: UInt64(i)) }
        let sampling = SamplingOptions(temperature: 1, maxTokens: 32, chunk: 512, stopAtEOS: false)
        let sampler = Sampler(model: policy)
        _ = try sampler.generate(Array(prompts.prefix(8)), k: 16, options: sampling, seed: seed)
        var generated = 0
        let sampleSeconds = try time {
            let out = try sampler.generate(prompts, k: 16, options: sampling, seed: seed)
            generated = out.reduce(0) { $0 + $1.reduce(0) { $0 + $1.tokens.count } }
        }
        let sampleTokensPerSecond = Double(generated) / sampleSeconds
        let evolve = noEvolve ? nil : try evolveStep()
        let rowPlacement = gemmRowPlacementSensitivity()
        var result: [String: Any] = [
            "gemm_gflops": round3(gemmGflops),
            "gemm": gemm,
            "train_tokens_per_s": round3(tokensPerSecond),
            "train_step_s": round3(trainSeconds / Double(steps)),
            "train_gflops": round3(trainGflops),
            "train_gemm_fraction": round3(trainGflops / gemmGflops),
            "final_loss": round3(Double(lastLoss)),
            "sft_tokens_per_s": round3(sftTokensPerSecond),
            "sft_step_s": round3(sftSeconds / Double(steps)),
            "sft_token_count": "text positions (32 sequences x 48)",
            "sample_tokens_per_s": round3(sampleTokensPerSecond),
            "sample_seconds": round3(sampleSeconds),
            "sample_config": ["prompts": 128, "k": 16, "new_tokens": 32, "prompt_tokens": 12, "temperature": 1, "chunk": 512],
            "policy_params": policy.parameterCount,
            "peak_rss_mb": round3(peakRSSMegabytes()),
            "threads": Runtime.threads,
            "blas_kernel": Runtime.blasKernel,
            "numerics": ["mode": Numerics.mode.rawValue, "kernel": Numerics.kernel,
                         "vector_width": Numerics.mode == .portable ? Numerics.vectorWidth : 0, "cpu": Numerics.cpuModel],
            "gemm_row_positions_differing": rowPlacement,
            "config": ["vocab": config.vocab, "d_model": c, "layers": config.layers, "heads": config.heads,
                       "mlp_hidden": h, "seq": seq, "batch": batch, "params": params, "steps": steps],
        ]
        if let evolve { for (k, v) in evolve { result[k] = v } }
        if json {
            let data = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print("gemm            \(fmt(gemmGflops)) GFLOP/s (model shapes, \(Runtime.threads) threads, \(Numerics.kernel))")
            print("train step      \(fmt(tokensPerSecond)) tokens/s, \(fmt(trainSeconds / Double(steps) * 1000)) ms/step")
            print("train matmuls   \(fmt(trainGflops)) GFLOP/s = \(fmt(100 * trainGflops / gemmGflops))% of gemm")
            print("policy SFT step \(fmt(sftTokensPerSecond)) tokens/s (32 x 48 text positions, \(policy.parameterCount) parameters)")
            print("policy sampling \(fmt(sampleTokensPerSecond)) tokens/s (128 prompts x 16 samples x 32 tokens, KV cache, T=1)")
            if let evolve, let mean = evolve["evolve_step_s"] as? Double, let plain = evolve["evolve_step_no_search_s"] as? Double {
                print("evolve step     \(fmt(mean)) s mean of 2 (mstar recipe, 128 prompts x 16, PRM, temperature search every 2), \(fmt(plain)) s without the search (\(evolve["evolve_policy"] ?? ""))")
            }
            print("gemm row bits   \(rowPlacement) of 128 row positions change a row's bits" + (rowPlacement == 0
                ? " (samples are bit-identical whatever their place in the batch)"
                : " (samples' log-probabilities may move in the last bits with their place in the batch)"))
            print("peak RSS        \(fmt(peakRSSMegabytes())) MB; \(params) parameters")
        }
    }
}

extension Bench {
    /// Two steps of the `mstar` recipe (128 prompts x 16 samples, PRM scoring of every sample,
    /// training on the PRM top-2, dynamics on 128 validation prompts; the first step also searches
    /// the temperature): the mean is what a step costs with the search every 2 iterations.
    func evolveStep() throws -> [String: Any] {
        let suite = try TaskSuite(seed: seed, bank: try DigitBank.load())
        let path = policy ?? "checkpoints/pre-evolved"
        let model: VisionLanguageModel, source: String
        if FileManager.default.fileExists(atPath: path + "/config.json") {
            model = try Checkpoint.load(from: URL(fileURLWithPath: path), vocab: Tokenizer.standard.vocabSize).model
            source = path
        } else {
            guard policy == nil else { throw ValidationError("no checkpoint at \(path)") }
            var rng = RNG(seed: seed, stream: 0xBE)
            model = try VisionLanguageModel(ModelConfig(vocab: Tokenizer.standard.vocabSize), rng: &rng)
            let seedSet = try suite.examples(.seed).compactMap { try TrainingSequence($0) }
            let warm = SFTTrainer(model: model, options: .init(batchSize: 32, schedule: .constant(lr: 1e-3)), seed: seed)
            _ = try warm.train(seedSet, epochs: 4)
            source = "fresh policy after 4 epochs on the seed chains"
        }
        var settings = Recipe.mstar.settings
        settings.prompts = 512  // interval 0.25: 128 prompts per step
        let run = try Evolution(suite: suite, policy: model, settings: settings, seed: seed)
        // A PRM of the same size (scoring costs the same whether or not it is trained).
        run.usePRM(ProcessRewardModel(model: try model.copy()), report: nil)
        let steps = try run.evolve(2)
        let mean = steps.reduce(0) { $0 + $1.times.total } / Double(steps.count)
        func phases(_ t: PhaseTimes) -> [String: Double] {
            ["temperature": round3(t.temperature), "sample": round3(t.sample), "prm": round3(t.prm), "select": round3(t.select),
             "train": round3(t.train), "dynamics": round3(t.dynamics), "total": round3(t.total)]
        }
        return [
            "evolve_step_s": round3(mean),
            "evolve_step_no_search_s": round3(steps[1].times.total),
            "evolve_steps": steps.map { phases($0.times) },
            "evolve_policy": source,
            "evolve_config": ["recipe": "mstar", "prompts": steps[0].record.prompts, "k": run.settings.k,
                              "samples": steps[0].record.samples, "validation": run.settings.dynamicsPrompts,
                              "temperature_candidates": run.settings.candidateTemperatures.count,
                              "temperature_prompts": run.settings.temperaturePrompts],
        ]
    }
}

/// Wall-clock seconds taken by `body`.
func time(_ body: () throws -> Void) throws -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

/// Peak resident set size of this process in MB.
func peakRSSMegabytes() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024  // kilobytes on Linux
}

func round3(_ x: Double) -> Double { (x * 1000).rounded() / 1000 }
func fmt(_ x: Double) -> String { String(format: "%.1f", x) }
