import TraceModel

/// Binary translation with block chaining: direct exits dispatch once per edge, then are linked (docs/strategies.md, "dbt-link").
public final class BinaryTranslationLinkStrategy: ReplayStrategy {
    public static let name = "dbt-link"
    public static let summary = "binary translation with block chaining: direct exits dispatch once per edge, then are linked"
    public static var parameterNames: [String] { ["page-size", "code-cache"] }

    private var core: BinaryTranslationCore
    public init(context: ReplayContext) { core = BinaryTranslationCore(context: context, mode: .link) }
    public func replay(_ chunk: StreamChunk, thread: Int) { core.replay(chunk, thread: thread) }
    public func finish() { core.finish() }
    public func counts() -> StrategyCounts { core.counts() }
}
