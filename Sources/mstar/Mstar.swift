import ArgumentParser

/// The `mstar` command: the workbench's entry point.
@main
struct Mstar: ParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "mstar",
        abstract: "A workbench for self-evolving training of multimodal reasoning models (MSTaR).",
        version: version,
        subcommands: [DataCommand.self, Bench.self, RunCommand.self, ReplCommand.self],
        defaultSubcommand: ReplCommand.self
    )
}
