import Foundation
import MSTaRModel
import MSTaRRemote
import MSTaRServe
import MSTaRTasks
import MSTaRTensor
import Testing

/// `mstar serve` of the shipped policy, in this process on a loopback port, started once for the
/// suite (its HTTP server stays up until the test process ends).
enum LocalServe {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let preEvolved = root.appendingPathComponent("checkpoints/pre-evolved").path

    final class Flag: @unchecked Sendable { var failed = false }

    /// The base URL (`http://127.0.0.1:PORT/v1`), or why the server did not start.
    static let url: Result<URL, RemoteError> = {
        guard let state = try? ServeServer.load(checkpoint: preEvolved) else { return .failure(RemoteError("cannot load \(preEvolved)")) }
        for _ in 0..<10 {
            let port = Int.random(in: 20_000...60_000)
            let ready = DispatchSemaphore(value: 0), flag = Flag()
            Task.detached {
                do { try await ServeServer.run(state, host: "127.0.0.1", port: port) { ready.signal() } } catch {
                    flag.failed = true; ready.signal()
                }
            }
            if ready.wait(timeout: .now() + 30) == .success, !flag.failed {
                return .success(URL(string: "http://127.0.0.1:\(port)/v1")!)
            }
        }
        return .failure(RemoteError("mstar serve did not start on a loopback port"))
    }()

    static func generator(maxInFlight: Int = 4) throws -> RemoteGenerator {
        RemoteGenerator(settings: RemoteSettings(url: try url.get(), model: "pre-evolved", maxInFlight: maxInFlight, timeout: 60))
    }

    static func policy() throws -> VisionLanguageModel {
        try Checkpoint.load(from: URL(fileURLWithPath: preEvolved), vocab: Tokenizer.standard.vocabSize).model
    }
}

@Suite(.serialized) struct RemoteServerTests {
    let tokenizer = Tokenizer.standard

    /// Scenes of seeded noise (not on the 8-bit grid, so the exact pixels matter), a text-only
    /// prompt, and a long one that caps its chunk's token limit.
    func prompts() throws -> [SamplePrompt] {
        var rng = RNG(seed: 11)
        let h = Canvas.sceneHeight, w = Canvas.sceneWidth
        func scene() throws -> Canvas { try Canvas(height: h, width: w, pixels: (0..<(h * w)).map { _ in rng.uniform() }) }
        let long = "given " + (0..<34).map { String($0 % 10) }.joined(separator: " ") + " what is the sum ?"
        return [
            SamplePrompt(image: try scene(), prompt: try tokenizer.encodePrompt(question: "what is the sum of the digits ?", hasImage: true), stream: 0),
            SamplePrompt(image: nil, prompt: try tokenizer.encodePrompt(question: "given 3 4 what is the sum ?", hasImage: false), stream: 1),
            SamplePrompt(image: try scene(), prompt: try tokenizer.encodePrompt(question: long, hasImage: true), stream: 7),
            SamplePrompt(image: try scene(), prompt: try tokenizer.encodePrompt(question: "what is the largest digit ?", hasImage: true), stream: 3),
            // A step prefix to continue, as the PRM's Monte-Carlo rollouts have (continue_final_message).
            SamplePrompt(image: try scene(), prompt: try tokenizer.encodePrompt(question: "what is the sum of the digits ?", hasImage: true)
                            + (try tokenizer.encode("read 3 4 ;")), stream: 9),
        ]
    }

    @Test func theRemoteGeneratorConforms() throws {
        let g = try LocalServe.generator()
        let v = try GeneratorConformance.violations(of: g, prompts: try prompts(), k: 3, maxTokens: 12, eos: tokenizer.eos)
        #expect(v.isEmpty, "\(v)")
    }

    @Test func itDrawsTheNativeSamplersRolloutsFromMstarServe() throws {
        let g = try LocalServe.generator(maxInFlight: 3), sampler = Sampler(model: try LocalServe.policy())
        let ps = try prompts()
        for (seed, options) in [(UInt64(5), SamplingOptions(temperature: 1, maxTokens: 48)),
                                (77, SamplingOptions(temperature: 0.6, topP: 0.9, maxTokens: 48, chunk: 6)),
                                (5, SamplingOptions.greedy(maxTokens: 48))] {
            let remote = try g.generate(ps, k: 3, options: options, seed: seed)
            let native = try sampler.generate(ps, k: 3, options: options, seed: seed)
            #expect(remote == native, "seed \(seed), temperature \(options.temperature), chunk \(options.chunk)")
        }
        // The long prompt capped its chunk: all four prompts at chunk 512 (twice), only its own
        // chunk of two at chunk 6; the other chunk asked for 48.
        let records = g.drainRecords().filter { $0.endpoint == "chat/completions" }
        #expect(records.count == 15 && records.allSatisfy { $0.status == 200 && $0.tries == 1 && $0.choices == 3 })
        let longRoom = 72 - ps[2].prompt.count
        #expect(longRoom < 48)
        // chunk 6 / k 3: chunks {0, 1}, {2, 3}, {4}; the long prompt 2 caps its own chunk only.
        #expect(records.filter { $0.max_tokens == longRoom }.count == 12 && records.filter { $0.max_tokens == 48 }.count == 3)
        #expect(!g.usesPerSampleRequests)
    }

    @Test func anUnreachableServerIsOneLineAfterTheRetries() throws {
        // A port nothing listens on: bind one, then close it.
        let g = RemoteGenerator(settings: RemoteSettings(url: URL(string: "http://127.0.0.1:9/v1")!, model: "m", maxTries: 3, backoff: 0.01))
        do {
            _ = try g.generate(try prompts(), k: 2, options: SamplingOptions(), seed: 0)
            Issue.record("generated from a closed port")
        } catch let e as RemoteError {
            #expect(e.unreachable && e.description.contains("cannot reach") && e.description.contains("after 3 tries") && !e.description.contains("\n"))
        }
        #expect(g.records.last?.tries == 3)
    }
}
