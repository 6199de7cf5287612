import Foundation
import Testing
import MSTaRWorkbench

@Suite struct PlotTests {
    static let figure = Plot(title: "Dynamics \"T=1.0\"", xLabel: "iteration", yLabel: "accuracy", series: [
        PlotSeries("greedy", x: [0, 1, 2, 3], y: [0.3, 0.35, 0.4, 0.5]),
        PlotSeries("Pass@K", x: [0, 1, 2, 3], y: [0.8, .nan, 0.7, 0.65]),
    ])

    @Test func scriptHasDatablocksTitlesLabelsAndLegend() throws {
        let s = try Gnuplot.script(Self.figure, terminal: .png(path: "/tmp/a.png", width: 640, height: 400))
        #expect(s.hasPrefix("set terminal pngcairo size 640,400 noenhanced"))
        #expect(s.contains("set output '/tmp/a.png'\n"))
        #expect(s.contains("$s0 << EOD\n0 0.3\n1 0.35\n2 0.4\n3 0.5\nEOD\n"))
        #expect(s.contains("$s1 << EOD\n0 0.8\n2 0.7\n3 0.65\nEOD\n"), "non-finite points are left out")
        #expect(s.contains("set title 'Dynamics \"T=1.0\"'\n"))
        #expect(s.contains("set xlabel 'iteration'\nset ylabel 'accuracy'\n"))
        #expect(s.contains("plot $s0 using 1:2 with linespoints title 'greedy', \\\n     $s1 using 1:2 with linespoints title 'Pass@K'\n"))
        let dumb = try Gnuplot.script(Self.figure, terminal: .dumb(columns: 90, rows: 20))
        #expect(dumb.hasPrefix("set terminal dumb size 90,20"))
        #expect(!dumb.contains("set ylabel"))
    }

