import Foundation
import MSTaRKernel
import MSTaRTasks
import MSTaRWorkbench
import Testing

/// The parts of the kernel that need no client: the connection file, the kernelspec, and the
/// completion, inspection and multi-line answers. tests/pty/test_kernel.py drives the whole kernel
/// with jupyter_client and nbclient.
@Suite struct KernelTests {
    static func temp(_ name: String) -> String {
        let dir = NSTemporaryDirectory() + "mstar-kernel-\(name)-\(getpid())"
        try? FileManager.default.removeItem(atPath: dir)
        try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test func connectionFileIsCheckedFieldByField() throws {
        let dir = Self.temp("connection")
        let good: [String: Any] = ["transport": "tcp", "ip": "127.0.0.1", "shell_port": 5001, "iopub_port": 5002, "stdin_port": 5003,
                                   "control_port": 5004, "hb_port": 5005, "key": "abc", "signature_scheme": "hmac-sha256"]
        func write(_ json: Any, _ name: String) -> String {
            let p = dir + "/" + name
            if let s = json as? String { try! Data(s.utf8).write(to: URL(fileURLWithPath: p)) } else {
                try! JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: p))
            }
            return p
        }
        let info = try ConnectionInfo(file: write(good, "good.json"))
        #expect(info.endpoint(info.shellPort) == "tcp://127.0.0.1:5001")
        #expect(info.key == "abc")
        var ipc = good
        ipc["transport"] = "ipc"
        ipc["ip"] = "/tmp/kernel"
        #expect(try ConnectionInfo(file: write(ipc, "ipc.json")).endpoint(5002) == "ipc:///tmp/kernel-5002")
        let bad: [(Any, String)] = [
            ("not json", "not a JSON object"),
            (good.merging(["shell_port": 0]) { $1 }, "shell_port"),
            (good.merging(["hb_port": 70000]) { $1 }, "hb_port"),
            (good.merging(["iopub_port": "5002"]) { $1 }, "iopub_port"),
            (good.merging(["transport": "udp"]) { $1 }, "transport 'udp'"),
            (good.merging(["signature_scheme": "hmac-md5"]) { $1 }, "hmac-sha256"),
            (good.merging(["key": String(repeating: "k", count: 5000)]) { $1 }, "4096"),
            (good.merging(["ip": "127.0.0.1\nx"]) { $1 }, "no usable ip"),
        ]
        for (i, (json, expected)) in bad.enumerated() {
            #expect(throws: KernelError.self) { _ = try ConnectionInfo(file: write(json, "bad\(i).json")) }
            do { _ = try ConnectionInfo(file: dir + "/bad\(i).json") } catch { #expect(error.message.contains(expected), "\(error.message)") }
        }
        do { _ = try ConnectionInfo(file: dir + "/missing.json") } catch { #expect(error.message.contains("cannot read the connection file")) }
    }

    @Test func kernelspecInstallsAndRefusesAnotherKernels() throws {
        let prefix = Self.temp("spec")
        let folder = try KernelSpec.install(name: "mstar-t", displayName: "mstar T", executable: "/opt/mstar", arguments: [],
                                            user: false, prefix: prefix)
        #expect(folder == prefix + "/share/jupyter/kernels/mstar-t")
        let spec = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder + "/kernel.json"))) as! [String: Any]
        #expect(spec["argv"] as? [String] == ["/opt/mstar", "kernel", "--connection-file", "{connection_file}"])
        #expect(spec["language"] as? String == "mstar" && spec["interrupt_mode"] as? String == "message")
        let logo = try PNG.decode(Array(Data(contentsOf: URL(fileURLWithPath: folder + "/logo-64x64.png"))))
        #expect(logo.width == 64 && logo.height == 64)
        // Reinstalling keeps what else the folder holds.
        try Data("x".utf8).write(to: URL(fileURLWithPath: folder + "/notes.txt"))
        _ = try KernelSpec.install(name: "mstar-t", displayName: "mstar", executable: "/opt/mstar", arguments: ["--allow-trainers"], user: false, prefix: prefix)
        #expect(FileManager.default.fileExists(atPath: folder + "/notes.txt"))
        let other = prefix + "/share/jupyter/kernels/python3"
        try FileManager.default.createDirectory(atPath: other, withIntermediateDirectories: true)
        try Data(#"{"argv": ["python", "-m", "ipykernel_launcher", "-f", "{connection_file}"]}"#.utf8).write(to: URL(fileURLWithPath: other + "/kernel.json"))
        #expect(throws: KernelError.self) { _ = try KernelSpec.install(name: "python3", displayName: "x", executable: "/opt/mstar", arguments: [], user: false, prefix: prefix) }
        #expect(throws: KernelError.self) { _ = try KernelSpec.install(name: "../evil", displayName: "x", executable: "/opt/mstar", arguments: [], user: false, prefix: prefix) }
        #expect(KernelSpec.kernelsFolder(user: true, prefix: nil, environment: ["JUPYTER_DATA_DIR": "/d"]) == "/d/kernels")
        #expect(KernelSpec.kernelsFolder(user: true, prefix: nil, environment: ["HOME": "/h"]) == "/h/.local/share/jupyter/kernels")
    }

    @Test func tablesRenderAsEscapedHTML() {
        let html = HTMLTable.render(header: ["setting", "value"], rows: [["title", "<b>\"a\" & 'b'</b>"]], notes: ["backend: x < y"])
        #expect(html == "<table>\n<thead><tr><th>setting</th><th>value</th></tr></thead>\n<tbody>\n"
            + "<tr><td>title</td><td>&lt;b&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/b&gt;</td></tr>\n</tbody>\n</table>\n<p>backend: x &lt; y</p>\n")
    }

    @Test func completionInspectionAndMultiLineFollowThePrompt() throws {
        let s = Session(runDirectory: Self.temp("introspection"), journaling: false)
        let c = Introspection.complete(["code": "seed 1\nset plot_w", "cursor_pos": 17], session: s)
        #expect(c["matches"] as? [String] == ["plot_width"])
        #expect(c["cursor_start"] as? Int == 11 && c["cursor_end"] as? Int == 17)
        // Cursor positions count Unicode code points: a non-ASCII title before the cursor.
        let u = Introspection.complete(["code": "plot x --title \"é\" --wi", "cursor_pos": 23], session: s)
        #expect(u["matches"] as? [String] == ["--width", "--window"] && u["cursor_start"] as? Int == 19)
        let i = Introspection.inspect(["code": "plot greedy_acc", "cursor_pos": 1], session: s)
        #expect(i["found"] as? Bool == true)
        #expect(((i["data"] as? [String: Any])?["text/plain"] as? String)?.hasPrefix("plot: plot metrics per iteration") == true)
        #expect(Introspection.inspect(["code": "nonsense", "cursor_pos": 2], session: s)["found"] as? Bool == false)
        #expect(Introspection.inspect(["code": "", "cursor_pos": 0], session: s)["found"] as? Bool == false)
        #expect(Introspection.isComplete(["code": "set plot_width \\"])["status"] as? String == "incomplete")
        #expect(Introspection.isComplete(["code": "plot x --title \"open"])["status"] as? String == "incomplete")
        #expect(Introspection.isComplete(["code": "# it's a comment\nseed 1"])["status"] as? String == "complete")
        // A cursor past the end (or negative) is clamped, never a crash.
        #expect(Introspection.complete(["code": "se", "cursor_pos": 99], session: s)["cursor_end"] as? Int == 2)
        #expect(Introspection.complete(["code": "se", "cursor_pos": -5], session: s)["cursor_end"] as? Int == 0)
    }
}
