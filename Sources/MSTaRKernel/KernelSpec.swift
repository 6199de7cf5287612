import Foundation
import MSTaRTasks
import MSTaRTensor

/// The kernelspec Jupyter finds the kernel by: `kernels/NAME/kernel.json` (and logos) in one of
/// Jupyter's data folders (`jupyter kernelspec list` shows where it looks).
public enum KernelSpec {
    /// kernel.json: how Jupyter starts the kernel.
    ///
    /// interrupt_mode is `message`: Jupyter sends interrupt_request on the control channel, which
    /// the kernel answers while a cell runs; a signal would also reach the programs a command runs.
    public static func json(executable: String, displayName: String, arguments: [String]) -> [String: Any] {
        [
            "argv": [executable, "kernel", "--connection-file", "{connection_file}"] + arguments,
            "display_name": displayName,
            "language": "mstar",
            "interrupt_mode": "message",
            "metadata": ["debugger": false],
        ]
    }

    /// Where `install` writes: `--prefix P` gives P/share/jupyter/kernels, `--user` the user's
    /// Jupyter data folder ($JUPYTER_DATA_DIR, else $XDG_DATA_HOME/jupyter, else
    /// ~/.local/share/jupyter), neither the system folder /usr/local/share/jupyter (as
    /// `jupyter kernelspec install` does).
    public static func kernelsFolder(user: Bool, prefix: String?, environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let prefix { return (prefix as NSString).appendingPathComponent("share/jupyter/kernels") }
        if user {
            if let d = environment["JUPYTER_DATA_DIR"], !d.isEmpty { return (d as NSString).appendingPathComponent("kernels") }
            if let x = environment["XDG_DATA_HOME"], !x.isEmpty { return (x as NSString).appendingPathComponent("jupyter/kernels") }
            return ((environment["HOME"] ?? NSHomeDirectory()) as NSString).appendingPathComponent(".local/share/jupyter/kernels")
        }
        return "/usr/local/share/jupyter/kernels"
    }

    /// Writes the kernelspec folder NAME and returns its path. Each file is replaced atomically;
    /// anything else in the folder is left alone. A folder holding another kernel's kernel.json is
    /// refused: it is not mstar's to replace.
    public static func install(name: String, displayName: String, executable: String, arguments: [String],
                               user: Bool, prefix: String?) throws(KernelError) -> String {
        guard !name.isEmpty, name.utf8.count <= 64, name.unicodeScalars.allSatisfy({ $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "._-".unicodeScalars.contains($0)) }) else {
            throw KernelError("--name \(name): a kernel name is letters, digits, '.', '_' and '-' (Jupyter's rule)")
        }
        let folder = (kernelsFolder(user: user, prefix: prefix) as NSString).appendingPathComponent(name)
        let specFile = (folder as NSString).appendingPathComponent("kernel.json")
        if let data = try? InputFile.read(specFile, limit: 1 << 20) {
            let argv = ((try? JSONSerialization.jsonObject(with: data)) as? [String: Any])?["argv"] as? [String] ?? []
            guard argv.count >= 3, argv[1] == "kernel", argv[2] == "--connection-file" else {
                throw KernelError("\(specFile) is another kernel's; install under another --name")
            }
        }
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw KernelError("cannot write \(folder): \((error as NSError).localizedDescription)" + (user || prefix != nil ? "" : "; install with --user"))
        }
        let spec = json(executable: executable, displayName: displayName, arguments: arguments)
        guard let specData = try? JSONSerialization.data(withJSONObject: spec, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]) else {
            throw KernelError("cannot encode kernel.json")
        }
        try write(specData + Data("\n".utf8), to: specFile)
        for size in [32, 64] {
            try write(Data(logo(size: size)), to: (folder as NSString).appendingPathComponent("logo-\(size)x\(size).png"))
        }
        return folder
    }

    private static func write(_ data: Data, to path: String) throws(KernelError) {
        let tmp = path + ".\(getpid()).tmp"
        do { try data.write(to: URL(fileURLWithPath: tmp)) } catch {
            throw KernelError("cannot write \(path): \((error as NSError).localizedDescription)")
        }
        guard rename(tmp, path) == 0 else {
            unlink(tmp)
            throw KernelError("cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// The logo: a five-pointed star (the * of MSTaR) on a dark disc, greyscale, `size` pixels square.
    public static func logo(size: Int) -> [UInt8] {
        var canvas = Canvas(height: size, width: size)
        let c = Double(size) / 2, r = Double(size) / 2 - 0.5
        // The star's ten corners, alternating outer and inner radius, the first pointing up.
        let corners = (0..<10).map { i -> (Double, Double) in
            let radius = (i % 2 == 0 ? 0.82 : 0.33) * r
            let angle = Double(i) * .pi / 5 - .pi / 2
            return (c + radius * cos(angle), c + radius * sin(angle))
        }
        func inStar(_ x: Double, _ y: Double) -> Bool {  // even-odd rule
            var inside = false
            for i in 0..<10 {
                let (x1, y1) = corners[i], (x2, y2) = corners[(i + 1) % 10]
                if (y1 > y) != (y2 > y), x < x1 + (y - y1) * (x2 - x1) / (y2 - y1) { inside.toggle() }
            }
            return inside
        }
        for y in 0..<size {
            for x in 0..<size {
                // 4x4 supersampling for smooth edges.
                var disc = 0.0, star = 0.0
                for sy in 0..<4 {
                    for sx in 0..<4 {
                        let px = Double(x) + (Double(sx) + 0.5) / 4, py = Double(y) + (Double(sy) + 0.5) / 4
                        if (px - c) * (px - c) + (py - c) * (py - c) <= r * r { disc += 1 / 16 }
                        if inStar(px, py) { star += 1 / 16 }
                    }
                }
                canvas[y, x] = Float(1 - disc * 0.8 + star * 0.75)
            }
        }
        return PNG.encode(canvas)
    }
}
