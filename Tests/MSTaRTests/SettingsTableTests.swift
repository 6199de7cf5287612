import Foundation
import MSTaR
import MSTaRTensor
import Testing

/// The settings table is the one declaration of every setting: each one round-trips through `set`,
/// `value`, the run checkpoint's JSON encoding and `validate`, and its range is enforced.
@Suite struct SettingsTableTests {
    /// A value of `d` other than its default, inside its range.
    static func otherValue(_ d: SettingDescriptor, default text: String) -> String {
        switch d.kind {
        case .int(let r): return String(Int(text)! < r.upperBound ? Int(text)! + 1 : r.lowerBound)
        case .real(let r, _):
            let v = Double(text)!, mid = (r.lowerBound + r.upperBound) / 2
            // Reals are Floats: the text of a value a Float holds exactly, as a user would type it.
            return formatNumber(Double(Float(v == r.upperBound ? mid : Swift.min(r.upperBound, v + 0.125 * (r.upperBound - r.lowerBound)))))
        case .choice(let names): return names.first { $0 != text }!
        case .flag: return text == "on" ? "off" : "on"
        }
    }

    @Test func everySettingRoundTripsThroughSetValueEncodeAndDecode() throws {
        #expect(EvolutionSettings.names.count == Set(EvolutionSettings.names).count, "a name declared twice")
        let defaults = EvolutionSettings()
        for d in EvolutionSettings.table {
            let text = d.value(in: defaults)
            let other = Self.otherValue(d, default: text)
            #expect(other != text, "\(d.name): no other value found")
            var s = defaults
            try s.set(d.name, to: other)
            #expect(try s.value(d.name) == other, "\(d.name)")
            #expect(s != defaults, "\(d.name) changed nothing")
            // Only this setting changed.
            for e in EvolutionSettings.table where e.name != d.name {
                #expect(e.value(in: s) == e.value(in: defaults), "setting \(d.name) changed \(e.name)")
            }
            let decoded = try JSONDecoder().decode(EvolutionSettings.self, from: try JSONEncoder().encode(s))
            let decodedValue = try decoded.value(d.name)
            #expect(decoded == s && decodedValue == other, "\(d.name) does not survive the run checkpoint's encoding")
            if d.name != "temperature_min" && d.name != "temperature_max" { try s.validate() }
        }
    }

    @Test func rangesAndChoicesAreEnforcedWithOneLineErrors() throws {
        var s = EvolutionSettings()
        for d in EvolutionSettings.table {
            let bad: String
            switch d.kind {
            case .int(let r): bad = String(r.upperBound == .max ? r.lowerBound - 1 : r.upperBound + 1)
            case .real(let r, _): bad = formatNumber(r.upperBound * 2 + 1)
            case .choice: bad = "no-such-value"
            case .flag: bad = "maybe"
            }
            let before = s
            do {
                try s.set(d.name, to: bad)
                Issue.record("\(d.name) took \(bad)")
            } catch {
                let m = "\(error)"
                #expect(m.hasPrefix(d.name + " ") && m.hasSuffix(", not '\(bad)'") && !m.contains("\n"), "\(m)")
            }
            #expect(s == before, "a refused value changed \(d.name)")
        }
        #expect(throws: SettingError.self) { try s.set("temprature", to: "1") }
        #expect(EvolutionSettings.choices("dedupe") == ["on", "off"] && EvolutionSettings.choices("k") == nil)
        #expect(EvolutionSettings.choices("method") == TrainingMethod.allCases.map(\.rawValue))
    }

    /// A run checkpoint written before the table existed (property names as JSON keys, the step
    /// checks absent) still decodes to the settings it held.
    @Test func oldRunCheckpointSettingsStillDecode() throws {
        var s = Recipe.mstar.settings
        s.prompts = 512
        let json = String(decoding: try JSONEncoder().encode(s), as: UTF8.self)
        #expect(!json.contains("stepCheck") && json.contains("\"prompts\":512") && json.contains("\"selection\":\"prm-top\""))
        #expect(try JSONDecoder().decode(EvolutionSettings.self, from: Data(json.utf8)) == s)
    }
}
