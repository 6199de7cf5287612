/// One curve: a name for the legend and its points.
public struct PlotSeries: Sendable, Equatable {
    /// The legend entry.
    public var name: String
    /// X coordinates.
    public var x: [Double]
    /// Y coordinates (same count as x; non-finite points are left out of the plot).
    public var y: [Double]

    /// A series; x and y must have the same length.
    public init(_ name: String, x: [Double], y: [Double]) {
        precondition(x.count == y.count, "series \(name): \(x.count) x values but \(y.count) y values")
        self.name = name
        self.x = x
        self.y = y
    }
}

/// A figure: title, axis labels and curves, as a paper figure would have them.
public struct Plot: Sendable, Equatable {
    /// The title above the plot.
    public var title: String
    /// The x axis label.
    public var xLabel: String
    /// The y axis label.
    public var yLabel: String
    /// The curves.
    public var series: [PlotSeries]
    /// Lines with point markers (true) or plain lines.
    public var points: Bool
    /// A fixed y range, or nil for gnuplot's choice.
    public var yRange: ClosedRange<Double>?

    /// A figure.
    public init(title: String, xLabel: String, yLabel: String, series: [PlotSeries], points: Bool = true,
                yRange: ClosedRange<Double>? = nil) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.series = series
        self.points = points
        self.yRange = yRange
    }
}
