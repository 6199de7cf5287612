/// The named random streams of a run. Each purpose draws from its own stream, derived from the run's
/// seed and this tag (`Evolution.derivedSeed`), so changing how much one phase draws never shifts
/// another's numbers. The raw values are part of every recording: changing one changes what every
/// saved session replays to.
public enum RandomStream: UInt64, CaseIterable, Sendable {
    /// The order the labelled prompts are scheduled in (one permutation per pass).
    case labelledPrompts = 0x1A
    /// The order of the unlabelled prompts.
    case unlabelledPrompts = 0x1B
    /// The order of the seed chains under the SFT method.
    case seedChains = 0x5E
    /// The K samples of each iteration's prompts.
    case sampling = 0x5A
    /// The draws of random-k selection, one stream per prompt.
    case selection = 0x5E1
    /// The minibatch order of each iteration's training.
    case training = 0x7A
    /// The minibatch order of GRPO's rollout groups.
    case grpo = 0x6A
    /// The samples each temperature candidate is measured on.
    case temperatureSearch = 0x7E
    /// The samples of the dynamics on the validation prompts (the same every iteration).
    case dynamics = 0xD7
    /// The PRM's Monte-Carlo labels: the responses and their rollouts.
    case prmLabels = 0x9A
    /// The PRM's training order.
    case prmTraining = 0x9B
}
