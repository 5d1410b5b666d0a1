import TraceModel
import X86Decode

/// Per-block facts of a system trace that strategies charge per execution, decoded once per replay from the
/// blocks' bytes (docs/strategies.md, "System traces"). A user-mode trace has none (`ReplayContext.system`
/// is nil), so user-mode replays do no per-block work for them.
public struct SystemFacts: Sendable {
    /// CPL of each block (0 kernel, 3 user).
    public let privilege: [UInt8]
    /// Per block: privileged instructions (`PrivilegedCounts.privileged`) of a kernel block (CPL < 3);
    /// 0 for user blocks, whose privileged instructions fault in the guest itself (an exception event).
    public let privileged: [UInt16]
    public let cr3Writes: [UInt16]
    public let invlpg: [UInt16]
    public let io: [UInt16]
    public let hlt: [UInt16]
    public let msr: [UInt16]
    /// Per block: a user block (CPL 3) whose exit is syscall-class: its exit is a guest syscall.
    public let userSyscallExit: [Bool]

    public init(definitions: [BlockDefinition], arch: GuestArch) {
        let decoder = X86Decoder(arch: arch)
        let count = definitions.count
        var privilege = [UInt8](repeating: 3, count: count)
        var privileged = [UInt16](repeating: 0, count: count), cr3Writes = privileged, invlpg = privileged
        var io = privileged, hlt = privileged, msr = privileged
        var userSyscallExit = [Bool](repeating: false, count: count)
        for (id, block) in definitions.enumerated() {
            privilege[id] = block.privilege
            guard block.privilege < 3 else {
                userSyscallExit[id] = block.exitKind == .syscall
                continue
            }
            let counts = block.bytes.withUnsafeBytes {
                decoder.privilegedCounts($0, at: block.address, instructionCount: Int(block.instructionCount))
            }
            privileged[id] = UInt16(clamping: counts.privileged)
            cr3Writes[id] = UInt16(clamping: counts.cr3Writes)
            invlpg[id] = UInt16(clamping: counts.invlpg)
            io[id] = UInt16(clamping: counts.io)
            hlt[id] = UInt16(clamping: counts.hlt)
            msr[id] = UInt16(clamping: counts.msr)
        }
        self.privilege = privilege
        self.privileged = privileged
        self.cr3Writes = cr3Writes
        self.invlpg = invlpg
        self.io = io
        self.hlt = hlt
        self.msr = msr
        self.userSyscallExit = userSyscallExit
    }

    /// Whether the block ran at CPL 0-2 (guest kernel code).
    @inline(__always)
    public func isKernel(_ block: Int) -> Bool { privilege[block] < 3 }
}

/// What a strategy family charges for a system trace beyond its user-mode rules (docs/strategies.md,
/// "System traces"): per execution of a kernel block, its privileged instructions (or the classes hardware
/// exits on), and per system event, its reflection or exit. The causes join a strategy's list only for a
/// system trace, so a user-mode replay's counters and loops are exactly what they were.
struct SystemCharges {
    enum Family {
        /// sbe, pagefault-*: guest kernel code deprivileged in ring 3, shadow page tables.
        case softwareTrap
        /// dbt-*: kernel code translated, privileged instructions as callouts, shadow page tables.
        case binaryTranslation
        /// hw-shadow: first-generation VT-x / AMD-V, shadow page tables.
        case hardwareShadow
        /// hw-ept: VT-x / AMD-V with nested paging.
        case hardwareNested
    }

    /// The causes `family` adds for a system trace, in table order.
    static func causes(_ family: Family) -> [TrapCause] {
        switch family {
        case .softwareTrap: [.privileged, .reflectInterrupt, .reflectException, .reflectSyscall, .shadowPF, .ptStore]
        case .binaryTranslation: [.privCallout, .reflectInterrupt, .reflectException, .shadowPF, .ptStore]
        case .hardwareShadow: [.vmexitPF, .vmexitPTStore, .vmexitCR3, .vmexitInvlpg, .vmexitIO, .vmexitHLT,
                               .vmexitInterrupt, .vmexitMSR]
        case .hardwareNested: [.vmexitIO, .vmexitHLT, .vmexitInterrupt, .vmexitMSR, .eptWalk]
        }
    }

