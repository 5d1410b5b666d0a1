import TraceModel

/// The proposal on IA-32 of 2000, without NX: untranslated pages must be not-present, so data accesses to
/// them fault too (policy not-present), or data pages are mapped and code on them escapes (policy map-data).
public final class PageFaultLegacyStrategy: ReplayStrategy {
    public static let name = "pagefault-legacy"
    public static let summary = "page-fault translation without NX: also pf_data (not-present) or data_map/escapes (map-data)"
    public static var scansPages: Bool { true }
    public static var needsDataTouches: Bool { true }
    public static var parameterNames: [String] { ["page-size", "legacy-policy"] }

    private var core: PageFaultCore
    public init(context: ReplayContext) {
        core = PageFaultCore(context: context,
                             mode: context.parameters.legacyPolicy == .mapData ? .legacyMapData : .legacyNotPresent)
    }
    public func replay(_ chunk: StreamChunk, thread: Int) { core.replay(chunk, thread: thread) }
    public func finish() { core.finish() }
    public func counts() -> StrategyCounts { core.counts() }
}
