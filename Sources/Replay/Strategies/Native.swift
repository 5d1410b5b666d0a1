import TraceModel

/// The guest running on the bare machine: nothing traps. Its cycles are the slowdown baseline.
public final class NativeStrategy: ReplayStrategy {
    public static let name = "native"
    public static let summary = "no monitor: nothing traps (the baseline of every slowdown)"

    public init(context: ReplayContext) {}
    public func replay(_ chunk: StreamChunk, thread: Int) {}
    public func finish() {}
    public func counts() -> StrategyCounts { StrategyCounts() }
}
