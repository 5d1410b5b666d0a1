import TraceModel

/// VT-x / AMD-V with nested paging: branches, faults and system calls run in the guest; only cpuid exits.
public final class HardwareAssistStrategy: ReplayStrategy {
    public static let name = "hw"
    public static let summary = "hardware assist with nested paging: only cpuid exits (vmexit)"

    private let core: HardwareExits
    public init(context: ReplayContext) { core = HardwareExits(context: context, family: nil) }
    /// Nothing to follow per block: every execution of a block exits once per cpuid it holds (see `finish`).
    public func replay(_ chunk: StreamChunk, thread: Int) {}
    public func finish() { core.finish() }
    public func counts() -> StrategyCounts { core.counts() }
}

/// The counting of the hardware-assist strategies: cpuid exits per execution, and for hw-shadow and hw-ept
/// on a system trace the exits of their `SystemCharges` family (docs/strategies.md, "System traces").
struct HardwareExits {
    private let table: BlockTable
    private let executions: StateArray<UInt64>
    private let sites: SiteCounters
    private let vmexit: Int
    private let system: SystemCharges

    /// `family` nil: `hw`, which ignores system events (a user-mode view of hardware assist).
    init(context: ReplayContext, family: SystemCharges.Family?) {
        table = context.table
        executions = context.executions
        var causes: [TrapCause] = [.vmexit]
        let facts = family == nil ? nil : context.system
        if let family, facts != nil { causes += SystemCharges.causes(family) }
        sites = SiteCounters(causes: causes, blockCount: context.table.count)
        vmexit = sites.slot(.vmexit)
        system = SystemCharges(family ?? .hardwareNested, system: facts, sites: sites)
    }

    /// Only a system trace's events are followed per chunk; everything else is per execution.
    @inline(__always)
    func replay(_ chunk: StreamChunk) { system.replay(chunk, into: sites) }

    func finish() {
        sites.addPerExecution(executions) { [table, vmexit] block in (vmexit, UInt64(table.cpuid[block])) }
        system.finish(executions, into: sites)
    }

    func counts() -> StrategyCounts {
        system.counts(sites, table: table)
    }
}
