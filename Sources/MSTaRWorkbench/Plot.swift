/// One curve: a name for the legend and its points.
public struct PlotSeries: Sendable, Equatable {
    /// The legend entry.
    public var name: String
    /// X coordinates.
    public var x: [Double]
    /// Y coordinates (same count as x; non-finite points are left out of the plot).
    public var y: [Double]

    /// A band around the curve (e.g. a 95% interval over seeds): its lower and upper edge at each x,
    /// drawn shaded in the curve's colour; nil for none.
    public var low: [Double]?, high: [Double]?

    /// A series; x and y (and a band's edges) must have the same length.
    public init(_ name: String, x: [Double], y: [Double], low: [Double]? = nil, high: [Double]? = nil) {
        precondition(x.count == y.count, "series \(name): \(x.count) x values but \(y.count) y values")
        precondition((low == nil) == (high == nil) && (low?.count ?? x.count) == x.count && (high?.count ?? x.count) == x.count,
                     "series \(name): a band needs both edges, one value per x")
        self.name = name
        self.x = x
        self.y = y
        self.low = low
        self.high = high
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
