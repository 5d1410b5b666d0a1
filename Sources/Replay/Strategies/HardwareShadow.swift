import TraceModel

/// First-generation VT-x / AMD-V (2005-2006): guest code at native speed, shadow page tables kept by the
/// monitor, so guest page faults, page-table stores, CR3 writes and invlpg exit, as do I/O, hlt, MSR
/// accesses, external interrupts and cpuid (docs/strategies.md, "hw-shadow").
public final class HardwareShadowStrategy: ReplayStrategy {
    public static let name = "hw-shadow"
    public static let summary = "first-generation VT-x with shadow page tables: exits on #PF, page-table stores, CR3, invlpg, I/O, hlt, interrupts, cpuid"

    private let core: HardwareExits
    public init(context: ReplayContext) { core = HardwareExits(context: context, family: .hardwareShadow) }
    public func replay(_ chunk: StreamChunk, thread: Int) { core.replay(chunk) }
    public func finish() { core.finish() }
    public func counts() -> StrategyCounts { core.counts() }
}