    let system: SystemFacts?
    private var interrupt = -1, exception = -1, pageFault = -1, pageTableStore = -1, pageFaultWalk = -1
    /// Per-execution charges of kernel blocks: a slot and the per-block count it takes.
    private var perExecution: [(slot: Int, counts: [UInt16])] = []

    /// `sites` must count `causes(family)` when `system` is not nil.
    init(_ family: Family, system: SystemFacts?, sites: SiteCounters) {
        self.system = system
        guard let system else { return }
        switch family {
        case .softwareTrap, .binaryTranslation:
            interrupt = sites.slot(.reflectInterrupt)
            exception = sites.slot(.reflectException)
            pageFault = sites.slot(.shadowPF)
            pageTableStore = sites.slot(.ptStore)
            perExecution = [(sites.slot(family == .softwareTrap ? .privileged : .privCallout), system.privileged)]
        case .hardwareShadow:
            interrupt = sites.slot(.vmexitInterrupt)
            pageFault = sites.slot(.vmexitPF)
            pageTableStore = sites.slot(.vmexitPTStore)
            perExecution = [(sites.slot(.vmexitCR3), system.cr3Writes), (sites.slot(.vmexitInvlpg), system.invlpg),
                            (sites.slot(.vmexitIO), system.io), (sites.slot(.vmexitHLT), system.hlt),
                            (sites.slot(.vmexitMSR), system.msr)]
        case .hardwareNested:
            interrupt = sites.slot(.vmexitInterrupt)
            pageFaultWalk = sites.slot(.eptWalk)
            perExecution = [(sites.slot(.vmexitIO), system.io), (sites.slot(.vmexitHLT), system.hlt),
                            (sites.slot(.vmexitMSR), system.msr)]
        }
    }

    /// Counts the chunk's system events at the blocks they name (their sites are those blocks' starts).
    @inline(__always)
    func replay(_ chunk: StreamChunk, into sites: SiteCounters) {
        guard system != nil, !chunk.systemEvents.isEmpty else { return }
        for event in chunk.systemEvents {
            let at = chunk.position(ofEvent: event.eventIndex)
            guard at < chunk.blocks.count else { continue }
            let block = chunk.blocks[at]
            switch event.kind {
            case .interrupt: if interrupt >= 0 { sites.add(block, interrupt) }
            case .pageTableStore: if pageTableStore >= 0 { sites.add(block, pageTableStore) }
            case .exception where event.isPageFault:
                if pageFault >= 0 { sites.add(block, pageFault) }
                if pageFaultWalk >= 0 { sites.add(block, pageFaultWalk) }
            case .exception: if exception >= 0 { sites.add(block, exception) }
            }
        }
    }

    /// A software monitor's exit trap for `block` in a system trace: a user block's syscall-class exit is a
    /// guest syscall, reflected into the guest kernel (`reflect_syscall`); every other cause is unchanged.
    static func exitCause(_ cause: TrapCause, _ block: Int, _ system: SystemFacts?) -> TrapCause {
        guard cause == .syscall, let system, system.userSyscallExit[block] else { return cause }
        return .reflectSyscall
    }

    /// The strategy's counts from `sites`, with the kernel side of a system trace's split.
    func counts(_ sites: SiteCounters, table: BlockTable) -> StrategyCounts {
        var result = StrategyCounts()
        sites.summarize(into: &result, table: table)
        if let system { result.kernelCounts = sites.kernelTotals(system) }
        return result
    }

    /// End of trace: each kernel block's per-execution charges times its executions.
    func finish(_ executions: StateArray<UInt64>, into sites: SiteCounters) {
        for (slot, counts) in perExecution {
            sites.addPerExecution(executions) { block in (slot, UInt64(counts[block])) }
        }
    }
}

extension SiteCounters {
    /// The counts of kernel blocks (CPL < 3), by cause: the kernel side of a system trace's split.
    func kernelTotals(_ system: SystemFacts) -> [TrapCause: UInt64] {
        var totals = [UInt64](repeating: 0, count: width)
        for block in 0..<system.privilege.count where system.isKernel(block) {
            for slot in 0..<width { totals[slot] &+= counts[block &* width &+ slot] }
        }
        var result: [TrapCause: UInt64] = [:]
        for (slot, cause) in causes.enumerated() where totals[slot] != 0 { result[cause] = totals[slot] }
        return result
    }
}