    @Test(.enabled(if: Fixture.hasGnuplot)) func pngComesFromGnuplotAtTheRequestedSize() throws {
        let dir = try Fixture.tempDir("plot-png")
        try Gnuplot.render(Self.figure, terminal: .png(path: dir + "/a.png", width: 640, height: 400))
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: dir + "/a.png")))
        #expect(Array(bytes.prefix(8)) == [137, 80, 78, 71, 13, 10, 26, 10])
        #expect(bytes.count > 5000, "a real figure, not an empty image: \(bytes.count) bytes")
        let size = try #require(Fixture.pngSize(bytes))
        #expect(size == (640, 400))
    }

    @Test(.enabled(if: Fixture.hasGnuplot)) func svgAndDumbTerminals() throws {
        let dir = try Fixture.tempDir("plot-svg")
        try Gnuplot.render(Self.figure, terminal: .svg(path: dir + "/a.svg", width: 500, height: 300))
        let svg = try String(contentsOfFile: dir + "/a.svg", encoding: .utf8)
        #expect(svg.contains("<svg"))
        #expect(svg.contains("width=\"500\""))
        #expect(svg.contains("Pass@K"))
        let text = try Gnuplot.render(Self.figure, terminal: .dumb(columns: 70, rows: 20))
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(text.contains("Dynamics \"T=1.0\""))
        #expect(text.contains("greedy"))
        #expect(lines.map(\.count).max()! == 70)
        #expect(lines.count >= 19 && lines.count <= 21)
    }

    @Test(.enabled(if: Fixture.hasGnuplot)) func plotCommandReadsDynamicsAndRecordsASummary() throws {
        let s = try Fixture.session("plot-command")
        try Fixture.writeDynamics(s.inputPath("dyn.jsonl"))
        let out = Fixture.run(s, "plot greedy_acc pass_at_k --from dyn.jsonl --width 640 --height 400")
        #expect(out == [
            "greedy accuracy: 6 points, x 0..5, min 0.3, max 0.55, last 0.55",
            "Pass@K: 6 points, x 0..5, min 0.65, max 0.8, last 0.65",
            "[plot: plots/greedy_acc-pass_at_k.png]",
        ])
        // The journal names the input by its absolute path (so it replays from anywhere), the output as typed.
        #expect(s.resolvedHistory == ["plot greedy_acc pass_at_k --from \(s.inputPath("dyn.jsonl")) --x step --width 640 --height 400"])
        #expect(s.inputPath("dyn.jsonl").hasPrefix("/"))
        let png = Array(try Data(contentsOf: URL(fileURLWithPath: s.runDirectory + "/plots/greedy_acc-pass_at_k.png")))
        #expect(Fixture.pngSize(png)! == (640, 400))
        // The same metrics again get a new name rather than overwriting.
        #expect(Fixture.run(s, "plot greedy_acc pass_at_k --from dyn.jsonl").last == "[plot: plots/greedy_acc-pass_at_k-2.png]")
        // Nested keys, several runs, an explicit SVG file.
        try FileManager.default.createDirectory(atPath: s.inputPath("b"), withIntermediateDirectories: true)
        try Fixture.writeDynamics(s.inputPath("b/dynamics.jsonl"), steps: 3)
        try FileManager.default.createDirectory(atPath: s.inputPath("a"), withIntermediateDirectories: true)
        try Fixture.writeDynamics(s.inputPath("a/dynamics.jsonl"), steps: 2)
        #expect(Fixture.run(s, "plot greedy_acc --from a/dynamics.jsonl,b/dynamics.jsonl --out cmp.svg") == [
            "a greedy accuracy: 2 points, x 0..1, min 0.3, max 0.35, last 0.35",
            "b greedy accuracy: 3 points, x 0..2, min 0.3, max 0.4, last 0.4",
            "[plot: cmp.svg]",
        ])
        s.register(metric: MetricSpec("per_family.counting", label: "counting accuracy", summary: "nested"))
        #expect(Fixture.run(s, "plot per_family.counting --from dyn.jsonl --out c.png").first
                == "counting accuracy: 6 points, x 0..5, min 0.5, max 1, last 1")
    }

    @Test(.enabled(if: Fixture.hasGnuplot)) func interactivePlotsShowTextInTheTerminal() throws {
        let s = try Fixture.session("plot-interactive", mode: .interactive)
        s.terminalSize = { TerminalSize(columns: 72, rows: 24) }
        try Fixture.writeDynamics(s.inputPath("dyn.jsonl"))
        let r = s.execute("plot pass_at_k --from dyn.jsonl")
        #expect(r.output.recordedLines.map(\.text) == ["Pass@K: 6 points, x 0..5, min 0.65, max 0.8, last 0.65"])
        guard case .display(let art)? = r.output.items.last else { Issue.record("no terminal plot"); return }
        #expect(art.contains("Pass@K"))
        #expect(art.split(separator: "\n").map(\.count).max()! == 70)
        #expect(!FileManager.default.fileExists(atPath: s.runDirectory + "/plots"), "no file without --out at the prompt")
    }

    @Test func plotErrorsSayWhatToDo() throws {
        let s = try Fixture.session("plot-errors")
        s.gnuplotPath = "/nonexistent/gnuplot"
        try Fixture.writeDynamics(s.inputPath("dyn.jsonl"))
        #expect(Fixture.run(s, "plot greedy_acc --from dyn.jsonl") == [
            "error: gnuplot is not installed (not found on PATH); run scripts/setup to install gnuplot-nox",
        ])
        #expect(Fixture.run(s, "plot") == ["error: plot needs at least one metric, e.g. plot greedy_acc pass_at_k (help plot)"])
        let missing = Fixture.run(s, "plot greedy_acc")
        #expect(missing == ["error: cannot read \(s.runDirectory)/dynamics.jsonl: no dynamics there yet (evolution steps write it)"])
        #expect(Gnuplot.locate(environment: ["PATH": "/nonexistent"]) == nil)
    }

    @Test(.enabled(if: Fixture.hasGnuplot)) func engineSeriesProvidersFeedThePlot() throws {
        let s = try Fixture.session("plot-provider")
        s.register(metric: MetricSpec("pass_at_k_curve", label: "Pass@K", summary: "Pass@K against K") { _ in
            [PlotSeries("T=1.0", x: [1, 2, 4, 8], y: [0.4, 0.5, 0.6, 0.7])]
        })
        #expect(Fixture.run(s, "plot pass_at_k_curve --x K --out k.png") == [
            "T=1.0: 4 points, x 1..8, min 0.4, max 0.7, last 0.7",
            "[plot: k.png]",
        ])
        let png = Array(try Data(contentsOf: URL(fileURLWithPath: s.runDirectory + "/k.png")))
        #expect(Fixture.pngSize(png)! == (800, 500))
    }
}

/// Bands: each banded curve gets a shaded band in its own colour, drawn under it; text art has no
/// shading and draws the curves alone.
@Suite struct PlotBandTests {
    @Test func bandsShareTheirCurvesColourAndTextArtLeavesThemOut() throws {
        let banded = PlotSeries("mean", x: [1, 2], y: [0.4, 0.5], low: [0.3, 0.45], high: [0.5, 0.55])
        let plain = PlotSeries("other", x: [1, 2], y: [0.2, 0.3])
        let plot = Plot(title: "t", xLabel: "x", yLabel: "y", series: [banded, plain])
        let png = try Gnuplot.script(plot, terminal: .png(path: "p.png", width: 400, height: 300))
        #expect(png.contains("1 0.4 0.3 0.5\n2 0.5 0.45 0.55\n"))
        #expect(png.contains("$s0 using 1:3:4 with filledcurves fs transparent solid 0.15 noborder lc 1 notitle, \\\n     $s0 using 1:2 with linespoints lc 1 title 'mean'"))
        #expect(png.contains("$s1 using 1:2 with linespoints lc 2 title 'other'"))
        let text = try Gnuplot.script(plot, terminal: .dumb(columns: 60, rows: 20))
        #expect(!text.contains("filledcurves") && text.contains("$s0 using 1:2 with linespoints title 'mean'"))
    }
}
