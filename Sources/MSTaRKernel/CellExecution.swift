import Foundation
import MSTaRWorkbench

extension Kernel {
    /// Runs an execute_request's cell: its commands in order, as the REPL and `mstar run` do, each
    /// journaled when it completes, its output published as it ends (progress meanwhile). A command
    /// that fails or is interrupted ends the cell, as an exception ends a Python cell. Returns
    /// whether the cell failed.
    func execute(_ request: KernelMessage) -> Bool {
        let code = request.content["code"] as? String ?? ""
        let silent = request.content["silent"] as? Bool ?? false
        let storeHistory = (request.content["store_history"] as? Bool ?? true) && !silent
        if storeHistory { executionCount += 1 }
        if !silent { publish("execute_input", ["code": code, "execution_count": executionCount], parent: request) }

        Interrupt.clear()
        setRunning(silent ? nil : request)
        defer { setRunning(nil) }
        session.journal.beginCell()
        var failure: (ename: String, evalue: String, traceback: [String])?
        var payload: [[String: Any]] = []
        var assembler = LineAssembler()
        for line in Script.lines(code) {
            // Blank lines, comments and recorded `#>` lines pasted from a script are not commands.
            if !assembler.isPending && Script.isBlankOrComment(line) { continue }
            guard let text = assembler.feed(line) else { continue }
            if Interrupt.requested {  // between two commands of the cell
                failure = ("Interrupted", "interrupted", ["interrupted"])
                break
            }
            let ex = session.execute(text)
            let errorOutput = silent ? nil : publishOutputs(ex, parent: request)
            if ex.quit { payload.append(["source": "ask_exit", "keepkernel": false]) }
            if ex.status == .failed || ex.status == .interrupted {
                failure = errorOutput ?? (ex.status == .interrupted ? ("Interrupted", "interrupted", ["interrupted"])
                                                                    : ("Error", ex.error ?? "failed", ["error: " + (ex.error ?? "failed")]))
                break
            }
        }
        if failure == nil, assembler.isPending, case .incomplete(let reason) = Lexer.split(assembler.reset()) {
            let message = "the cell ends inside a command: \(reason)"
            failure = ("Error", message, ["error: " + message])
            if !silent { publish("error", ["ename": "Error", "evalue": message, "traceback": ["error: " + message]], parent: request) }
        }
        if let failure {
            reply(request, content: ["status": "error", "execution_count": executionCount, "ename": failure.ename,
                                     "evalue": failure.evalue, "traceback": failure.traceback])
            return true
        }
        reply(request, content: ["status": "ok", "execution_count": executionCount, "user_expressions": [String: Any](), "payload": payload])
        return false
    }

    /// Publishes what a command produced, in the format notebook export writes and `mstar run
    /// NOTEBOOK.ipynb --verify` reads back (`NotebookOutput`): text as stdout streams, timings and
    /// figures as display data carrying their recorded lines, a failure as an error. A plot's
    /// text rendering is its image's text/plain. Returns the error output, if any.
    private func publishOutputs(_ ex: Execution, parent: KernelMessage) -> (ename: String, evalue: String, traceback: [String])? {
        var plotText: [String: String] = [:]
        var displays: [String] = []
        var lastImage: String?
        for item in ex.output.items {
            switch item {
            case .image(let path, _): lastImage = path
            case .display(let text):
                if let p = lastImage, plotText[p] == nil { plotText[p] = text } else { displays.append(text) }
            default: break
            }
        }
        // A table with an HTML rendering (dynamics, show settings) is one display: the table as
        // text/html, the recorded text as text/plain and as the lines a replay compares.
        if let html = ex.output.html, ex.status == .completed, ex.output.items.allSatisfy({ if case .text = $0 { true } else { false } }) {
            let lines = ex.recordedLines
            publish("display_data", ["data": ["text/html": html, "text/plain": lines.map(\.text).joined(separator: "\n")],
                                     "metadata": [NotebookOutput.metadataKey: ["recorded": lines.map(\.raw)]], "transient": [String: Any]()],
                    parent: parent)
            return nil
        }
        var failure: (String, String, [String])?
        for output in NotebookOutput.outputs(for: ex.recordedLines, runDirectory: session.runDirectory, plotText: plotText) {
            switch output["output_type"] as? String {
            case "stream":
                let text = (output["text"] as? String) ?? (output["text"] as? [String])?.joined() ?? ""
                publish("stream", ["name": output["name"] as? String ?? "stdout", "text": text], parent: parent)
            case "display_data":
                publish("display_data", ["data": output["data"] ?? [String: Any](), "metadata": output["metadata"] ?? [String: Any](),
                                         "transient": [String: Any]()], parent: parent)
            case "error":
                let e = (output["ename"] as? String ?? "Error", output["evalue"] as? String ?? "", output["traceback"] as? [String] ?? [])
                failure = e
                publish("error", ["ename": e.0, "evalue": e.1, "traceback": e.2], parent: parent)
            default: break
            }
        }
        for text in displays {
            publish("display_data", ["data": ["text/plain": text], "metadata": [NotebookOutput.metadataKey: ["recorded": [String]()]], "transient": [String: Any]()],
                    parent: parent)
        }
        return failure
    }
}
