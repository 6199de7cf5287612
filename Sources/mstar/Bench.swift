import ArgumentParser
import Foundation
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

    func run() throws {
        Runtime.setThreads(threads ?? ProcessInfo.processInfo.activeProcessorCount)
        let config = GPT.Config()
        let (batch, seq) = (32, config.maxSeq)

        // GEMM at the shapes a training step runs (rows = batch·seq tokens).
        let rows = batch * seq, c = config.dModel, h = config.mlpHidden, v = config.vocab
        let shapes = [(rows, 3 * c, c), (rows, c, c), (rows, h, c), (rows, c, h), (rows, v, c)]
        var gemm: [[String: Any]] = []
        var gemmFlops = 0.0, gemmSeconds = 0.0
        var rng = RNG(seed: seed)
        for (m, n, k) in shapes {
            let a = Init.normal([m, k], std: 1, rng: &rng), b = Init.normal([n, k], std: 1, rng: &rng)
            let out = Tensor(uninitialized: [m, n])
            let flops = 2.0 * Double(m * n * k)
            let reps = max(10, Int(2e9 / flops))  // about 2 GFLOP per shape
            sgemm(transB: true, m: m, n: n, k: k, a: a.ptr, b: b.ptr, c: out.ptr)
            let t = try time {
                for _ in 0..<reps { sgemm(transB: true, m: m, n: n, k: k, a: a.ptr, b: b.ptr, c: out.ptr) }
            }
            gemmFlops += flops * Double(reps)
            gemmSeconds += t
            gemm.append(["m": m, "n": n, "k": k, "gflops": round3(flops * Double(reps) / t / 1e9)])
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
        let result: [String: Any] = [
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
            "config": ["vocab": config.vocab, "d_model": c, "layers": config.layers, "heads": config.heads,
                       "mlp_hidden": h, "seq": seq, "batch": batch, "params": params, "steps": steps],
        ]
        if json {
            let data = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print("gemm            \(fmt(gemmGflops)) GFLOP/s (model shapes, \(Runtime.threads) threads, \(Runtime.blasKernel))")
            print("train step      \(fmt(tokensPerSecond)) tokens/s, \(fmt(trainSeconds / Double(steps) * 1000)) ms/step")
            print("train matmuls   \(fmt(trainGflops)) GFLOP/s = \(fmt(100 * trainGflops / gemmGflops))% of gemm")
            print("policy SFT step \(fmt(sftTokensPerSecond)) tokens/s (32 x 48 text positions, \(policy.parameterCount) parameters)")
            print("policy sampling \(fmt(sampleTokensPerSecond)) tokens/s (128 prompts x 16 samples x 32 tokens, KV cache, T=1)")
            print("peak RSS        \(fmt(peakRSSMegabytes())) MB; \(params) parameters")
        }
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
