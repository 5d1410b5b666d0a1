import TraceModel

/// Binary translation, no chaining: every block exit goes through the dispatcher (docs/strategies.md, "dbt-nolink").
public final class BinaryTranslationNoLinkStrategy: ReplayStrategy {
    public static let name = "dbt-nolink"
    public static let summary = "binary translation, no chaining: every block exit goes through the dispatcher"
    public static var parameterNames: [String] { ["page-size", "code-cache"] }

    private var core: BinaryTranslationCore
    public init(context: ReplayContext) { core = BinaryTranslationCore(context: context, mode: .noLink) }
    public func replay(_ chunk: StreamChunk, thread: Int) { core.replay(chunk, thread: thread) }
    public func finish() { core.finish() }
    public func counts() -> StrategyCounts { core.counts() }
}
