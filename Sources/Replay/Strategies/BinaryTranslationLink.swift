import CostModel
import TraceModel

/// Binary translation with block chaining: direct exits dispatch once per edge, then are linked (docs/strategies.md, "dbt-link").
public final class BinaryTranslationLinkStrategy: ReplayStrategy {
    public static let name = "dbt-link"
    public static let summary = "binary translation with block chaining: direct exits dispatch once per edge, then are linked"
    public static var parameterNames: [String] { ["page-size", "code-cache"] }
    public static var translator: TranslatorKind { .sameISA }

    private let family: BinaryTranslationFamily
    public init(context: ReplayContext) { family = .join(context, as: .link) }
    public func replay(_ chunk: StreamChunk, thread: Int) { family.replay(chunk, thread: thread) }
    public func finish() { family.finish() }
    public func counts() -> StrategyCounts { family.counts(.link) }
}
