import Foundation
import MSTaRWorkbench
import Testing

/// `backend` at the prompt, without a server: what it shows and what it refuses, in one line each.
@Suite struct BackendCommandTests {
    @Test func showsAndRefusesInOneLine() throws {
        let s = try Fixture.engineSession("backend-command")
        #expect(Fixture.run(s, "backend") == ["backend: native (the engine's sampler)"])
        #expect(Fixture.run(s, "show settings").suffix(2) == ["backend: native (the engine's sampler)", "trainer: none (item steps write their selection only)"])
        #expect(Fixture.run(s, "backend native") == ["backend: native (the engine's sampler)"])
        let refusals: [(String, String)] = [
            ("backend remote --model m", "needs --url"),
            ("backend remote --url http://127.0.0.1:9/v1", "needs --model"),
            ("backend remote --url ftp://x/v1 --model m", "not an http(s) URL"),
            ("backend native --url http://127.0.0.1:9/v1", "takes no options"),
            ("backend remote --url http://127.0.0.1:9/v1 --model m --api-key-env MSTAR_NO_SUCH_VARIABLE", "is not set"),
            ("backend remote --url http://127.0.0.1:9/v1 --model m --prm-url http://127.0.0.1:9/v1", "together"),
            ("backend remote --url http://127.0.0.1:9/v1 --model m --prm-step-tag x", "give it with --prm-url and --prm-model"),
            ("backend remote --url http://127.0.0.1:9/v1 --model m --prm-url http://127.0.0.1:9/v1 --prm-model p --prm-step-split \";\"", "needs --prm-step-tag"),
            ("backend remote --url http://127.0.0.1:9/v1 --model m --prm-url http://127.0.0.1:9/v1 --prm-model p --prm-step-tag \"\"", "1 to 64 characters"),
            ("backend remote --url http://127.0.0.1:9/v1 --model m", "cannot reach http://127.0.0.1:9/v1/models"),
            ("backend remote --url http://127.0.0.1:9/v1 --model m --trainer trl", "together"),
            // A script must not run programs: a trainer needs the session's permission.
            ("backend remote --url http://127.0.0.1:9/v1 --model m --trainer trl --trainer-config t.json", "--allow-trainers"),
            ("trainer trl --config t.json", "--allow-trainers"),
            ("trainer command --config t.json", "--allow-trainers"),
        ]
        for (line, expected) in refusals {
            let out = Fixture.run(s, line)
            #expect(out.count == 1 && out[0].hasPrefix("error: ") && out[0].contains(expected), "\(line): \(out)")
        }
        #expect(Fixture.run(s, "backend") == ["backend: native (the engine's sampler)"], "a refused backend leaves the old one")
    }

    @Test func aTrainerIsChosenOnlyWhenAllowedAndPlansWithoutRunning() throws {
        let s = try Fixture.engineSession("trainer-command")
        s.allowTrainers = true
        let dir = URL(fileURLWithPath: s.outputPath(".")).standardizedFileURL
        let fm = FileManager.default
        try fm.createDirectory(at: dir.appendingPathComponent("pi0"), withIntermediateDirectories: true)
        try fm.createDirectory(at: dir.appendingPathComponent("sel"), withIntermediateDirectories: true)
        try Data(#"[{"messages": [], "images": []}, {"messages": [], "images": []}, {"messages": [], "images": []}]"#.utf8)
            .write(to: dir.appendingPathComponent("sel/train.json"))
        try Data(#"{"model": "pi0", "config": {"template": "llava", "finetuning_type": "full"}}"#.utf8).write(to: dir.appendingPathComponent("lf.json"))
        try Data(#"{"model": "nowhere"}"#.utf8).write(to: dir.appendingPathComponent("bad.json"))
        let chosen = Fixture.run(s, "trainer llamafactory --config \(dir.path)/lf.json")
        #expect(chosen.first?.hasPrefix("trainer: llamafactory from ") == true && chosen.last?.contains("--reload") == true, "\(chosen)")
        let bad = Fixture.run(s, "trainer trl --config \(dir.path)/bad.json")
        #expect(bad.count == 1 && bad[0].contains("is not a folder"), "\(bad)")
        #expect(Fixture.run(s, "set method continuous").count == 1)
        let plan = Fixture.run(s, "trainer plan --data \(dir.path)/sel --out plan")
        #expect(plan.contains("wrote plan/mstar-train.yaml") && plan.last == "runs: llamafactory-cli train \(dir.path)/plan/mstar-train.yaml", "\(plan)")
        let yaml = try String(contentsOf: dir.appendingPathComponent("plan/mstar-train.yaml"), encoding: .utf8)
        #expect(yaml.contains("\ndataset_dir: \"\(dir.path)/sel\"\n") && yaml.contains("\nmodel_name_or_path: \"\(dir.path)/pi0\"\n") && yaml.contains("\nignore_data_skip: true\n"))
        #expect(Fixture.run(s, "trainer none") == ["trainer: none (item steps write their selection only)"])
    }
}
