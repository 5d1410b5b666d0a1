/// Value types shared by every PlexLab module: what a trace holds.
///
/// The semantics of these fields are written down in docs/strategies.md and docs/trace-format.md.

/// Dense identifier of a block definition inside one trace (0, 1, 2, ... in first-execution order).
public typealias BlockID = UInt32

/// How a block ends, from decoding its last instruction.
public enum ExitKind: UInt8, Sendable, CaseIterable, Codable, CustomStringConvertible {
    /// No control transfer: the block was split (page end, the engine's size limit, a mid-block entry).
    case split = 0
    /// Conditional branch (also loop/loopcc/jcxz/jecxz/jrcxz).
    case jcc = 1
    /// Direct unconditional jump.
    case jmp = 2
    /// Direct call.
    case call = 3
    /// Indirect jump through a register or memory.
    case jmpInd = 4
    /// Indirect call through a register or memory.
    case callInd = 5
    /// Near return.
    case ret = 6
    /// syscall, sysenter, int n, int3, into.
    case syscall = 7
    /// Far jmp/call/ret, iret.
    case far = 8

    /// The spelling used in docs, JSON and the import format.
    public var description: String {
        switch self {
        case .split: "split"
        case .jcc: "jcc"
        case .jmp: "jmp"
        case .call: "call"
        case .jmpInd: "jmp_ind"
        case .callInd: "call_ind"
        case .ret: "ret"
        case .syscall: "syscall"
        case .far: "far"
        }
    }

    /// Parses the spelling of `description`.
    public init?(name: String) {
        guard let kind = ExitKind.allCases.first(where: { $0.description == name }) else { return nil }
        self = kind
    }

    /// Kinds whose target is encoded in the instruction.
    public var hasStaticTarget: Bool { self == .jcc || self == .jmp || self == .call }
}

/// The guest instruction set a trace was recorded from; it selects the decoder mode.
public enum GuestArch: String, Sendable, Codable, CaseIterable {
    case x86_64
    case i386
}

/// Whether a trace holds one user-mode program (qemu-user, imports) or a whole guest system, kernel and user
/// (qemu-system): docs/trace-format.md, "System traces".
public enum GuestMode: String, Sendable, Codable, CaseIterable {
    case user
    case system
}

/// One block: straight-line code from `address` to its first control transfer or a split.
public struct BlockDefinition: Sendable, Hashable, Codable {
    /// Guest virtual address of the first instruction.
    public var address: UInt64
    /// Length in bytes (the last instruction may straddle into the next page).
    public var length: UInt32
    /// Number of instructions.
    public var instructionCount: UInt32
    /// Version of the code page holding `address` that these bytes were decoded from (0 = first capture).
    public var codeVersion: UInt32
    /// How the block ends.
    public var exitKind: ExitKind
    /// Target of a direct jcc/jmp/call, else nil.
    public var staticTarget: UInt64?
    /// Sensitive instructions in the block other than its final control transfer (cpuid included).
    public var sensitiveCount: UInt16
    /// cpuid instructions in the block (a VM exit under hardware assist).
    public var cpuidCount: UInt16
    /// The block's code bytes.
    public var bytes: [UInt8]
    /// Byte offset of the block's last instruction (the site of its exit), when known: traces of schema
    /// version 2 store it; nil means decode `bytes` to find it.
    public var lastInstructionOffset: UInt32?
    /// x86 privilege level (CPL) the block ran at: 0 kernel, 3 user. Always 3 in a user-mode trace.
    /// Part of the block's identity: the same bytes run at CPL 0 and CPL 3 are two blocks.
    public var privilege: UInt8
    /// Guest physical address of the block's first byte in a system trace (nil in user-mode traces). The
    /// code page a system trace's `codeVersion` refers to is the physical page holding it.
    public var physicalAddress: UInt64?

    public init(address: UInt64, length: UInt32, instructionCount: UInt32, codeVersion: UInt32,
                exitKind: ExitKind, staticTarget: UInt64?, sensitiveCount: UInt16, cpuidCount: UInt16,
                bytes: [UInt8], lastInstructionOffset: UInt32? = nil, privilege: UInt8 = 3,
                physicalAddress: UInt64? = nil) {
        self.privilege = privilege
        self.physicalAddress = physicalAddress
        self.address = address
        self.length = length
        self.instructionCount = instructionCount
        self.codeVersion = codeVersion
        self.exitKind = exitKind
        self.staticTarget = staticTarget
        self.sensitiveCount = sensitiveCount
        self.cpuidCount = cpuidCount
        self.bytes = bytes
        self.lastInstructionOffset = lastInstructionOffset
    }

