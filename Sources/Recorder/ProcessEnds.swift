import TraceModel

/// How the processes of a recorded tree ended (docs/recorder.md, "Process trees"). The recorder reaps only
/// the process it started; every other process is reaped by its guest parent, whose plugin sends the wait
/// status its wait call returned (REAPED). Those statuses are matched to process images here.
enum ProcessEnds {
    /// The start of the note of a process that called execve of a program the plugin could not follow.
    static let unfollowedExec = "called execve of a program that was not recorded: "
    /// Notes that only say how the recorder failed to see the end: an exact status replaces them.
    static let unseen: Set<String> = [ProcessTree.unknownSignal, "ended (status not seen)",
                                      "ended without the plugin's end record"]

    /// Each pid's reaped statuses, in the order its parents reaped them, go to that pid's process images
    /// that ended (no execve image followed them), in id order: a pid is reused only after it was reaped,
    /// so the n-th end of a pid is its n-th reap. An image whose end is already known (an exit status, a
    /// signal, or a stop at --max-insns) keeps it.
    static func apply(reaped: [Int32: [Int32]], to processes: [TraceProcess]) -> [TraceProcess] {
        var result = processes
        let replaced = Set(processes.compactMap { $0.origin == .exec ? $0.parent : nil })
        for (pid, statuses) in reaped {
            let ends = result.indices.filter { result[$0].pid == pid && !replaced.contains($0) }
            for (index, status) in zip(ends, statuses) {
                guard result[index].exitStatus == nil, result[index].signal == nil,
                      result[index].note != "stopped after --max-insns" else { continue }
                let signal = status & 0x7f
                settle(&result[index], exitStatus: signal == 0 ? (status >> 8) & 0xff : nil, signal: signal == 0 ? nil : signal)
            }
        }
        return result
    }

    /// Gives `process` an exact end and drops the parts of its note that said it was not seen.
    static func settle(_ process: inout TraceProcess, exitStatus: Int32?, signal: Int32?) {
        process.exitStatus = exitStatus
        process.signal = signal
        process.note = process.note.split(separator: ";").map { $0.trimmingPrefix(" ") }
            .filter { !unseen.contains(String($0)) }.joined(separator: "; ")
    }
}
