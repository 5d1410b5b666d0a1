import TraceModel

/// Dbt-link plus an indirect-branch translation cache and a per-thread return-address stack (docs/strategies.md, "dbt-ibtc").
public final class BinaryTranslationIBTCStrategy: ReplayStrategy {
    public static let name = "dbt-ibtc"
    public static let summary = "dbt-link plus an indirect-branch translation cache and a per-thread return-address stack"
    public static var parameterNames: [String] { ["page-size", "code-cache", "ibtc-size", "ras-depth"] }

    private var core: BinaryTranslationCore
    public init(context: ReplayContext) { core = BinaryTranslationCore(context: context, mode: .ibtc) }
    public func replay(_ chunk: StreamChunk, thread: Int) { core.replay(chunk, thread: thread) }
    public func finish() { core.finish() }
    public func counts() -> StrategyCounts { core.counts() }
}
