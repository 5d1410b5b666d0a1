import TraceModel

/// Streams a trace into one SQLite file: block definitions, code pages, modules, and per-thread
/// chunks of executed blocks with their side events. Each chunk is committed in its own transaction,
/// so a crash leaves every earlier chunk readable and the trace marked incomplete.
/// Single-threaded: one writer is used from one thread.
public final class TraceWriter {
    /// Tuning knobs; the defaults suit recording.
    public struct Options: Sendable {
        /// Blocks per chunk before a thread's chunk is committed.
        public var chunkBlocks: Int
        /// Replace an existing file at the path.
        public var overwrite: Bool
        public init(chunkBlocks: Int = 1 << 20, overwrite: Bool = false) {
            self.chunkBlocks = chunkBlocks
            self.overwrite = overwrite
        }
    }

    /// Creates the file (refusing an existing one unless `overwrite`) and stores `metadata` as incomplete.
    public init(path: String, metadata: TraceMetadata, options: Options = Options()) throws {
        fatalError("TraceWriter: not implemented yet")
    }

    /// Block definitions so far; `definitions[id]` is block `id`.
    public var definitions: [BlockDefinition] { fatalError("not implemented yet") }

    /// Registers a block definition and returns its id (dense, in call order).
    public func define(_ block: BlockDefinition) throws -> BlockID { fatalError("not implemented yet") }

    /// Stores a code page version (deduplicated by content, compressed).
    public func addCodePage(_ page: CodePage) throws { fatalError("not implemented yet") }

    /// Stores a module mapping.
    public func addModule(_ module: ModuleMapping) throws { fatalError("not implemented yet") }

    /// Appends an executed block to `thread`'s stream; commits a chunk when one is full.
    public func append(thread: UInt32, block: BlockID) throws { fatalError("not implemented yet") }

    /// The event index the next appended block of `thread` will get.
    public func nextEventIndex(thread: UInt32) -> UInt64 { fatalError("not implemented yet") }

    /// Records side events of `thread`; their event indices must not precede already committed chunks.
    public func record(thread: UInt32, codeWrite: CodeWrite) { fatalError("not implemented yet") }
    public func record(thread: UInt32, syscall: SyscallEvent) { fatalError("not implemented yet") }
    public func record(thread: UInt32, dataTouch: DataTouch) { fatalError("not implemented yet") }

    /// Commits every thread's pending events as chunks (the trace stays incomplete).
    public func flush() throws { fatalError("not implemented yet") }

    /// Flushes and marks the trace complete with how the guest ended.
    public func finish(exitStatus: Int32?, signal: Int32?, note: String) throws { fatalError("not implemented yet") }

    /// Flushes what can be flushed and leaves the trace marked incomplete with `note` (Ctrl-C, errors).
    public func abandon(note: String) { fatalError("not implemented yet") }
}
