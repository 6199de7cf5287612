import Foundation
import MSTaRTensor

/// Series read from a run's dynamics.jsonl (one JSON object per evolution step), the
/// default source of the plot command.
public enum DynamicsFile {
    /// The file's name inside a run directory.
    public static let fileName = "dynamics.jsonl"

    /// The points (x from `xKey`, y from `key`) of every line that has both as numbers.
    /// `key` may be a dotted path into nested objects (`per_family.arithmetic`).
    public static func series(_ path: String, key: String, xKey: String = "step", name: String) throws -> PlotSeries {
        guard FileManager.default.fileExists(atPath: path) else {
            throw WorkbenchError("cannot read \(path): no dynamics there yet (evolution steps write it)")
        }
        let text: String
        do { text = try InputFile.text(path, limit: InputFile.datasetLimit) } catch { throw WorkbenchError("\(error)") }
        var xs: [Double] = [], ys: [Double] = []
        for (i, line) in InputFile.lines(text).enumerated() {
            guard !line.allSatisfy(\.isWhitespace) else { continue }
            guard let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                throw WorkbenchError("\(path):\(i + 1): not a JSON object")
            }
            if let x = number(lookup(obj, xKey)), let y = number(lookup(obj, key)) {
                xs.append(x)
                ys.append(y)
            }
        }
        return PlotSeries(name, x: xs, y: ys)
    }

    static func lookup(_ obj: [String: Any], _ path: String) -> Any? {
        var current: Any? = obj
        for part in path.split(separator: ".") { current = (current as? [String: Any])?[String(part)] }
        return current
    }

    static func number(_ v: Any?) -> Double? {
        (v as? NSNumber)?.doubleValue
    }
}
