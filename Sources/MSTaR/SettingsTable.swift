import Foundation
import MSTaRTensor

/// One setting of the method: its name as `set NAME VALUE` takes it, its type and range, and a
/// one-line summary. `EvolutionSettings.table` lists every setting once; `set`, `value`, the names,
/// the choices, validation, and the workbench's `show settings`, completion and help derive from it.
public struct SettingDescriptor: Sendable {
    /// What values a setting takes.
    public enum Kind: Sendable, Equatable {
        /// A whole number in the range.
        case int(ClosedRange<Int>)
        /// A real number in the range (above the lower end when `openLow`).
        case real(ClosedRange<Double>, openLow: Bool)
        /// One of the names.
        case choice([String])
        /// on or off.
        case flag
    }

    /// The name `set` takes and journals write.
    public let name: String
    /// The values it takes.
    public let kind: Kind
    /// One line for `show settings` and help.
    public let summary: String
    let read: @Sendable (EvolutionSettings) -> String
    let write: @Sendable (inout EvolutionSettings, String) throws -> Void

    /// The value in `settings`, as text (`formatNumber` for reals, on/off for flags).
    public func value(in settings: EvolutionSettings) -> String { read(settings) }

    /// Sets the value in `settings` from text, or throws saying what the setting takes.
    public func set(_ text: String, in settings: inout EvolutionSettings) throws { try write(&settings, text) }

    static func int(_ name: String, _ key: WritableKeyPath<EvolutionSettings, Int> & Sendable, _ range: ClosedRange<Int>,
                    _ summary: String) -> SettingDescriptor {
        SettingDescriptor(name: name, kind: .int(range), summary: summary, read: { String($0[keyPath: key]) }) { s, text in
            guard let v = Int(text), range.contains(v) else {
                let span = range.upperBound == .max ? "of at least \(range.lowerBound)" : "from \(range.lowerBound) to \(range.upperBound)"
                throw SettingError(description: "\(name) takes a whole number \(span), not '\(text)'")
            }
            s[keyPath: key] = v
        }
    }

    static func real<T: BinaryFloatingPoint & Sendable>(
        _ name: String, _ key: WritableKeyPath<EvolutionSettings, T> & Sendable, _ range: ClosedRange<Double>,
        openLow: Bool = false, _ summary: String
    ) -> SettingDescriptor {
        SettingDescriptor(name: name, kind: .real(range, openLow: openLow), summary: summary,
                          read: { formatNumber(Double($0[keyPath: key])) }) { s, text in
            guard let v = Double(text), v.isFinite, openLow ? v > range.lowerBound : v >= range.lowerBound, v <= range.upperBound else {
                throw SettingError(description: "\(name) takes a number \(openLow ? "above" : "from") \(formatNumber(range.lowerBound)) "
                                   + "\(openLow ? "up to" : "to") \(formatNumber(range.upperBound)), not '\(text)'")
            }
            s[keyPath: key] = T(v)
        }
    }

    static func choice<E: RawRepresentable & CaseIterable & Sendable>(
        _ name: String, _ key: WritableKeyPath<EvolutionSettings, E> & Sendable, _ summary: String
    ) -> SettingDescriptor where E.RawValue == String {
        let names = E.allCases.map(\.rawValue)
        return SettingDescriptor(name: name, kind: .choice(names), summary: summary, read: { $0[keyPath: key].rawValue }) { s, text in
            guard let v = E(rawValue: text) else {
                throw SettingError(description: "\(name) is one of \(names.joined(separator: ", ")), not '\(text)'")
            }
            s[keyPath: key] = v
        }
    }

    static func flag(_ name: String, _ key: WritableKeyPath<EvolutionSettings, Bool> & Sendable, _ summary: String) -> SettingDescriptor {
        SettingDescriptor(name: name, kind: .flag, summary: summary, read: { $0[keyPath: key] ? "on" : "off" }) { s, text in
            switch text.lowercased() {
            case "on", "true", "yes", "1": s[keyPath: key] = true
            case "off", "false", "no", "0": s[keyPath: key] = false
            default: throw SettingError(description: "\(name) is on or off, not '\(text)'")
            }
        }
    }
}

