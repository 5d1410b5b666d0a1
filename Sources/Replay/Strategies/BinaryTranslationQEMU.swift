import CostModel
import TraceModel

/// QEMU TCG's chaining rule: direct exits within the page of the block's first byte are chained (goto_tb),
/// the others and indirect exits go through a TB lookup, and only an untranslated target enters the
/// dispatcher (docs/strategies.md, "dbt-qemu").
public final class BinaryTranslationQEMUStrategy: ReplayStrategy {
    public static let name = "dbt-qemu"
    public static let summary = "QEMU TCG: direct exits chained within a 4 KiB page only, other exits through a TB lookup (hash probe), the dispatcher on a miss"
    public static var parameterNames: [String] { ["page-size", "code-cache"] }
    public static var translator: TranslatorKind { .crossISA }

    private let family: BinaryTranslationFamily
    public init(context: ReplayContext) { family = .join(context, as: .qemu) }
    public func replay(_ chunk: StreamChunk, thread: Int) { family.replay(chunk, thread: thread) }
    public func finish() { family.finish() }
    public func counts() -> StrategyCounts { family.counts(.qemu) }
}
