import CostModel

/// Everything a strategy counts, with the spelling docs/strategies.md, the tables and the JSON use.
public enum TrapCause: String, Sendable, CaseIterable, Codable, CustomStringConvertible, Comparable {
    // INT3-patched instructions (sbe; syscall/far/sensitive/page_cross also in pagefault-*).
    case call, jcc, jmp, ret
    case jmpInd = "jmp_ind"
    case callInd = "call_ind"
    case syscall, far, sensitive
    case pageCross = "page_cross"
    // Page-fault translation.
    case pfExec = "pf_exec"
    case int3Fill = "int3_fill"
    case pfWrite = "pf_write"
    case pfData = "pf_data"
    case dataMap = "data_map"
    case escapes
    // Binary translation.
    case dispatch
    case dispatchSyscall = "dispatch_syscall"
    case dispatchFar = "dispatch_far"
    case link
    case ibtcHit = "ibtc_hit"
    case rasHit = "ras_hit"
    /// dbt-qemu: an exit resolved by lookup_and_goto_ptr's hash probe in the code cache (not a monitor entry).
    case tbLookup = "tb_lookup"
    case flush
    // Hardware assist.
    case vmexit
    // System traces (docs/strategies.md, "System traces").
    /// A privileged instruction of guest kernel code run deprivileged (#GP, emulated by the monitor).
    case privileged
    /// A privileged instruction of kernel code that a binary translator emitted as a call into the monitor.
    case privCallout = "priv_callout"
    case reflectInterrupt = "reflect_interrupt"
    case reflectException = "reflect_exception"
    case reflectSyscall = "reflect_syscall"
    /// A guest page fault under software shadow page tables (a true fault, reflected to the guest).
    case shadowPF = "shadow_pf"
    /// A store to a write-protected guest page-table page (software shadow page tables).
    case ptStore = "pt_store"
    case vmexitPF = "vmexit_pf"
    case vmexitPTStore = "vmexit_pt_store"
    case vmexitCR3 = "vmexit_cr3"
    case vmexitInvlpg = "vmexit_invlpg"
    case vmexitIO = "vmexit_io"
    case vmexitHLT = "vmexit_hlt"
    case vmexitInterrupt = "vmexit_intr"
    case vmexitMSR = "vmexit_msr"
    /// A guest page fault's two-dimensional (nested) page walk under hw-ept; not an exit.
    case eptWalk = "ept_walk"

    public var description: String { rawValue }

    /// The one cost key a count of this cause is charged at, or nil when it costs nothing by itself
    /// (escapes are a hole, not a trap; a flush's cost is the re-translation, charged per instruction).
    public var costKey: CostKey? {
        switch self {
        case .call, .jcc, .jmp, .ret, .jmpInd, .callInd, .syscall, .far, .sensitive, .pageCross:
            .trapInt3
        case .int3Fill: .trapInt3Fill
        case .pfExec, .dataMap: .trapPF
        case .pfWrite: .trapWP
        case .pfData: .emulateData
        case .dispatch, .dispatchSyscall, .dispatchFar: .dispatch
        case .link: .link
        case .ibtcHit: .ibtcHit
        case .rasHit: .rasHit
        case .tbLookup: .tbLookup
        case .vmexit, .vmexitInvlpg, .vmexitMSR: .vmexit
        case .privileged: .trapPrivileged
        case .privCallout: .btPrivilegedCallout
        case .reflectInterrupt: .reflectInterrupt
        case .reflectException: .reflectException
        case .reflectSyscall: .reflectSyscall
        case .shadowPF: .shadowPF
        case .ptStore: .trapPTStore
        case .vmexitPF, .vmexitPTStore: .vmexitPF
        case .vmexitCR3: .vmexitCR3
        case .vmexitIO: .vmexitIO
        case .vmexitHLT: .vmexitHLT
        case .vmexitInterrupt: .vmexitInterrupt
        case .eptWalk: .eptWalk
        case .escapes, .flush: nil
        }
    }

    /// Whether the event is an entry into the monitor (counted in `traps` and traps per 1000 instructions).
    public var isTrap: Bool {
        switch self {
        case .link, .ibtcHit, .rasHit, .tbLookup, .flush, .escapes, .privCallout, .eptWalk: false
        default: true
        }
    }

    /// Whether the site of this cause is the block's last instruction (an exit) rather than its start.
    public var siteIsExit: Bool {
        switch self {
        case .call, .jcc, .jmp, .ret, .jmpInd, .callInd, .syscall, .far, .pageCross,
             .dispatch, .dispatchSyscall, .dispatchFar, .link, .ibtcHit, .rasHit, .tbLookup:
            true
        case .sensitive, .pfExec, .int3Fill, .pfWrite, .pfData, .dataMap, .escapes, .flush, .vmexit,
             .privileged, .privCallout, .reflectInterrupt, .reflectException, .shadowPF, .ptStore, .vmexitPF,
             .vmexitPTStore, .vmexitCR3, .vmexitInvlpg, .vmexitIO, .vmexitHLT, .vmexitInterrupt, .vmexitMSR, .eptWalk:
            false
        case .reflectSyscall:
            true
        }
    }

    /// Order of declaration (tables list causes in this order).
    public var order: Int {
        switch self {
        case .call: 0
        case .jcc: 1
        case .jmp: 2
        case .ret: 3
        case .jmpInd: 4
        case .callInd: 5
        case .syscall: 6
        case .far: 7
        case .sensitive: 8
        case .pageCross: 9
        case .pfExec: 10
        case .int3Fill: 11
        case .pfWrite: 12
        case .pfData: 13
        case .dataMap: 14
        case .escapes: 15
        case .dispatch: 16
        case .dispatchSyscall: 17
        case .dispatchFar: 18
        case .link: 19
        case .ibtcHit: 20
        case .rasHit: 21
        case .tbLookup: 22
        case .flush: 23
        case .vmexit: 24
        case .privileged: 25
        case .privCallout: 26
        case .reflectInterrupt: 27
        case .reflectException: 28
        case .reflectSyscall: 29
        case .shadowPF: 30
        case .ptStore: 31
        case .vmexitPF: 32
        case .vmexitPTStore: 33
        case .vmexitCR3: 34
        case .vmexitInvlpg: 35
        case .vmexitIO: 36
        case .vmexitHLT: 37
        case .vmexitInterrupt: 38
        case .vmexitMSR: 39
        case .eptWalk: 40
        }
    }
    public static func < (a: TrapCause, b: TrapCause) -> Bool { a.order < b.order }

    /// Every cause at its `order`.
    static let byOrder: [TrapCause] = allCases.sorted()

    /// Hashes the case, not its spelling: counts are kept in `[TrapCause: UInt64]` dictionaries, and a
    /// String-backed enum would otherwise hash its raw string on every lookup.
    public func hash(into hasher: inout Hasher) { hasher.combine(order) }
}

extension TrapCause {
    /// Per-cause counts as the cost formula's events (`CostProfile.cycles`, `breakdown`), in table order,
    /// labelled with the cause; causes that cost nothing by themselves are left out.
    public static func costEvents(_ counts: [(cause: TrapCause, count: UInt64)]) -> [(label: String, key: CostKey, count: UInt64)] {
        counts.sorted { $0.cause < $1.cause }.compactMap { entry in
            entry.cause.costKey.map { (label: entry.cause.rawValue, key: $0, count: entry.count) }
        }
    }
}