extension EvolutionSettings {
    /// Every setting of the method, once, in display order.
    public static let table: [SettingDescriptor] = [
        // The loop.
        .choice("method", \.method, "training method: iterative-rft, rest-em, continuous, sft, grpo"),
        .real("interval", \.interval, 0.001...1, "fraction of the prompt set per iteration (continuous, sft, grpo)"),
        .int("prompts", \.prompts, 1...1_000_000, "labelled prompts in the prompt set"),
        .real("epochs", \.epochs, 0...1000, openLow: true, "passes over the prompt set in a whole run (evolve with no count runs them)"),
        .int("k", \.k, 1...256, "samples per prompt"),
        .real("temperature", \.temperature, 0...10, "sampling temperature (the start when dynamic_temperature is on)"),
        .int("max_tokens", \.maxTokens, 2...65_536, "most tokens per response (the native sampler stops at the policy's context)"),
        // Training on the selection.
        .real("lr", \.lr, 0...1, "learning rate of training on the selection"),
        .int("batch_size", \.batchSize, 1...4096, "sequences per training batch"),
        .int("train_epochs", \.trainEpochs, 1...100, "passes over each iteration's selected responses"),
        // Reward and selection.
        .choice("selection", \.selection,
                "which correct responses are kept: all-correct, random, prm-threshold, prm-top, oracle-steps (analysis)"),
        .int("select_k", \.selectK, 1...256, "k of random-k and PRM top-k"),
        .real("alpha", \.alpha, 0...1, "PRM score threshold of prm-threshold"),
        .int("per_prompt_cap", \.perPromptCap, 0...256, "most responses kept per prompt (0: no cap)"),
        .flag("dedupe", \.dedupe, "count identical responses of a prompt once"),
        .flag("step_check", \.stepCheck, "reward only right answers whose steps hold on their own reading (no scene needed)"),
        .flag("reading_vote", \.readingVote, "reward only right answers that read the scene as most of the prompt's samples do"),
        // Process reward model.
        .choice("prm_aggregation", \.prmAggregation, "step scores to one process score: min, mean, last"),
        .choice("prm_labels", \.prmLabels, "Monte-Carlo step labels: hard (any rollout right) or soft (share right)"),
        .int("prm_rollouts", \.prmRollouts, 1...256, "rollouts N from each step prefix for PRM labels"),
        .int("prm_prompts", \.prmPrompts, 1...1_000_000, "labelled prompts (outside the prompt set) labelled for PRM training"),
        .int("prm_samples", \.prmSamples, 1...256, "responses sampled per PRM training prompt"),
        .int("prm_epochs", \.prmEpochs, 1...100, "PRM training epochs"),
        .real("prm_lr", \.prmLR, 0...1, "PRM learning rate"),
        // Prompt variation.
        .choice("prompt_variation", \.promptVariation, "labelled only, or plus unlabelled by majority, prm-vote or oracle labels"),
        .int("unlabelled_prompts", \.unlabelledPrompts, 0...1_000_000, "unlabelled prompts available when prompt_variation adds them"),
        .real("mixin", \.mixin, 0...1, "T_mixin: fraction of the run after which unlabelled prompts join"),
        // Dynamics.
        .int("dynamics_prompts", \.dynamicsPrompts, 1...1_000_000, "validation prompts the dynamics monitor uses each iteration"),
        .int("dynamics_k", \.dynamicsK, 2...256, "K of Pass@K and majority@K in the dynamics"),
        // Dynamic temperature.
        .flag("dynamic_temperature", \.dynamicTemperature, "re-choose the temperature on validation every temperature_every iterations"),
        .int("temperature_every", \.temperatureEvery, 1...1_000_000, "iterations between temperature searches"),
        .real("temperature_min", \.temperatureMin, 0...10, "lowest candidate temperature"),
        .real("temperature_max", \.temperatureMax, 0...10, "highest candidate temperature"),
        .real("temperature_step", \.temperatureStep, 0.001...10, "step between candidate temperatures"),
        .choice("temperature_criterion", \.temperatureCriterion, "what the search maximises: reward-pass@2 or pass@k"),
        .int("temperature_prompts", \.temperaturePrompts, 1...1_000_000, "validation prompts used to compare temperatures"),
        // GRPO.
        .real("grpo_clip", \.grpoClip, 0...10, "GRPO ratio clip epsilon"),
        .real("grpo_kl", \.grpoKL, 0...100, "GRPO KL penalty beta to the initial policy (0: none)"),
        .int("grpo_prompts_per_update", \.grpoPromptsPerUpdate, 1...1_000_000, "prompts per GRPO update"),
    ]

    /// The table's entries by name.
    static let byName: [String: SettingDescriptor] = Dictionary(uniqueKeysWithValues: table.map { ($0.name, $0) })

    /// The entry of setting `name`, or an error that suggests the closest name.
    public static func descriptor(_ name: String) throws -> SettingDescriptor {
        guard let d = byName[name] else { throw unknown(name) }
        return d
    }
}
