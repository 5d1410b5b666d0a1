import TraceModel

/// Figures about a trace, as `plexlab info` prints them.
public struct TraceSummary: Sendable, Codable, Equatable {
    public var instructions: UInt64
    public var blocksExecuted: UInt64
    public var distinctBlocks: UInt64
    public var codePages: UInt64
    public var codePageVersions: UInt64
    public var codeWrites: UInt64
    public var syscalls: UInt64
    public var dataTouches: UInt64
    public var threads: UInt64
    public var chunks: UInt64
    public var fileBytes: UInt64
    /// Bytes of the encoded block streams alone.
    public var blockStreamBytes: UInt64
    /// 8 * blockStreamBytes / blocksExecuted.
    public var bitsPerExecutedBlock: Double
}

/// Reads a trace file read-only; streams its chunks in commit order with bounded memory.
public final class TraceReader {
    /// Opens and validates the file; throws a one-line `TraceStoreError` if it is not a readable trace.
    public init(path: String) throws { fatalError("TraceReader: not implemented yet") }

    public var metadata: TraceMetadata { fatalError("not implemented yet") }

    /// Every block definition; index = BlockID.
    public func blockDefinitions() throws -> [BlockDefinition] { fatalError("not implemented yet") }

    /// Every stored code page version.
    public func codePages() throws -> [CodePage] { fatalError("not implemented yet") }

    public func modules() throws -> [ModuleMapping] { fatalError("not implemented yet") }

    public func summary() throws -> TraceSummary { fatalError("not implemented yet") }

    /// Calls `body` with every chunk, decoded, in commit (sequence) order.
    public func forEachChunk(_ body: (StreamChunk) throws -> Void) throws { fatalError("not implemented yet") }
}
