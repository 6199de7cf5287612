import Foundation
import MSTaRModel
import MSTaRTasks
import MSTaRTensor

extension Evolution {
    /// Stage 9, commit: the step's dynamics record, and the run's state moved on (iteration,
    /// cursors, temperature, history), with the record appended to dynamics.jsonl. Nothing before
    /// this stage changes the run, except training, which an error rolls back.
    func commit(_ plan: Schedule, _ selection: StepSelection, temperature t: Float, search: TemperatureSearch?, report: TrainReport?,
                dynamics: DynamicsMetrics, times: PhaseTimes) throws -> StepResult {
        let s = settings
        let number = iteration + 1
        let records = selection.records
        let samples = records.reduce(0) { $0 + $1.responses.count }
        let correct = records.reduce(0) { $0 + $1.responses.filter { $0.reward > 0 }.count }
        let record = DynamicsRecord(
            step: number, epoch: (Double(number) * s.effectiveInterval * 1e6).rounded() / 1e6, method: s.method, temperature: t,
            prompts: records.isEmpty ? selection.training.count : records.filter { $0.pool == Pool.labelled.rawValue }.count,
            unlabelled: records.filter { $0.pool == Pool.unlabelled.rawValue }.count, samples: samples, correct: correct,
            selected: s.method == .grpo ? 0 : selection.training.count,
            pseudoLabelAcc: selection.pseudoTotal > 0 ? Double(selection.pseudoRight) / Double(selection.pseudoTotal) : nil,
            train: report, dynamics: dynamics, search: search)
        iteration = number
        cursor = plan.nextCursor
        unlabelledCursor = plan.nextUnlabelled
        temperature = t
        history.append(record)
        let result = StepResult(record: record, times: times, prompts: records, train: report, dynamics: dynamics)
        last = result
        if let dir = runDirectory { try appendDynamics(record, times, to: dir) }
        return result
    }
}
