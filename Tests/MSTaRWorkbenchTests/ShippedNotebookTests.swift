import Foundation
import MSTaRWorkbench
import Testing

/// Every shipped notebook is a script the workbench accepts: each command lexes and parses (a known
/// command, known options, values in range), so a notebook damaged by an edit fails here, in
/// seconds, rather than minutes into a replay.
@Suite struct ShippedNotebookTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static var notebooks: [String] {
        let dir = root.appendingPathComponent("notebooks").path
        let files = FileManager.default.enumerator(atPath: dir)?.compactMap { $0 as? String } ?? []
        return files.filter { $0.hasSuffix(".mstar") }.sorted()
    }

    @Test func theNotebooksAreFound() {
        #expect(Self.notebooks.contains("quickstart.mstar") && Self.notebooks.contains { $0.hasPrefix("findings/") })
    }

    @Test(arguments: notebooks)
    func everyCommandParses(_ name: String) throws {
        let text = try String(contentsOf: Self.root.appendingPathComponent("notebooks/" + name), encoding: .utf8)
        let script = Script.parse(text)
        let s = try Fixture.engineSession("shipped-" + name.replacingOccurrences(of: "/", with: "-"))
        #expect(!script.commands.isEmpty)
        for (_, c) in script.commands {
            guard case .words(let words) = Lexer.split(c.text) else {
                Issue.record("\(name):\(c.line): incomplete command"); continue
            }
            guard !words.isEmpty else { continue }
            do { _ = try s.registry.parse(words, source: c.text, session: s) } catch {
                Issue.record("\(name):\(c.line): \(error.message)")
            }
        }
    }
}
