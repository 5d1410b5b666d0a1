import CostModel
import TraceModel

/// Dbt-link plus an indirect-branch translation cache and a per-thread return-address stack (docs/strategies.md, "dbt-ibtc").
public final class BinaryTranslationIBTCStrategy: ReplayStrategy {
    public static let name = "dbt-ibtc"
    public static let summary = "dbt-link plus an indirect-branch translation cache and a per-thread return-address stack"
    public static var parameterNames: [String] { ["page-size", "code-cache", "ibtc-size", "ras-depth"] }
    public static var translator: TranslatorKind { .sameISA }

    private let family: BinaryTranslationFamily
    public init(context: ReplayContext) { family = .join(context, as: .ibtc) }
    public func replay(_ chunk: StreamChunk, thread: Int) { family.replay(chunk, thread: thread) }
    public func finish() { family.finish() }
    public func counts() -> StrategyCounts { family.counts(.ibtc) }
}
