import CostModel
import TraceModel

/// Binary translation, no chaining: every block exit goes through the dispatcher (docs/strategies.md, "dbt-nolink").
public final class BinaryTranslationNoLinkStrategy: ReplayStrategy {
    public static let name = "dbt-nolink"
    public static let summary = "binary translation, no chaining: every block exit goes through the dispatcher"
    public static var parameterNames: [String] { ["page-size", "code-cache"] }
    public static var translator: TranslatorKind { .sameISA }

    private let family: BinaryTranslationFamily
    public init(context: ReplayContext) { family = .join(context, as: .noLink) }
    public func replay(_ chunk: StreamChunk, thread: Int) { family.replay(chunk, thread: thread) }
    public func finish() { family.finish() }
    public func counts() -> StrategyCounts { family.counts(.noLink) }
}