    /// The address that names the block's code page: its physical address in a system trace, else its
    /// virtual address.
    public var pageAddress: UInt64 { physicalAddress ?? address }

    /// Address of the instruction after the block (the not-taken successor of a jcc, a call's return address).
    public var fallThrough: UInt64 { address &+ UInt64(length) }
}

/// The bytes of one 4096-byte guest page on which code executed, as captured at one moment.
public struct CodePage: Sendable, Hashable {
    /// Page-aligned guest address: virtual in a user-mode trace, physical in a system trace.
    public var address: UInt64
    /// 0 for the first capture, incremented at every capture with different bytes.
    public var version: UInt32
    /// Exactly `CodePage.size` bytes.
    public var bytes: [UInt8]

    public static let size = 4096

    public init(address: UInt64, version: UInt32, bytes: [UInt8]) {
        self.address = address
        self.version = version
        self.bytes = bytes
    }
}

/// A store that hit a page on which code had executed.
public struct CodeWrite: Sendable, Hashable, Codable {
    /// Index, in its thread's block stream, of the block during whose execution the store happened.
    public var eventIndex: UInt64
    /// The stored-to guest address: virtual in a user-mode trace, physical in a system trace.
    public var address: UInt64
    public var size: UInt32
    public init(eventIndex: UInt64, address: UInt64, size: UInt32) {
        self.eventIndex = eventIndex
        self.address = address
        self.size = size
    }
}

/// What happened to a system trace's vCPU besides executing blocks (docs/trace-format.md, "System traces").
public enum SystemEventKind: UInt8, Sendable, CaseIterable, Codable, CustomStringConvertible {
    /// An asynchronous interrupt delivered to the guest (timer, device, IPI); `vector` is its IDT vector.
    case interrupt = 0
    /// A synchronous exception (fault or trap) raised by the guest's own execution; `vector` is its IDT
    /// vector, and for a page fault (vector 14) `address` is the faulting virtual address (CR2).
    case exception = 1
    /// A guest store to a page in use as a page-table page; `address` is the store's guest physical address.
    case pageTableStore = 2

    /// The spelling used in docs, JSON and the import format.
    public var description: String {
        switch self {
        case .interrupt: "interrupt"
        case .exception: "exception"
        case .pageTableStore: "pt_store"
        }
    }

    /// Parses the spelling of `description`.
    public init?(name: String) {
        guard let kind = Self.allCases.first(where: { $0.description == name }) else { return nil }
        self = kind
    }
}

/// An interrupt, exception or page-table store in a system trace. `eventIndex` is the index in the vCPU's
/// block stream of the block that was executing when it happened (for an interrupt, the last block
/// completed before delivery; for an exception, the block whose instruction raised it).
public struct SystemEvent: Sendable, Hashable, Codable {
    public var eventIndex: UInt64
    public var kind: SystemEventKind
    /// IDT vector (interrupt, exception); 0 for a page-table store.
    public var vector: UInt8
    /// CR2 for a page fault, the store's physical address for a page-table store, else 0.
    public var address: UInt64

    /// The x86 page-fault vector (#PF).
    public static let pageFaultVector: UInt8 = 14

    public init(eventIndex: UInt64, kind: SystemEventKind, vector: UInt8 = 0, address: UInt64 = 0) {
        self.eventIndex = eventIndex
        self.kind = kind
        self.vector = vector
        self.address = address
    }

    /// A guest page fault (#PF).
    public var isPageFault: Bool { kind == .exception && vector == Self.pageFaultVector }
}

/// A system call made by the block at `eventIndex`. In a system trace: a guest syscall (the number is RAX
/// at entry), attributed to the user block that made it.
public struct SyscallEvent: Sendable, Hashable, Codable {
    public var eventIndex: UInt64
    public var number: Int64
    public init(eventIndex: UInt64, number: Int64) {
        self.eventIndex = eventIndex
        self.number = number
    }
}

/// Data accesses by the block at `eventIndex` to one page (reads and writes counted separately).
public struct DataTouch: Sendable, Hashable, Codable {
    public var eventIndex: UInt64
    /// Page-aligned (4096) guest address.
    public var page: UInt64
    public var reads: UInt32
    public var writes: UInt32
    public init(eventIndex: UInt64, page: UInt64, reads: UInt32, writes: UInt32) {
        self.eventIndex = eventIndex
        self.page = page
        self.reads = reads
        self.writes = writes
    }
}

