import Foundation
import MSTaRWorkbench
import Testing

/// `backend` at the prompt, without a server: what it shows and what it refuses, in one line each.
@Suite struct BackendCommandTests {
    @Test func showsAndRefusesInOneLine() throws {
        let s = try Fixture.engineSession("backend-command")
        #expect(Fixture.run(s, "backend") == ["backend: native (the engine's sampler)"])
        #expect(Fixture.run(s, "show settings").last == "backend: native (the engine's sampler)")
        #expect(Fixture.run(s, "backend native") == ["backend: native (the engine's sampler)"])
        let refusals: [(String, String)] = [
            ("backend remote --model m", "needs --url"),
            ("backend remote --url http://127.0.0.1:9/v1", "needs --model"),
            ("backend remote --url ftp://x/v1 --model m", "not an http(s) URL"),
            ("backend native --url http://127.0.0.1:9/v1", "takes no options"),
            ("backend remote --url http://127.0.0.1:9/v1 --model m --api-key-env MSTAR_NO_SUCH_VARIABLE", "is not set"),
            ("backend remote --url http://127.0.0.1:9/v1 --model m --prm-url http://127.0.0.1:9/v1", "together"),
            ("backend remote --url http://127.0.0.1:9/v1 --model m", "cannot reach http://127.0.0.1:9/v1/models"),
        ]
        for (line, expected) in refusals {
            let out = Fixture.run(s, line)
            #expect(out.count == 1 && out[0].hasPrefix("error: ") && out[0].contains(expected), "\(line): \(out)")
        }
        #expect(Fixture.run(s, "backend") == ["backend: native (the engine's sampler)"], "a refused backend leaves the old one")
    }
}
