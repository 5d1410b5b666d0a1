#if canImport(Glibc)
import Glibc
#endif

/// What the end of a recording means for its trace (docs/recorder.md, "How the guest ends"): the one
/// decision `Recorder.record` acts on, a pure function of what was seen, so every row of that table is a test.
enum RecordingEnd: Equatable {
    /// Ctrl-C or SIGTERM before any block was recorded: nothing is kept, the old file stays.
    case interruptedBeforeRecording(signal: Int32)
    /// Kept, marked incomplete (readable up to the last committed chunk).
    case incomplete(note: String)
    /// Kept, complete, with how the recorded program ended.
    case complete(exitStatus: Int32?, signal: Int32?, note: String)

    /// What the recorder saw by the end.
    struct Facts: Equatable {
        /// SIGINT/SIGTERM that stopped the recording.
        var interruption: Int32?
        /// Blocks recorded in all processes.
        var blocks: UInt64
        /// The END record of the recorded program's last image (its pid's last stream), if it sent one.
        var end: PluginRecord.End?
        var maxInstructions: UInt64?
        /// That stream's last system call was execve (or execveat) and the new program was not followed.
        var endedInExecve: Bool
        /// How the process the recorder started ended (waitpid).
        var termination: Termination
        /// Bytes of a partial record at the end of that stream.
        var truncatedTail: Int
        /// Set to --max-processes when the tree went beyond it and was killed.
        var processLimit: Int?
    }

    static func decide(_ f: Facts) -> RecordingEnd {
        let (status, signal): (Int32?, Int32?) = switch f.termination {
        case .exited(let code): (code, nil)
        case .signaled(let number): (nil, number)
        }
        if let interruption = f.interruption {
            if f.blocks == 0 { return .interruptedBeforeRecording(signal: interruption) }
            return .incomplete(note: "interrupted by \(Recorder.signalName(interruption))")
        }
        if let limit = f.processLimit {
            return .complete(exitStatus: nil, signal: nil,
                             note: "stopped at --max-processes \(limit): the process tree was killed")
        }
        if let end = f.end {
            if end.stoppedAtMaxInstructions {
                return .complete(exitStatus: nil, signal: nil,
                                 note: "stopped after --max-insns \(f.maxInstructions ?? 0); the guest was ended")
            }
            return .complete(exitStatus: status, signal: signal, note: "")
        }
        if f.endedInExecve {
            return .complete(exitStatus: status, signal: signal,
                             note: "the guest called execve; the program it started was not recorded")
        }
        if case .signaled(let number) = f.termination, number != SIGKILL, f.truncatedTail == 0 {
            // QEMU kills itself without the plugin's exit callback, but the plugin sent everything first.
            return .complete(exitStatus: nil, signal: number, note: "")
        }
        return .incomplete(note: "qemu-user \(f.termination.description) without the plugin's end record")
    }
}
