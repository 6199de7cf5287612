/// A metric the plot command knows: a dynamics column or an engine-provided series.
public struct MetricSpec {
    /// The name as typed and as the dynamics.jsonl key (greedy_acc, pass_at_k, ...).
    public var name: String
    /// The axis label a paper figure would use ("greedy accuracy").
    public var label: String
    /// One line of description.
    public var summary: String
    /// Series computed by the engine; nil reads the column `name` from dynamics.jsonl files.
    public var series: ((Session) throws -> [PlotSeries])?

    /// A metric declaration.
    public init(_ name: String, label: String, summary: String, series: ((Session) throws -> [PlotSeries])? = nil) {
        self.name = name
        self.label = label
        self.summary = summary
        self.series = series
    }

    /// The columns of dynamics.jsonl that docs/method.md ("Dynamics") fixes, known before any engine registers more.
    public static let dynamicsColumns: [(String, String, String)] = [
        ("temperature", "temperature", "sampling temperature of the iteration"),
        ("greedy_acc", "greedy accuracy", "validation accuracy at temperature 0"),
        ("pass_at_k", "Pass@K", "validation Pass@K (unbiased estimator)"),
        ("reward_pass_at_2", "Reward-Pass@2", "a correct response among the two the reward ranks highest"),
        ("majority_at_k", "Maj@K", "majority vote over K samples is correct"),
        ("selected", "selected responses", "responses kept by selection"),
        ("mean_len", "mean response length", "mean response length in tokens"),
        ("entropy", "entropy", "mean token entropy of the samples"),
        ("epoch", "passes over the prompt set", "passes over the prompt set after the iteration"),
    ]
}

/// A name with a one-line description (recipes and other registrable vocabularies).
public struct NamedEntry: Sendable, Equatable {
    /// The name as typed.
    public var name: String
    /// One line of description.
    public var summary: String

    /// A named entry.
    public init(_ name: String, summary: String) {
        self.name = name
        self.summary = summary
    }
}
