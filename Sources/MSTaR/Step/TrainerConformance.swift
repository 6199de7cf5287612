import MSTaRModel
import MSTaRTensor

/// The `PolicyTrainer` contract as a check any implementation can run (the engine's trainer in
/// the test suite; a served model's trainer against its server). `makeTrainer` must return a
/// trainer at the same starting state (π0, no optimizer) on every call. Each violation is one line.
public enum TrainerConformance {
    /// The violations of the contract, trained on `sequences` (at least one) and `groups` (with at
    /// least one group whose rewards differ); empty when the trainer conforms.
    public static func violations(_ makeTrainer: () throws -> any PolicyTrainer, sequences: [TrainingSequence],
                                  groups: [RolloutGroup]) throws -> [String] {
        var out: [String] = []
        let lr: Float = 1e-3
        func sft(_ t: any PolicyTrainer, _ carry: CarryRule, lr: Float = lr, seed: UInt64 = 1) throws -> TrainReport? {
            try t.trainSFT(sequences, carry: carry, lr: lr, batchSize: 4, epochs: 1, seed: seed, shouldStop: nil)
        }

        // Training changes the state and reports finite losses.
        let t = try makeTrainer()
        let start = try t.stateDigest()
        let report = try sft(t, .carry)
        if report == nil || report!.steps == 0 || !(report!.meanLoss.isFinite) { out.append("SFT on data reported \(String(describing: report))") }
        let trained = try t.stateDigest()
        if trained == start { out.append("SFT on data left the state as it was") }
        if try t.trainSFT([], carry: .carry, lr: lr, batchSize: 4, epochs: 1, seed: 1, shouldStop: nil) != nil {
            out.append("SFT on no data reported training")
        }

        // Deterministic: the same start, data and seed give the same state.
        let u = try makeTrainer()
        _ = try sft(u, .carry)
        if try u.stateDigest() != trained { out.append("the same start, data and seed gave another state") }

        // A snapshot restores exactly.
        let snap = try t.snapshot()
        _ = try sft(t, .carry, seed: 2)
        if try t.stateDigest() == trained { out.append("a second SFT pass changed nothing") }
        try snap.restore()
        if try t.stateDigest() != trained { out.append("restoring a snapshot did not give back the state") }

        // A non-finite update throws NonFiniteLoss and leaves the state.
        do {
            _ = try sft(t, .carry, lr: .nan)
            out.append("an update at a NaN learning rate was accepted")
        } catch is NonFiniteLoss {
            if try t.stateDigest() != trained { out.append("a refused non-finite update changed the state") }
        }

        // fresh trains without keeping an optimizer; restart with nothing to train on is π0 again.
        let f = try makeTrainer()
        _ = try sft(f, .fresh)
        if try f.stateDigest() == start { out.append("SFT with a fresh optimizer changed nothing") }
        _ = try f.trainSFT([], carry: .restart, lr: lr, batchSize: 4, epochs: 1, seed: 1, shouldStop: nil)
        if try f.stateDigest() != start { out.append("restart did not put back π0 (with no optimizer kept)") }

        // GRPO trains on groups with an advantage.
        let g = try makeTrainer()
        let r = try g.trainGRPO(groups, objective: GRPOLoss(clip: 0.2, klBeta: 0), lr: lr, promptsPerUpdate: 2, seed: 3, shouldStop: nil)
        if r.steps == 0 || !r.meanLoss.isFinite { out.append("GRPO reported \(r)") }
        if try g.stateDigest() == start { out.append("GRPO left the state as it was") }
        return out
    }
}
