import TraceModel

/// The proposal with NX: untranslated pages are mapped non-executable (docs/strategies.md, "pagefault-nx").
public final class PageFaultNXStrategy: ReplayStrategy {
    public static let name = "pagefault-nx"
    public static let summary = "page-fault translation with NX: pf_exec on entering untranslated pages, branches native"
    public static var scansPages: Bool { true }

    private var core: PageFaultCore
    public init(context: ReplayContext) { core = PageFaultCore(context: context, mode: .nx) }
    public func replay(_ chunk: StreamChunk, thread: Int) { core.replay(chunk, thread: thread) }
    public func finish() { core.finish() }
    public func counts() -> StrategyCounts { core.counts() }
}
