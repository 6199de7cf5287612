import Testing
import MSTaRTensor
import MSTaRWorkbench

/// A session with two engine-like commands registered, as the engine will do.
func engineLikeSession(_ name: String) throws -> Session {
    let s = try Fixture.session(name)
    s.register(setting: SettingSpec("temperature", .double, default: .double(1.0), summary: "sampling temperature",
                                    validate: Check.within(0...2)))
    s.register(CommandSpec(
        "eval", group: "evaluation", summary: "evaluate the policy",
        options: [
            OptionSpec("split", .choice(["validation", "test", "ood"]), default: .value(.string("test")), help: "split"),
            OptionSpec("k", .int, default: .value(.int(16)), help: "samples per prompt"),
            OptionSpec("temperature", .double, default: .setting("temperature"), help: "temperature"),
            OptionSpec("families", .list(.string), help: "only these families"),
            OptionSpec("verbose", .flag, help: "more output"),
        ]
    ) { cmd, _ in
        CommandOutput(lines: ["eval \(cmd.string("split")) k=\(cmd.int("k")) T=\(formatNumber(cmd.double("temperature")))"])
    })
    s.register(CommandSpec(
        "evolve", group: "method", summary: "run N evolution steps",
        arguments: [ArgumentSpec("n", .int, help: "steps")],
        options: [OptionSpec("k", .int, default: .value(.int(16)), help: "samples per prompt")]
    ) { cmd, _ in CommandOutput(lines: ["evolved \(cmd.int("n")) steps, k \(cmd.int("k"))"]) })
    s.register(CommandSpec("step", group: "method", summary: "one evolution step") { _, _ in CommandOutput(lines: ["stepped"]) })
    return s
}

@Suite struct ParserTests {
    func parse(_ s: Session, _ line: String) throws -> ParsedCommand {
        guard case .words(let w) = Lexer.split(line) else { throw WorkbenchError("incomplete") }
        return try s.registry.parse(w, source: line, session: s)
    }

    func error(_ s: Session, _ line: String) -> String? {
        do { _ = try parse(s, line); return nil } catch { return (error as? WorkbenchError)?.message }
    }

    @Test func typesValuesAndFillsDefaults() throws {
        let s = try engineLikeSession("parse-defaults")
        let c = try parse(s, "eval --k 8")
        #expect(c.name == "eval")
        #expect(c.int("k") == 8)
        #expect(c.string("split") == "test")
        #expect(c.double("temperature") == 1.0)
        #expect(!c.flag("verbose"))
        #expect(c["families"] == nil)
        #expect(c.given == ["k"])
        #expect(c.resolved == "eval --split test --k 8 --temperature 1")
    }

    @Test func settingDefaultsAreReadWhenTheCommandRuns() throws {
        let s = try engineLikeSession("parse-setting")
        try s.set("temperature", text: "0.7")
        #expect(try parse(s, "eval").resolved == "eval --split test --k 16 --temperature 0.7")
        #expect(Fixture.run(s, "eval --split ood") == ["eval ood k=16 T=0.7"])
    }

    @Test func optionForms() throws {
        let s = try engineLikeSession("parse-forms")
        let c = try parse(s, "eval --split=validation --families arithmetic,chart --verbose --temperature 0.25")
        #expect(c.string("split") == "validation")
        #expect(c.strings("families") == ["arithmetic", "chart"])
        #expect(c.flag("verbose"))
        #expect(c.double("temperature") == 0.25)
        #expect(c.resolved == "eval --split validation --k 16 --temperature 0.25 --families arithmetic,chart --verbose")
        let e = try parse(s, "evolve 3 --k 4")
        #expect(e.int("n") == 3 && e.int("k") == 4)
        #expect(e.resolved == "evolve 3 --k 4")
    }

    @Test func multiWordNamesMatchTheLongest() throws {
        let s = try engineLikeSession("parse-multi")
        #expect(try parse(s, "show settings").name == "show settings")
        #expect(try parse(s, "data show --split test --index 0").name == "data show")
        #expect(try parse(s, "save session x.mstar").string("file") == "x.mstar")
    }

