import TraceModel
import TraceStore

/// Where the engine reads a trace from: a trace file or a trace built in memory (tests, tools).
public protocol ReplaySource {
    var metadata: TraceMetadata { get }
    /// Every block definition; index = BlockID. `includingBytes` false: a definition that knows its
    /// `lastInstructionOffset` may come without its bytes (the replay needs them only to find that offset).
    func blockDefinitions(includingBytes: Bool) throws -> [BlockDefinition]
    /// Every stored code page version.
    func codePages() throws -> [CodePage]
    /// Calls `body` with every chunk in commit (sequence) order. `dataTouches` false: the source may leave
    /// the touches out of `dataTouches` and count them in `undecodedDataTouches` (none of the replay's
    /// strategies reads them).
    func forEachChunk(dataTouches: Bool, _ body: (StreamChunk) throws -> Void) throws
    /// The recorded process tree (docs/trace-format.md); empty or one process: replayed as one.
    func processes() throws -> [TraceProcess]
}

extension ReplaySource {
    public func processes() throws -> [TraceProcess] { [] }
}

extension TraceReader: ReplaySource {}

/// A whole trace held in memory.
public struct InMemoryTrace: ReplaySource, Sendable {
    public var metadata: TraceMetadata
    public var definitions: [BlockDefinition]
    public var pages: [CodePage]
    /// Replayed in `sequence` order.
    public var chunks: [StreamChunk]
    /// A process tree (threads of each process); empty: one process.
    public var processList: [TraceProcess] = []

    public init(metadata: TraceMetadata, definitions: [BlockDefinition], pages: [CodePage], chunks: [StreamChunk]) {
        self.metadata = metadata
        self.definitions = definitions
        self.pages = pages
        self.chunks = chunks
    }

    public func blockDefinitions(includingBytes: Bool) throws -> [BlockDefinition] { definitions }
    public func codePages() throws -> [CodePage] { pages }
    public func processes() throws -> [TraceProcess] { processList }
    public func forEachChunk(dataTouches: Bool, _ body: (StreamChunk) throws -> Void) throws {
        for chunk in chunks.sorted(by: { $0.sequence < $1.sequence }) { try body(chunk) }
    }
}
