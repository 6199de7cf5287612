import Foundation

/// Progress of long work: a bar with rate and time left on a terminal, plain lines otherwise.
/// Written to stderr and never recorded, so scripts stay deterministic.
public final class Progress {
    /// How progress is drawn.
    public enum Style: Sendable {
        /// A bar redrawn in place (`\r`), at most every 0.1 s.
        case bar
        /// A line at every 10% (logs, pipes, headless replay).
        case lines
        /// Nothing.
        case silent
    }

    /// What is being done ("evolve", "eval test").
    public let label: String
    /// Units of work in all.
    public let total: Int
    /// The name of a unit ("step", "batch", "prompt").
    public let unit: String
    /// How it is drawn.
    public let style: Style
    /// Units done so far.
    public private(set) var done = 0

    private let write: (String) -> Void
    private let clock: () -> Double
    private let start: Double
    private var lastDraw = -1.0
    private var lastDecile = 0
    private let width: Int

    /// A reporter; by default the style follows whether stderr is a terminal.
    public init(_ label: String, total: Int, unit: String = "it", style: Style? = nil,
                width: Int? = nil, write: ((String) -> Void)? = nil, clock: (() -> Double)? = nil) {
        self.label = label
        self.total = max(total, 0)
        self.unit = unit
        self.style = style ?? (isatty(STDERR_FILENO) == 1 ? .bar : .lines)
        self.width = width ?? TerminalSize.current().columns
        self.write = write ?? { FileHandle.standardError.write(Data($0.utf8)) }
        self.clock = clock ?? { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
        self.start = self.clock()
    }

    /// Marks `n` more units done and redraws when due.
    public func advance(by n: Int = 1) {
        done = min(done + n, total)
        let now = clock()
        switch style {
        case .silent: return
        case .bar:
            if now - lastDraw >= 0.1 || done == total {
                lastDraw = now
                write("\r" + bar(now: now))
            }
        case .lines:
            let decile = total == 0 ? 10 : done * 10 / total
            if decile > lastDecile {
                lastDecile = decile
                write(line(now: now) + "\n")
            }
        }
    }

    /// Ends the display (the bar's line is closed with a newline).
    public func finish() {
        if style == .bar && lastDraw >= 0 && !finished { write("\r" + bar(now: clock()) + "\n") }
        finished = true
    }

    private var finished = false

    // Work that stops early (Ctrl-C, an error) drops its reporter unfinished: end the bar's line
    // so the next message starts on a line of its own.
    deinit {
        if style == .bar && lastDraw >= 0 && !finished { write("\n") }
    }

    /// `label 30/100 steps (30%), 2.5 steps/s, 28s left`: the plain line.
    public func line(now: Double) -> String {
        let pct = total == 0 ? 100 : done * 100 / total
        return "\(label) \(done)/\(total) \(unit)s (\(pct)%), \(rateText(now: now))"
    }

    /// `label [#####.....] 30/100 2.5 steps/s 28s left`, fitted to the width.
    public func bar(now: Double) -> String {
        let tail = " \(done)/\(total) \(rateText(now: now))"
        let room = max(10, min(40, width - label.count - tail.count - 4))
        let filled = total == 0 ? room : done * room / total
        let s = "\(label) [" + String(repeating: "#", count: filled) + String(repeating: ".", count: room - filled) + "]" + tail
        // Padded to the width so a shorter redraw leaves nothing of the previous one.
        return s.count < width - 1 ? s + String(repeating: " ", count: width - 1 - s.count) : s
    }

    private func rateText(now: Double) -> String {
        let elapsed = now - start
        guard done > 0, elapsed > 0 else { return "" }
        let rate = Double(done) / elapsed
        let left = Double(total - done) / rate
        let rateText = rate >= 10 ? String(format: "%.0f", rate) : String(format: "%.2f", rate)
        return "\(rateText) \(unit)s/s, \(Progress.duration(done == total ? elapsed : left))\(done == total ? "" : " left")"
    }

    /// Seconds as `42s`, `3m05s` or `1h02m`.
    public static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        if s < 60 { return "\(s)s" }
        if s < 3600 { return String(format: "%dm%02ds", s / 60, s % 60) }
        return String(format: "%dh%02dm", s / 3600, (s % 3600) / 60)
    }
}
