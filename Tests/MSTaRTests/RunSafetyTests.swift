import Foundation
import MSTaR
import MSTaRModel
import MSTaRTensor
import Testing

/// A saved run's evolution.json is read like any file from outside: every number is checked before
/// the run uses it.
@Suite struct RunSafetyTests {
    @Test func aSavedRunWithNumbersOutOfRangeIsRefusedNamingTheField() throws {
        let dir = Fixture.tempDir("run-safety")
        defer { try? FileManager.default.removeItem(at: dir) }
        var s = Fixture.settings(.continuous)
        s.epochs = 0.5
        let run = try Evolution(suite: Fixture.suite, policy: Fixture.policy, settings: s, seed: 3)
        let saved = dir.appendingPathComponent("run")
        try run.save(to: saved)
        let file = saved.appendingPathComponent("evolution.json")
        let original = try JSONSerialization.jsonObject(with: Data(contentsOf: file)) as! [String: Any]
        func refusal(_ edit: (inout [String: Any]) -> Void) throws -> String? {
            var json = original
            edit(&json)
            try JSONSerialization.data(withJSONObject: json).write(to: file)
            do { _ = try Evolution.resume(from: saved, suite: Fixture.suite); return nil } catch { return "\(error)" }
        }
        func setting(_ key: String, _ value: Any) -> (inout [String: Any]) -> Void {
            { json in var settings = json["settings"] as! [String: Any]; settings[key] = value; json["settings"] = settings }
        }
        #expect(try refusal { _ in } == nil)
        let cases: [((inout [String: Any]) -> Void, String)] = [
            (setting("k", 1_000_000_000), "k takes a whole number from 1 to 256"),
            (setting("prmPrompts", 1 << 50), "prm_prompts takes a whole number from 1 to 1000000"),
            (setting("interval", 1e-300), "interval takes a number from 0.001 to 1"),
            (setting("temperatureMin", 2), "temperature_min 2 is above temperature_max 1.5"),
            ({ $0["cursor"] = Int.max - 2 }, "cursor is"),
            ({ $0["iteration"] = 99 }, "iteration is 99; allowed 0 to 2"),
            ({ $0["temperature"] = -1 }, "temperature is -1"),
            ({ $0["format"] = "other" }, "format is 'other'"),
        ]
        for (edit, expected) in cases {
            let error = try #require(try refusal(edit), "\(expected): loaded")
            #expect(error.contains("evolution.json") && error.contains(expected), "\(error)")
        }
    }

    @Test func settingsValidateAsSetWould() throws {
        var s = EvolutionSettings()
        try s.validate()
        s.temperatureMin = 1.8
        #expect(s.temperatureRangeProblem == "temperature_min 1.8 is above temperature_max 1.6")
        #expect(throws: SettingError.self) { try s.validate() }
        #expect(throws: SettingError.self) { try s.set("prompts", to: "99999999999") }
    }
}
