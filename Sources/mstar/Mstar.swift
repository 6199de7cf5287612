import ArgumentParser
import MSTaRTensor

extension NumericsMode: ExpressibleByArgument {}

/// The `mstar` command: the workbench's entry point.
@main
struct Mstar: ParsableCommand {
    static let version = "0.1.0\n" + Numerics.summary

    static let configuration = CommandConfiguration(
        commandName: "mstar",
        abstract: "A workbench for self-evolving training of multimodal reasoning models (MSTaR).",
        version: version,
        subcommands: [ReplCommand.self, RunCommand.self, KernelCommand.self, DataCommand.self, PreEvolveCommand.self, EvalCommand.self, Bench.self, Reproduce.self, ProbeCommand.self, ServeCommand.self],
        defaultSubcommand: ReplCommand.self
    )
}
