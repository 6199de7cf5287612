import Foundation

/// Draws a `Plot` by writing a gnuplot script (data inline as datablocks) to gnuplot's stdin.
public enum Gnuplot {
    /// Where a plot goes.
    public enum Terminal: Sendable, Equatable {
        /// Text art of the given size, returned as a string (the REPL).
        case dumb(columns: Int, rows: Int)
        /// A PNG file (pngcairo).
        case png(path: String, width: Int, height: Int)
        /// An SVG file.
        case svg(path: String, width: Int, height: Int)
        /// A window on $DISPLAY (qt, wxt or x11, whichever gnuplot has).
        case window
    }

    /// The message when gnuplot is missing.
    public static let missingMessage = "gnuplot is not installed (not found on PATH); run scripts/setup to install gnuplot-nox"

    /// gnuplot's path on PATH, or nil.
    public static func locate(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        for dir in (environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let p = "\(dir)/gnuplot"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    /// True when a window can be opened ($DISPLAY is set).
    public static var hasDisplay: Bool { !(ProcessInfo.processInfo.environment["DISPLAY"] ?? "").isEmpty }

    /// The gnuplot script for `plot` on `terminal`.
    public static func script(_ plot: Plot, terminal: Terminal, windowTerminal: String = "qt") throws -> String {
        try checkText(plot.title, "the plot title")
        try checkText(plot.xLabel, "the x axis label")
        try checkText(plot.yLabel, "the y axis label")
        for series in plot.series { try checkText(series.name, "the curve name '\(series.name)'") }
        switch terminal {
        case .png(let path, _, _), .svg(let path, _, _): try checkText(path, "the plot file name")
        case .dumb, .window: break
        }
        var s: [String] = []
        switch terminal {
        case .dumb(let c, let r): s.append("set terminal dumb size \(c),\(r) noenhanced")
        case .png(let path, let w, let h):
            s.append("set terminal pngcairo size \(w),\(h) noenhanced font \"sans,10\"")
            s.append("set output \(quote(path))")
        case .svg(let path, let w, let h):
            s.append("set terminal svg size \(w),\(h) noenhanced font \"sans,10\"")
            s.append("set output \(quote(path))")
        case .window: s.append("set terminal \(windowTerminal) noenhanced")
        }
        for (i, series) in plot.series.enumerated() {
            s.append("$s\(i) << EOD")
            for j in series.x.indices where series.x[j].isFinite && series.y[j].isFinite {
                var row = "\(number(series.x[j])) \(number(series.y[j]))"
                if let low = series.low, let high = series.high, low[j].isFinite, high[j].isFinite {
                    row += " \(number(low[j])) \(number(high[j]))"
                }
                s.append(row)
            }
            s.append("EOD")
        }
        s.append("set title \(quote(plot.title))")
        s.append("set xlabel \(quote(plot.xLabel))")
        // Text art has no room for a rotated label: the title names the metrics there.
        if case .dumb = terminal {} else { s.append("set ylabel \(quote(plot.yLabel))") }
        s.append("set key below")
        if case .dumb = terminal {} else { s.append("set grid") }
        if let r = plot.yRange { s.append("set yrange [\(number(r.lowerBound)):\(number(r.upperBound))]") }
        let style = plot.points ? "linespoints" : "lines"
        // With bands each curve and its band share a colour (line type i + 1); the dumb terminal
        // has no shading, so text art draws the curves only.
        let banded: Bool = { if case .dumb = terminal { return false } else { return plot.series.contains { $0.low != nil } } }()
        let curves = plot.series.indices.flatMap { i -> [String] in
            guard banded else { return ["$s\(i) using 1:2 with \(style) title \(quote(plot.series[i].name))"] }
            let line = "$s\(i) using 1:2 with \(style) lc \(i + 1) title \(quote(plot.series[i].name))"
            guard plot.series[i].low != nil else { return [line] }
            return ["$s\(i) using 1:3:4 with filledcurves fs transparent solid 0.15 noborder lc \(i + 1) notitle", line]
        }
        s.append(curves.isEmpty ? "plot NaN notitle" : "plot " + curves.joined(separator: ", \\\n     "))
        if case .png = terminal { s.append("unset output") }
        if case .svg = terminal { s.append("unset output") }
        return s.joined(separator: "\n") + "\n"
    }

    /// Draws `plot`; returns gnuplot's text output (the picture for `.dumb`, empty otherwise).
    @discardableResult
    public static func render(_ plot: Plot, terminal: Terminal, gnuplot: String? = nil) throws -> String {
        guard let exe = gnuplot ?? locate() else { throw WorkbenchError(missingMessage) }
        var args: [String] = []
        var windowTerminal = "qt"
        if terminal == .window {
            guard hasDisplay else { throw WorkbenchError("no display: DISPLAY is not set; use --out FILE.png instead") }
            windowTerminal = try firstWindowTerminal(exe)
            args = ["-persist"]
        }
        let result = try Subprocess.run(exe, args, input: try script(plot, terminal: terminal, windowTerminal: windowTerminal))
        guard result.status == 0 else {
            let err = result.stderr.split(separator: "\n").filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
            throw WorkbenchError("gnuplot failed: " + (err.last.map(String.init) ?? "exit status \(result.status)"))
        }
        // The dumb terminal starts each page with a form feed.
        return result.stdout.hasPrefix("\u{0C}") ? String(result.stdout.dropFirst()) : result.stdout
    }

    /// The first window terminal this gnuplot has (builds differ: gnuplot-nox has none).
    static func firstWindowTerminal(_ exe: String) throws -> String {
        let list = try Subprocess.run(exe, ["-e", "set terminal"], input: "")
        let text = list.stdout + list.stderr
        for t in ["qt", "wxt", "x11"] where text.contains("\n  \(t) ") || text.range(of: "\\s\(t)\\s", options: .regularExpression) != nil {
            return t
        }
        throw WorkbenchError("this gnuplot has no window terminal (qt, wxt, x11): install gnuplot-qt or gnuplot-x11, or use --out FILE.png")
    }

    /// A gnuplot string literal that gnuplot takes as plain text. Single quotes, because inside double
    /// quotes gnuplot runs `backquoted` text as a shell command and expands escapes; inside single
    /// quotes nothing is special but the quote itself, written twice. Control characters (a newline
    /// would end the command and start another) never reach here: `checkText` refuses them first.
    static func quote(_ s: String) -> String {
        "'" + s.replacingOccurrences(of: "'", with: "''") + "'"
    }

    /// Refuses text that cannot be a title, label or file name in a gnuplot script: control
    /// characters (newline, carriage return, tab, escape, ...). `what` names it in the error.
    public static func checkText(_ s: String, _ what: String) throws {
        if let c = s.unicodeScalars.first(where: { $0.properties.generalCategory == .control || $0 == "\u{2028}" || $0 == "\u{2029}" }) {
            throw WorkbenchError("\(what) holds a control character (U+\(String(format: "%04X", c.value))); use printable text only")
        }
    }

    /// A number as gnuplot reads it back exactly.
    static func number(_ x: Double) -> String {
        x == x.rounded() && abs(x) < 1e15 ? String(Int(x)) : "\(x)"
    }
}
