import Testing
import MSTaRWorkbench

@Suite struct SettingsTests {
    @Test func setParsesValidatesAndReports() throws {
        let s = try engineLikeSession("settings-set")
        #expect(Fixture.run(s, "set temperature 0.7") == ["temperature = 0.7"])
        #expect(s.settings.double("temperature") == 0.7)
        #expect(Fixture.run(s, "set temperature 3") == ["error: temperature must be between 0 and 2; got 3"])
        #expect(s.settings.double("temperature") == 0.7, "a rejected value leaves the old one")
        #expect(Fixture.run(s, "set temperature warm") == ["error: bad value 'warm' for setting temperature: expected a number, e.g. 0.7"])
        #expect(Fixture.run(s, "set temperature 1") == ["temperature = 1"], "integers read as the setting's type")
    }

    @Test func showSettingsListsValuesDefaultsAndChanges() throws {
        let s = try engineLikeSession("settings-show")
        Fixture.run(s, "set plot_width 640")
        #expect(Fixture.run(s, "show settings") == [
            "  setting      value  default  description",
            "  plot_height  500    500      height of plot files in pixels",
            "* plot_width   640    800      width of plot files in pixels",
            "  seed         0      0        session seed: data, sampling and training streams derive from it",
            "  temperature  1      1        sampling temperature",
        ])
    }

    @Test func seedResetsTheSessionGenerator() throws {
        let s = try engineLikeSession("settings-seed")
        #expect(Fixture.run(s, "seed 42") == ["seed = 42"])
        var a = s.rng
        let first = a.next()
        Fixture.run(s, "seed 42")
        var b = s.rng
        #expect(b.next() == first)
        #expect(s.seed == 42)
        #expect(Fixture.run(s, "seed -1") == ["error: seed must be at least 0; got -1"])
        #expect(s.seed == 42)
    }

    @Test func pinnedSettingsOpenTheJournal() throws {
        let s = try engineLikeSession("settings-pinned")
        s.register(setting: SettingSpec("threads", .int, default: .int(2), summary: "BLAS threads", pinned: true))
        Fixture.run(s, "step")
        #expect(s.journal.text == """
        # mstar session journal: every completed command, all parameters resolved.
        # Replay it with: mstar run session.mstar --verify

        # %% pinned settings
        set threads 2
        #> threads = 2

        # %%
        step
        #> stepped

        """)
    }
}
