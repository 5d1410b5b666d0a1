import TraceModel

/// VT-x / AMD-V with nested paging: branches, faults and system calls run in the guest; only cpuid exits.
public final class HardwareAssistStrategy: ReplayStrategy {
    public static let name = "hw"
    public static let summary = "hardware assist with nested paging: only cpuid exits (vmexit)"

    private let table: BlockTable
    private var sites: SiteCounters
    private let vmexit: Int

    public init(context: ReplayContext) {
        table = context.table
        sites = SiteCounters(causes: [.vmexit], blockCount: context.table.count)
        vmexit = sites.slot(.vmexit)
    }

    public func replay(_ chunk: StreamChunk, thread: Int) {
        table.cpuid.withUnsafeBufferPointer { cpuid in
            for block in chunk.blocks {
                let exits = cpuid[Int(block)]
                if exits != 0 { sites.add(block, vmexit, UInt64(exits)) }
            }
        }
    }

    public func finish() {}

    public func counts() -> StrategyCounts {
        var result = StrategyCounts()
        sites.summarize(into: &result, table: table)
        return result
    }
}
