import Foundation

/// The `plot` command: metrics against iteration from the engine or from dynamics.jsonl files,
/// drawn by gnuplot: text art at the prompt, PNG/SVG files in scripts, a window on request.
public enum PlotCommand {
    /// Settings for plot files.
    static func register(in session: Session) {
        session.register(setting: SettingSpec("plot_width", .int, default: .int(800), summary: "width of plot files in pixels",
                                              validate: Check.within(100...4000)))
        session.register(setting: SettingSpec("plot_height", .int, default: .int(500), summary: "height of plot files in pixels",
                                              validate: Check.within(100...4000)))
        session.register(CommandSpec(
            "plot", group: "plots", summary: "plot metrics per iteration with gnuplot",
            discussion: """
            Each METRIC comes from the engine, or from the dynamics.jsonl of the run (or of every --from file,
            one curve per file and metric; --runs NAME,... reads the runs saved with save NAME). At the prompt the plot is drawn as text in the terminal; --out
            writes a file too (.png, .svg or .txt, inside the run directory when relative). In scripts and
            notebooks a plot without --out goes to plots/METRICS.png; a notebook shows it inline.
            --window opens a gnuplot window when DISPLAY is set.
            Metrics: \(MetricSpec.dynamicsColumns.map(\.0).joined(separator: ", ")) and any the engine registers.
            """,
            arguments: [ArgumentSpec("metrics", .name(.metric), default: .none, variadic: true, help: "metrics to plot")],
            options: [
                OptionSpec("from", .list(.path), help: "dynamics.jsonl files to read (default: the run's own)"),
                OptionSpec("runs", .list(.string), help: "runs saved in the run directory (save DIR): reads DIR/dynamics.jsonl of each"),
                OptionSpec("x", .string, default: .value(.string("step")), help: "the key of the x axis"),
                OptionSpec("out", .outputPath, help: "write the plot to this file (.png, .svg or .txt)"),
                OptionSpec("title", .string, help: "the title (default: the metrics)"),
                OptionSpec("ylabel", .string, help: "the y axis label (default: the metric's label)"),
                OptionSpec("width", .int, default: .setting("plot_width"), range: 100...4000, help: "file width in pixels"),
                OptionSpec("height", .int, default: .setting("plot_height"), range: 100...4000, help: "file height in pixels"),
                OptionSpec("window", .flag, help: "open a gnuplot window (needs DISPLAY)"),
            ]
        ) { cmd, s in try run(cmd, s) })
    }

    static func run(_ cmd: ParsedCommand, _ s: Session) throws -> CommandOutput {
        let metrics = cmd.strings("metrics")
        guard !metrics.isEmpty else { throw WorkbenchError("plot needs at least one metric, e.g. plot greedy_acc pass_at_k (help plot)") }
        let plot = try figure(metrics, cmd, s)
        let gnuplot = s.gnuplotPath ?? Gnuplot.locate()
        guard let gnuplot, FileManager.default.isExecutableFile(atPath: gnuplot) else { throw WorkbenchError(Gnuplot.missingMessage) }
        var out = CommandOutput()
        for series in plot.series { out.line(summary(series)) }

        var file = cmd.optionalString("out")
        if file == nil && s.mode != .interactive { file = defaultName(metrics, s) }
        if let file {
            let path = try s.writablePath(file, what: "--out")
            let (w, h) = (cmd.int("width"), cmd.int("height"))
            switch (file as NSString).pathExtension.lowercased() {
            case "png": try Gnuplot.render(plot, terminal: .png(path: path, width: w, height: h), gnuplot: gnuplot)
            case "svg": try Gnuplot.render(plot, terminal: .svg(path: path, width: w, height: h), gnuplot: gnuplot)
            case "txt":
                let text = try Gnuplot.render(plot, terminal: .dumb(columns: 100, rows: 30), gnuplot: gnuplot)
                try Data(text.utf8).write(to: URL(fileURLWithPath: path))
            default: throw WorkbenchError("--out \(file): use a .png, .svg or .txt file name")
            }
            out.image(file, kind: .plot)
        }
        if s.mode == .notebook {
            // The text rendering travels with the image as its text/plain (shown where images are not).
            out.display(try Gnuplot.render(plot, terminal: .dumb(columns: 100, rows: 30), gnuplot: gnuplot))
        } else if s.mode == .interactive {
            let size = s.terminalSize()
            let text = try Gnuplot.render(plot, terminal: .dumb(columns: max(40, size.columns - 2), rows: max(15, min(size.rows - 4, 40))),
                                          gnuplot: gnuplot)
            out.display(text)
        }
        if cmd.flag("window") { try Gnuplot.render(plot, terminal: .window, gnuplot: gnuplot) }
        return out
    }

    /// The figure for `metrics`: one curve per metric and source file.
    static func figure(_ metrics: [String], _ cmd: ParsedCommand, _ s: Session) throws -> Plot {
        let xKey = cmd.string("x")
        let files = cmd.strings("from").map(s.inputPath) + cmd.strings("runs").map { s.outputPath($0 + "/" + DynamicsFile.fileName) }
        let sources = files.isEmpty ? [s.outputPath(DynamicsFile.fileName)] : files
        var series: [PlotSeries] = []
        for m in metrics {
            let spec = s.metric(m)
            if let provider = spec?.series, files.isEmpty {
                series += try provider(s)
                continue
            }
            for path in sources {
                let label = spec?.label ?? m
                let name = sources.count > 1 ? "\(((path as NSString).deletingLastPathComponent as NSString).lastPathComponent) \(label)" : label
                series.append(try DynamicsFile.series(path, key: m, xKey: xKey, name: name))
            }
        }
        let labels = metrics.map { s.metric($0)?.label ?? $0 }
        return Plot(title: cmd.optionalString("title") ?? labels.joined(separator: ", "),
                    xLabel: xKey == "step" ? "iteration" : xKey == "epoch" ? "passes over the prompt set" : xKey,
                    yLabel: cmd.optionalString("ylabel") ?? (labels.count == 1 ? labels[0] : "value"),
                    series: series)
    }

    /// `Pass@K: 5 points, iteration 0..4, min 0.41, max 0.62, last 0.58`: the recorded, checkable part of a plot.
    static func summary(_ s: PlotSeries) -> String {
        let pts = zip(s.x, s.y).filter { $0.0.isFinite && $0.1.isFinite }
        guard let first = pts.first, let last = pts.last else { return "\(s.name): no points" }
        let ys = pts.map(\.1)
        return "\(s.name): \(pts.count) point\(pts.count == 1 ? "" : "s"), x \(g(first.0))..\(g(last.0)), "
            + "min \(g(ys.min()!)), max \(g(ys.max()!)), last \(g(last.1))"
    }

    /// A plot file name for scripts that give no --out: plots/METRIC-METRIC.png, numbered when taken.
    static func defaultName(_ metrics: [String], _ s: Session) -> String {
        let base = "plots/" + metrics.joined(separator: "-")
        var used = s.values["plot.names"] as? Set<String> ?? []
        var name = base + ".png", n = 2
        while used.contains(name) { name = "\(base)-\(n).png"; n += 1 }
        used.insert(name)
        s.values["plot.names"] = used
        return name
    }

    static func g(_ x: Double) -> String { String(format: "%.4g", x) }
}
