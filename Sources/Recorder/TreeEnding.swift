#if canImport(Glibc)
import Glibc
#endif
import TraceModel
import TraceStore

extension ProcessTree {
    /// Ends the trace of a recorded tree (docs/recorder.md, "How the guest ends"), live or in a pack: the
    /// recorded program's last image gets how the process the recorder waited for ended (`rootPID`,
    /// `termination`), the processes are stored, and the writer is finished (complete) or abandoned
    /// (incomplete). Returns the decision; on `.interruptedBeforeRecording` the caller discards the file.
    func conclude(rootPID: Int32, termination: Termination, interruption: Int32?, maxInstructions: UInt64?,
                  processLimit: Int?) throws -> RecordingEnd {
        applyRootTermination(termination, rootPID: rootPID)
        let root = finalImage(of: rootPID)
        let facts = RecordingEnd.Facts(
            interruption: interruption, blocks: counts.blocks, end: root?.end, maxInstructions: maxInstructions,
            endedInExecve: root?.end == nil && root?.lastSyscall.map { Recorder.isExecve($0, arch: arch) } == true,
            termination: termination, truncatedTail: root?.truncatedTail ?? 0, processLimit: processLimit)
        writer.setProcesses(processes)
        let decided = RecordingEnd.decide(facts)
        switch decided {
        case .interruptedBeforeRecording:
            break
        case .incomplete(let note):
            writer.abandon(note: interruption == nil ? note : note + "; the guest was stopped")
        case .complete(let exitStatus, let signal, let note):
            try writer.finish(exitStatus: exitStatus, signal: signal, note: note)
        }
        return decided
    }
}

extension RecordingEnd {
    /// What the decision writes into the trace's metadata.
    func apply(to metadata: inout TraceMetadata) {
        switch self {
        case .interruptedBeforeRecording:
            break
        case .incomplete(let note):
            metadata.note = note
        case .complete(let exitStatus, let signal, let note):
            metadata.exitStatus = exitStatus
            metadata.signal = signal
            metadata.note = note
            metadata.complete = true
        }
    }
}
