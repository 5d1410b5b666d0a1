/// One process of a recorded process tree (docs/trace-format.md, table `processes`): a program image from
/// its start (the recorded program, a fork, or an execve) to its end. An execve ends one image and starts
/// another with the same pid.
public struct TraceProcess: Sendable, Equatable, Codable {
    /// How the process image began.
    public enum Origin: String, Sendable, Codable {
        /// The program `plexlab record` started.
        case start
        /// A fork (or vfork, or clone without CLONE_VM) of `parent`.
        case fork
        /// `parent` called execve: the same pid runs a new program from a fresh address space.
        case exec
    }

    /// Where in its parent a forked child began: the forking thread and the number of blocks that thread
    /// had executed (the child's first thread continues from there).
    public struct ForkPoint: Sendable, Equatable, Codable {
        public var thread: UInt32
        public var eventIndex: UInt64
        public init(thread: UInt32, eventIndex: UInt64) {
            self.thread = thread
            self.eventIndex = eventIndex
        }
    }

    /// Dense, 0 for the recorded program, in order of appearance.
    public var id: Int
    public var pid: Int32
    /// The process (image) that forked this one or called execve to start it; nil for the first.
    public var parent: Int?
    public var origin: Origin
    public var program: String
    public var argv: [String]
    /// The trace's thread ids of this process.
    public var threads: [UInt32]
    public var exitStatus: Int32?
    public var signal: Int32?
    /// How it ended when not by an exit status or signal ("called execve", "killed at --max-processes", ...).
    public var note: String
    public var forkPoint: ForkPoint?

    public init(id: Int, pid: Int32, parent: Int?, origin: Origin, program: String, argv: [String],
                threads: [UInt32] = [], exitStatus: Int32? = nil, signal: Int32? = nil, note: String = "",
                forkPoint: ForkPoint? = nil) {
        self.id = id
        self.pid = pid
        self.parent = parent
        self.origin = origin
        self.program = program
        self.argv = argv
        self.threads = threads
        self.exitStatus = exitStatus
        self.signal = signal
        self.note = note
        self.forkPoint = forkPoint
    }

    /// "exit 0", "signal 9", or the note; a note beside a status follows it in parentheses
    /// ("exit 5 (not recorded: i386 code in an x86_64 trace)").
    public var endDescription: String {
        let status = exitStatus.map { "exit \($0)" } ?? signal.map { "signal \($0)" }
        guard let status else { return note.isEmpty ? "unknown" : note }
        return note.isEmpty ? status : "\(status) (\(note))"
    }
}
