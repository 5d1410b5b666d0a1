import TraceModel

/// VT-x / AMD-V with nested paging (EPT / NPT): the guest owns its page tables, so page faults, CR3 writes
/// and invlpg do not exit; I/O, hlt, MSR accesses, external interrupts and cpuid still do, and each guest
/// page fault pays a two-dimensional page walk (docs/strategies.md, "hw-ept").
public final class HardwareNestedStrategy: ReplayStrategy {
    public static let name = "hw-ept"
    public static let summary = "VT-x with nested paging (EPT): exits on I/O, hlt, MSRs, interrupts, cpuid; 2-D page walks"

    private let core: HardwareExits
    public init(context: ReplayContext) { core = HardwareExits(context: context, family: .hardwareNested) }
    public func replay(_ chunk: StreamChunk, thread: Int) { core.replay(chunk) }
    public func finish() { core.finish() }
    public func counts() -> StrategyCounts { core.counts() }
}
