import ArgumentParser
import Dispatch
import Foundation
import MSTaRServe
import MSTaRTensor

/// `mstar serve`: the policy in a checkpoint behind vLLM's OpenAI-compatible HTTP API (docs/serve.md).
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve a policy through an OpenAI-compatible HTTP API (chat completions, PRM pooling, weight updates).",
        discussion: """
        Any OpenAI-style client can sample from the policy: POST /v1/chat/completions with one user message \
        (a question, and an image as a data:image/png;base64 URL). A request's seed fixes its choices, whatever \
        else runs at the same time. docs/serve.md describes every endpoint and limit.
        """)

    @Argument(help: "Checkpoint folder of the policy (e.g. checkpoints/pre-evolved).")
    var checkpoint: String
    @Option(help: "Address to listen on. Anything but 127.0.0.1 or localhost lets other machines send requests.")
    var host = "127.0.0.1"
    @Option(help: "Port to listen on.")
    var port = 8000
    @Option(help: "PRM checkpoint folder for POST /pooling (e.g. OUT/runs/SCALE/prm/seed-0 of mstar reproduce).")
    var prm: String?
    @Option(help: "With --prm: /pooling reads the assistant message as steps each followed by this tag (e.g. <extra_0>) and answers one score per tag, as vLLM's step pooling.")
    var stepTag: String?
    @Option(help: "Folder that images may be read from by local path or file:// URL (default: none; data: URLs only).")
    var allowedLocalMediaPath: String?
    @Option(help: "The model name in the API (default: the checkpoint folder's name).")
    var servedModelName: String?
    @OptionGroup var compute: ComputeOptions

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0 to 65535") }
        if let servedModelName, servedModelName.isEmpty || servedModelName.count > 256 {
            throw ValidationError("--served-model-name must be 1 to 256 characters")
        }
        if let stepTag {
            guard prm != nil else { throw ValidationError("--step-tag marks the steps /pooling scores: give it with --prm") }
            guard (1...64).contains(stepTag.unicodeScalars.count), !stepTag.contains(";") else {
                throw ValidationError("--step-tag must be 1 to 64 characters without ';' (e.g. <extra_0>)")
            }
        }
    }

    func run() throws {
        Numerics.warnIfSlow()
        compute.apply()
        if host != "127.0.0.1" && host != "localhost" && host != "::1" {
            FileHandle.standardError.write(Data("warning: listening on \(host): anyone who can reach it can use the model; the API has no authentication\n".utf8))
        }
        let state = try ServeServer.load(checkpoint: checkpoint, name: servedModelName, prm: prm, stepTag: stepTag,
                                         allowedMediaPath: allowedLocalMediaPath)
        let (name, host, port) = (state.validator.model.name, host, port)
        // The root command is synchronous (the REPL blocks its thread); the server runs as a task
        // while this thread waits for it to end (SIGINT or SIGTERM stop it gracefully).
        let done = DispatchSemaphore(value: 0)
        let failure = FailureBox()
        Task {
            do {
                try await ServeServer.run(state, host: host, port: port) {
                    let line = "mstar serve: \(name) on http://\(host):\(port)/v1\(state.queue.hasPRM ? " (PRM on /pooling)" : "")\n"
                    FileHandle.standardOutput.write(Data(line.utf8))
                }
            } catch {
                failure.set(ServeFailure(description: "cannot serve on \(host):\(port): \(error)"))
            }
            done.signal()
        }
        done.wait()
        if let error = failure.get() { throw error }
    }
}

/// Why the server stopped, in one line.
private struct ServeFailure: Error, CustomStringConvertible {
    let description: String
}

/// The error the server task ended with, handed to the waiting thread.
private final class FailureBox: @unchecked Sendable {
    private let lock = NSLock()
    private var error: (any Error)?
    func set(_ e: any Error) { lock.withLock { error = e } }
    func get() -> (any Error)? { lock.withLock { error } }
}
