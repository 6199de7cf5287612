import ArgumentParser

/// The `mstar` command: the workbench's entry point.
@main
struct Mstar: ParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "mstar",
        abstract: "A workbench for self-evolving training of multimodal reasoning models (MSTaR).",
        version: version,
        subcommands: [ReplCommand.self, RunCommand.self, DataCommand.self, PreEvolveCommand.self, EvalCommand.self, Bench.self, Reproduce.self],
        defaultSubcommand: ReplCommand.self
    )
}
