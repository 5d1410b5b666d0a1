import TraceModel

/// VT-x / AMD-V with nested paging: branches, faults and system calls run in the guest; only cpuid exits.
public final class HardwareAssistStrategy: ReplayStrategy {
    public static let name = "hw"
    public static let summary = "hardware assist with nested paging: only cpuid exits (vmexit)"

    private let table: BlockTable
    private let executions: StateArray<UInt64>
    private var sites: SiteCounters
    private let vmexit: Int

    public init(context: ReplayContext) {
        table = context.table
        executions = context.executions
        sites = SiteCounters(causes: [.vmexit], blockCount: context.table.count)
        vmexit = sites.slot(.vmexit)
    }

    /// Nothing to follow per block: every execution of a block exits once per cpuid it holds (see `finish`).
    public func replay(_ chunk: StreamChunk, thread: Int) {}

    public func finish() {
        sites.addPerExecution(executions) { [table, vmexit] block in (vmexit, UInt64(table.cpuid[block])) }
    }

    public func counts() -> StrategyCounts {
        var result = StrategyCounts()
        sites.summarize(into: &result, table: table)
        return result
    }
}
