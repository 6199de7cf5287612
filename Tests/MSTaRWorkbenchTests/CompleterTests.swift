import Foundation
import Testing
import MSTaRWorkbench

@Suite struct CompleterTests {
    func complete(_ s: Session, _ line: String) -> [String] { Completer.complete(line, session: s).candidates }

    @Test func commandNamesAndSubcommands() throws {
        let s = try engineLikeSession("complete-commands")
        #expect(complete(s, "") .contains("data"))
        #expect(complete(s, "se") == ["seed", "set"])
        #expect(complete(s, "ev") == ["eval", "evolve"])
        #expect(complete(s, "data ") == ["export", "generate", "load", "show", "use"])
        #expect(complete(s, "data sh") == ["show"])
        #expect(complete(s, "show ") == ["settings"])
        #expect(complete(s, "help da") == ["data"])
        #expect(complete(s, "help data g") == ["generate"])
        #expect(Completer.complete("data sh", session: s).start == 5)
    }

    @Test func optionsAndTheirValues() throws {
        let s = try engineLikeSession("complete-options")
        #expect(complete(s, "eval --") == ["--families", "--k", "--split", "--temperature", "--verbose"])
        #expect(complete(s, "eval --t") == ["--temperature"])
        #expect(complete(s, "eval --split ") == ["ood", "test", "validation"])
        #expect(complete(s, "eval --split=v") == ["--split=validation"])
        #expect(complete(s, "data show --split te") == ["test", "text"])
        #expect(complete(s, "eval --k ").isEmpty, "numbers have no completions")
    }

    @Test func settingKeysMetricsRecipesAndSettingValues() throws {
        let s = try engineLikeSession("complete-names")
        s.register(setting: SettingSpec("method", .choice(["rft", "rest_em", "continuous"]), default: .string("continuous"), summary: "m"))
        s.register(recipe: NamedEntry("mstar", summary: "final"))
        s.register(recipe: NamedEntry("mstar-no-prm", summary: "ablation"))
        s.register(CommandSpec("recipe", group: "method", summary: "apply a recipe",
                               arguments: [ArgumentSpec("name", .name(.recipe), help: "recipe")]) { _, _ in CommandOutput() })
        #expect(complete(s, "set te") == ["temperature"])
        #expect(complete(s, "set method ") == ["continuous", "rest_em", "rft"])
        #expect(complete(s, "recipe ms") == ["mstar", "mstar-no-prm"])
        #expect(complete(s, "plot gr") == ["greedy_acc"])
        #expect(complete(s, "plot greedy_acc pass") == ["pass_at_k"])
        #expect(Completer.commonPrefix(["mstar", "mstar-no-prm"]) == "mstar")
    }

    @Test func filePaths() throws {
        let dir = try Fixture.tempDir("complete-paths")
        try FileManager.default.createDirectory(atPath: dir + "/notebooks", withIntermediateDirectories: true)
        try "".write(toFile: dir + "/notebooks/quickstart.mstar", atomically: true, encoding: .utf8)
        try "".write(toFile: dir + "/notes.txt", atomically: true, encoding: .utf8)
        try "".write(toFile: dir + "/.hidden", atomically: true, encoding: .utf8)
        let s = Session(runDirectory: dir + "/run", inputDirectory: dir)
        #expect(complete(s, "include no") == ["notebooks/", "notes.txt"])
        #expect(complete(s, "include notebooks/q") == ["notebooks/quickstart.mstar"])
        #expect(complete(s, "plot greedy_acc --from notebooks/") == ["notebooks/quickstart.mstar"])
        #expect(complete(s, "plot greedy_acc --from notes.txt,noteb") == ["notes.txt,notebooks/"])
        #expect(!complete(s, "include ").contains(".hidden"))
    }
}