/// A file-backed executable mapping in the guest (for symbols).
public struct ModuleMapping: Sendable, Hashable, Codable {
    public var start: UInt64
    public var end: UInt64
    public var fileOffset: UInt64
    public var path: String
    /// The process (`TraceProcess.id`) whose address space holds the mapping; nil = every process (a trace
    /// of schema 1-3, which kept one map for the whole tree, or an import).
    public var process: Int?
    public init(start: UInt64, end: UInt64, fileOffset: UInt64, path: String, process: Int? = nil) {
        self.start = start
        self.end = end
        self.fileOffset = fileOffset
        self.path = path
        self.process = process
    }

    /// Whether the mapping belongs to `process`'s address space (nil: no process asked, every mapping does).
    public func belongs(to process: Int?) -> Bool {
        guard let process, let own = self.process else { return true }
        return own == process
    }
}

/// Who made a trace, from what, and how it ended.
public struct TraceMetadata: Sendable, Hashable, Codable {
    public var program: String
    public var argv: [String]
    public var arch: GuestArch
    /// "qemu-user", "qemu-system", "import", ...
    public var recorder: String
    /// Version of the recording engine (QEMU version, importer format version).
    public var recorderVersion: String
    public var plexlabVersion: String
    public var host: String
    /// ISO 8601.
    public var date: String
    /// Guest exit code, when it exited.
    public var exitStatus: Int32?
    /// Fatal signal, when the guest died of one.
    public var signal: Int32?
    /// False until the writer finishes; a crash or Ctrl-C leaves it false.
    public var complete: Bool
    /// Free text: why recording stopped (--max-insns, SIGINT, ...).
    public var note: String
    /// Whether data-page touches were recorded.
    public var hasDataTouches: Bool
    /// A user-mode program, or a whole guest system (kernel and user blocks, system events).
    public var guestMode: GuestMode

    public init(program: String, argv: [String], arch: GuestArch, recorder: String, recorderVersion: String,
                plexlabVersion: String = PlexLabVersion.string, host: String, date: String,
                exitStatus: Int32? = nil, signal: Int32? = nil, complete: Bool = false, note: String = "",
                hasDataTouches: Bool = false, guestMode: GuestMode = .user) {
        self.guestMode = guestMode
        self.program = program
        self.argv = argv
        self.arch = arch
        self.recorder = recorder
        self.recorderVersion = recorderVersion
        self.plexlabVersion = plexlabVersion
        self.host = host
        self.date = date
        self.exitStatus = exitStatus
        self.signal = signal
        self.complete = complete
        self.note = note
        self.hasDataTouches = hasDataTouches
    }
}

/// One thread's events between two chunk boundaries, decoded.
public struct StreamChunk: Sendable, Equatable {
    /// Global commit order across all threads (replay processes chunks in this order).
    public var sequence: UInt64
    /// Guest thread (QEMU vCPU index in user mode).
    public var thread: UInt32
    /// Event index of `blocks[0]` in this thread's stream.
    public var firstEventIndex: UInt64
    /// Executed blocks, in order.
    public var blocks: [BlockID]
    /// Side events of this chunk, sorted by event index; indices lie in firstEventIndex ..< firstEventIndex + blocks.count.
    public var codeWrites: [CodeWrite]
    public var syscalls: [SyscallEvent]
    public var dataTouches: [DataTouch]
    /// Interrupts, exceptions and page-table stores (system traces only).
    public var systemEvents: [SystemEvent]
    /// Data touches the chunk holds but the reader was asked not to decode (`dataTouches` is then empty of
    /// them): the count, so summaries stay whole.
    public var undecodedDataTouches: UInt64 = 0
    /// Every data touch of the chunk, decoded or not.
    public var dataTouchCount: UInt64 { UInt64(dataTouches.count) &+ undecodedDataTouches }
    /// The thread's last chunk, when the source knows it (a trace file does): per-thread state that only
    /// its later chunks would use can go after it.
    public var endsThread: Bool

    public init(sequence: UInt64, thread: UInt32, firstEventIndex: UInt64, blocks: [BlockID],
                codeWrites: [CodeWrite] = [], syscalls: [SyscallEvent] = [], dataTouches: [DataTouch] = [],
                systemEvents: [SystemEvent] = [], endsThread: Bool = false) {
        self.systemEvents = systemEvents
        self.endsThread = endsThread
        self.sequence = sequence
        self.thread = thread
        self.firstEventIndex = firstEventIndex
        self.blocks = blocks
        self.codeWrites = codeWrites
        self.syscalls = syscalls
        self.dataTouches = dataTouches
    }
}

/// PlexLab's own version, stored in every trace and report.
public enum PlexLabVersion {
    public static let string = "0.1.0"
}