    @Test func errorsNameTheProblemAndTheFix() throws {
        let s = try engineLikeSession("parse-errors")
        #expect(error(s, "stpe") == "unknown command 'stpe'; did you mean 'step'?")
        #expect(error(s, "frobnicate") == "unknown command 'frobnicate' (help lists the commands)")
        #expect(error(s, "eval --temprature 0.5") == "unknown option '--temprature' for 'eval'; did you mean '--temperature'? (help eval)")
        #expect(error(s, "eval --k many") == "bad value 'many' for --k of 'eval': expected a whole number, e.g. 16")
        #expect(error(s, "eval --split tset") == "bad value 'tset' for --split of 'eval': expected one of validation, test, ood; did you mean 'test'?")
        #expect(error(s, "eval --temperature hot") == "bad value 'hot' for --temperature of 'eval': expected a number, e.g. 0.7")
        #expect(error(s, "eval --k") == "--k of 'eval' needs a value: --k N")
        #expect(error(s, "eval --k 1 --k 2") == "--k given twice for 'eval'")
        #expect(error(s, "evolve") == "'evolve' needs N (usage: evolve N [--k N])")
        #expect(error(s, "evolve 3 4") == "'evolve' takes 1 argument; unexpected '4' (usage: evolve N [--k N])")
        #expect(error(s, "step now") == "'step' takes no arguments; unexpected 'now' (usage: step)")
        #expect(error(s, "data") == "'data' needs a subcommand: data export, data generate, data load, data show, data use (help data)")
        #expect(error(s, "data shwo") == "unknown subcommand 'shwo' of 'data'; did you mean 'data show'?")
        #expect(error(s, "set temprature 1") == "unknown setting 'temprature'; did you mean 'temperature'? (show settings lists them)")
        #expect(error(s, "plot gredy_acc") == "unknown metric 'gredy_acc'; did you mean 'greedy_acc'? (help plot lists them)")
        #expect(error(s, "data export --out x") == "'data export' needs --split captions|text|seed|labelled|unlabelled|validation|test|ood (usage: data export --split captions|text|seed|labelled|unlabelled|validation|test|ood --out FILE [--family arithmetic|counting|comparison|chart] [--count N] [--scale N])")
    }

    @Test func doubleDashEndsOptionsAndQuotedDashesArePositional() throws {
        let s = try engineLikeSession("parse-dashes")
        #expect(try parse(s, "help -- --k").strings("command") == ["--k"])
        #expect(try parse(s, #"help "--k""#).strings("command") == ["--k"])
        #expect(try parse(s, "evolve -3").int("n") == -3)
    }

    @Test func valueTypesParse() throws {
        #expect(try ValueType.int.parse("16") == .int(16))
        #expect(try ValueType.double.parse("1e-3") == .double(0.001))
        #expect(throws: ValueError.self) { try ValueType.double.parse("nan") }
        #expect(try ValueType.bool.parse("off") == .bool(false))
        #expect(try ValueType.list(.int).parse("1, 2,4") == .list([.int(1), .int(2), .int(4)]))
        #expect(throws: ValueError.self) { try ValueType.list(.int).parse("1,,2") }
        // One number format everywhere: whole numbers without a point, Float values shortest as Floats.
        #expect(Value.double(1).description == "1")
        #expect(Value.double(0.7).description == "0.7")
        #expect(Value.double(Double(Float(0.7))).description == "0.7")
        #expect(Value.double(0.1 + 0.2).description == "0.30000000000000004")
        #expect(try ValueType.double.parse(Value.double(0.1 + 0.2).description) == .double(0.1 + 0.2))
        #expect(Value.bool(true).description == "on" && Value.bool(false).description == "off")
        #expect(Value.string("a b").description == "\"a b\"")
        #expect(Value.list([.string("x"), .string("y")]).description == "x,y")
    }
}
