import MSTaR
import MSTaRModel
import MSTaRTasks
import MSTaRRemote

/// What the method's commands keep in a session, as one typed value: the task suite and digit
/// bank, imported datasets, the policy and where it came from, the run, the PRM shared between runs
/// from one starting policy, and the last evaluation and calibration.
final class EngineState {
    /// The task suite (`data generate`), nil until one is made.
    var suite: TaskSuite?
    /// The handwritten digits the default suite draws from, loaded once.
    var digits: DigitBank?
    /// Datasets imported with `data import --as NAME`, by name.
    var datasets: [String: [Example]] = [:]
    /// Real datasets (MathVista, M3CoT, ScienceQA, LLaVA) loaded with `data load --as NAME`, by
    /// name; a name is in at most one of `datasets` and this.
    var reasoningSets: [String: ReasoningDataset] = [:]
    /// The loaded or made policy (the run's starting point).
    var policy: VisionLanguageModel?
    /// Where `policy` came from: a checkpoint path, `new (seed N)`, with the phases trained since.
    var policySource: String?
    /// How output names the policy: a loaded folder by its name (`pre-evolved`), not by the path typed.
    var policyLabel: String?
    /// The self-evolution run, created at its first step from the policy and the settings.
    var evolution: Evolution?
    /// The real dataset `data use` made the method run on (nil: the digit suite).
    var usedDataset: String?
    /// The run over that dataset's items, created at its first step.
    var itemRun: ItemEvolution?
    /// The last PRM trained in the session and the policy it was trained from.
    var sharedPRM: SharedPRM?
    /// The last `eval` (its Pass@k curve is a plottable metric).
    var lastEval: EvaluationResult?
    /// The last `prm calibration` (plottable too).
    var calibration: PRMCalibration?
    /// The remote backend (`backend remote`); nil: the engine's own sampler.
    var remote: BackendCommands.Remote?
    /// The external trainer of item runs (`trainer KIND --config FILE`); nil: none.
    var trainer: TrainerCommands.Setup?
    /// A loaded item run's trainer state, until the trainer is attached to it.
    var savedTrainerState: ExternalTrainer.State?
    /// Whether a recipe or a loaded run is setting many settings at once (cross-checks wait for the end).
    var applyingSettings = false

    /// A PRM with the report of its training and the policy source it was trained from.
    struct SharedPRM { var prm: ProcessRewardModel; var report: PRMTrainReport?; var source: String? }

    static let key = "engine"
}

extension Session {
    /// The method's state of the session, created on first use.
    var engine: EngineState {
        if let e = values[EngineState.key] as? EngineState { return e }
        let e = EngineState()
        values[EngineState.key] = e
        return e
    }
}
