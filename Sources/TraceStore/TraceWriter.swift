#if canImport(Glibc)
import Glibc
#endif
import BlockCodec
import Foundation
import GRDB
import TraceModel

/// Streams a trace into one SQLite file: block definitions, code pages, modules, and per-thread
/// chunks of executed blocks with their side events. Each chunk is committed in its own transaction,
/// so a crash leaves every earlier chunk readable and the trace marked incomplete.
/// Single-threaded: one writer is used from one thread (with `commitInBackground` it runs its own commit thread).
public final class TraceWriter {
    /// Tuning knobs; the defaults suit recording.
    public struct Options: Sendable {
        /// Blocks per chunk before a thread's chunk is committed.
        public var chunkBlocks: Int
        /// Replace an existing trace file at the path (anything that is not a PlexLab trace is refused).
        public var overwrite: Bool
        /// How block ids are encoded in new chunks.
        public var blockCodec: BlockStreamCodec
        /// Encode and commit full chunks on a second thread while `append` goes on (at most two chunks in
        /// flight, so memory stays bounded). A failed commit is then thrown by a later call. `flush`,
        /// `finish` and `abandon` wait for every commit either way.
        public var commitInBackground: Bool
        /// Most block ids the threads' pending buffers hold together (default 2^24, 64 MiB): past it a thread
        /// commits a partial chunk instead of growing its buffer, so many threads running at once cost a
        /// bounded amount, not a chunk's worth each.
        public var pendingBlocksBudget: Int
        public init(chunkBlocks: Int = 1 << 20, overwrite: Bool = false,
                    blockCodec: BlockStreamCodec = .writerDefault, commitInBackground: Bool = false,
                    pendingBlocksBudget: Int = 1 << 24) {
            self.chunkBlocks = chunkBlocks
            self.overwrite = overwrite
            self.blockCodec = blockCodec
            self.commitInBackground = commitInBackground
            self.pendingBlocksBudget = pendingBlocksBudget
        }
    }

    /// The file being written.
    public let path: String
    private let options: Options
    private let chunkBlocks: Int
    private var database: DatabaseQueue?
    private var metadataRow: TraceMetadata
    private let compressor = ZstdCompressor(level: 3)

    // Hot-path state: `append` reads only these two and the thread's stream.
    private var definitionCount: UInt32 = 0
    private var accepting = true
    private var lastStream: ThreadStream?

    private var streams: [UInt32: ThreadStream] = [:]
    /// Capacity, in block ids, of every stream's buffer together (held against `Options.pendingBlocksBudget`).
    private(set) var bufferedBlocks = 0
    /// Threads given to `endThread`: appending to one again is misuse (its stream would restart at event 0).
    private var endedThreads: Set<UInt32> = []
    /// Ended threads whose coder state the committer has not released yet (they ride with the next job).
    private var pendingEndedThreads: [UInt32] = []
    private var definitionList: [BlockDefinition] = []
    /// Definitions handed to the committer so far.
    private var committedDefinitions = 0
    private var codePages = CodePageSet()
    private var pendingModules: [ModuleMapping] = []
    private var pendingProcesses: [TraceProcess]?
    private var nextModuleID: Int64 = 1
    private var failure: TraceStoreError?
    /// Encodes and writes; runs jobs inline, or on `commitQueue` with `commitInBackground`.
    private var committer: ChunkCommitter?
    private var commitQueue: DispatchQueue?
    /// Free slots for jobs in flight on `commitQueue`.
    private let commitSlots = DispatchSemaphore(value: 2)

    /// Creates the file (refusing an existing one unless `overwrite`) and stores `metadata` as incomplete.
    public init(path: String, metadata: TraceMetadata, options: Options = Options()) throws {
        self.path = path
        self.options = options
        chunkBlocks = max(1, options.chunkBlocks)
        var metadata = metadata
        metadata.complete = false
        metadataRow = metadata
        if let problem = TraceTextLimits.problem(in: metadata) {
            throw TraceStoreError.misuse(path: path, detail: problem)
        }

        let queue = try Self.createFile(path: path, metadata: metadata, overwrite: options.overwrite)
        database = queue
        committer = ChunkCommitter(path: path, database: queue, codec: options.blockCodec, chunkBlocks: chunkBlocks)
        if options.commitInBackground {
            commitQueue = DispatchQueue(label: "plexlab.trace-writer.commit", qos: .userInitiated)
        }
    }

    /// Creates a trace file with the current schema, `metadata` (stored as given) and an empty summary, in
    /// WAL mode; refuses an existing file unless `overwrite` and it is a trace. Shared with `FastFormWriter`.
    /// `synchronous` is SQLite's setting for the file's transactions (NORMAL: durable at checkpoints).
    /// `setup` runs in the transaction that writes the metadata: tables a reader must never see the trace
    /// without (a fast form's stream table) are there from the first moment the file reads as a trace.
    static func createFile(path: String, metadata: TraceMetadata, overwrite: Bool,
                           synchronous: String = "NORMAL", pageSize: Int? = nil,
                           setup: ((Database) throws -> Void)? = nil) throws -> DatabaseQueue {
        // Only a trace file is ever replaced (a directory, device or other file is refused, untouched).
        // Callers that must keep the old file until the new one is whole write through `TraceDestination`.
        var info = stat()
        if lstat(path, &info) == 0 {
            let resolved = try TraceDestination.replaceablePath(path, overwrite: overwrite)
            for suffix in ["", "-wal", "-shm", "-journal"] where unlink(resolved + suffix) != 0 && errno != ENOENT {
                throw TraceStoreError.writeFailed(path: path, detail: "cannot replace it (\(String(cString: strerror(errno))))")
            }
        }
        do {
            var configuration = Configuration()
            configuration.label = "plexlab.trace-writer"
            // Until the file is in WAL mode, a reader looking at the new trace (`plexlab info` on a live
            // recording) holds a shared lock that makes the writer's first writes busy: wait it out.
            configuration.busyMode = .timeout(5)
            let queue = try DatabaseQueue(path: path, configuration: configuration)
            // The application id goes into the main file before WAL starts, so even a crash image whose
            // content is all in the -wal file is recognisable from its first 100 bytes.
            // `synchronous` first, so that a fast form's creation waits for the disk no more than its writes do.
            try queue.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA synchronous = \(synchronous)")
                if let pageSize { try db.execute(sql: "PRAGMA page_size = \(pageSize)") }
                try db.execute(sql: "PRAGMA application_id = \(TraceSchema.applicationID)")
                try db.execute(sql: "PRAGMA journal_mode = WAL")
            }
            try TraceSchema.migrator.migrate(queue)
            try queue.write { db in
                try setup?(db)
                try MetadataRow.insert(metadata, into: db)
                try ChunkCommitter.writeSummary(Totals(), pages: (0, 0), threads: 0, in: db)
            }
            return queue
        } catch {
            // A creation that failed (disk full, I/O) leaves no damaged file, -wal or -shm behind.
            for suffix in ["", "-wal", "-shm", "-journal"] { unlink(path + suffix) }
            if let error = error as? DatabaseError {
                throw TraceStoreError.writeFailed(path: path, detail: Self.describe(error))
            }
            throw error
        }
    }

    /// Block definitions so far; `definitions[id]` is block `id`.
    public var definitions: [BlockDefinition] { definitionList }

    /// Registers a block definition and returns its id (dense, in call order).
    /// `block.bytes.count` must equal `block.length`.
    public func define(_ block: BlockDefinition) throws -> BlockID {
        try checkUsable()
        guard block.bytes.count == Int(block.length) else {
            throw TraceStoreError.misuse(path: path, detail: "block at 0x\(String(block.address, radix: 16)) has "
                                         + "length \(block.length) but \(block.bytes.count) bytes")
        }
        guard definitionCount < UInt32.max else {
            throw TraceStoreError.misuse(path: path, detail: "more than \(UInt32.max) block definitions")
        }
        let id = definitionCount
        definitionList.append(block)
        definitionCount += 1
        return id
    }

    /// Stores a code page version (deduplicated by content, compressed). `page.bytes` must be one 4096-byte page.
    public func addCodePage(_ page: CodePage) throws {
        try checkUsable()
        guard page.bytes.count == CodePage.size else {
            throw TraceStoreError.misuse(path: path, detail: "code page 0x\(String(page.address, radix: 16)) has "
                                         + "\(page.bytes.count) bytes, not \(CodePage.size)")
        }
        let compressed = compressor.compress(page.bytes)
        let hash = FNV1a64.hash(page.bytes)
        let outcome = try codePages.add(address: page.address, version: page.version, hash: hash,
                                        compressed: compressed) { id in try self.storedBlob(id) }
        if outcome == .conflict {
            throw TraceStoreError.misuse(path: path, detail: "code page 0x\(String(page.address, radix: 16)) "
                                         + "version \(page.version) was already stored with other bytes")
        }
    }

    /// Replaces the process table (stored with the next commit; a recording of one process need not call it).
    public func setProcesses(_ processes: [TraceProcess]) {
        pendingProcesses = processes
    }

    /// Stores a module mapping.
    public func addModule(_ module: ModuleMapping) throws {
        try checkUsable()
        guard module.path.utf8.count <= TraceTextLimits.maxBytes else {
            throw TraceStoreError.misuse(path: path, detail: "a module path is \(module.path.utf8.count) bytes, "
                                         + "over the \(TraceTextLimits.maxBytes)-byte cap")
        }
        pendingModules.append(module)
    }

    /// Appends an executed block to `thread`'s stream; commits a chunk when one is full.
    /// Allocation-free except when a thread is first seen or its buffer grows toward `chunkBlocks`.
    /// Recorders should prefer the batch form, which costs one stream lookup per batch.
    @inline(__always)
    public func append(thread: UInt32, block: BlockID) throws {
        var block = block
        try withUnsafePointer(to: &block) { try append(thread: thread, blocks: UnsafeBufferPointer(start: $0, count: 1)) }
    }

    /// Appends executed blocks, in order, to `thread`'s stream, committing a chunk each time one is full.
    /// Same result as appending them one by one: if an id is not defined yet, the blocks before it are
    /// appended and the call throws.
    public func append(thread: UInt32, blocks: UnsafeBufferPointer<BlockID>) throws {
        guard accepting else { throw appendFailure(blocks.first ?? 0) }
        guard let source = blocks.baseAddress, !blocks.isEmpty else { return }
        // One pass over the batch for the definition check (vectorised) instead of one branch per copy.
        var valid = blocks.count
        var highest: BlockID = 0
        for id in blocks { highest = max(highest, id) }
        if highest >= definitionCount { valid = blocks.firstIndex { $0 >= definitionCount } ?? blocks.count }
        let stream: ThreadStream
        if let last = lastStream, last.thread == thread {
            stream = last
        } else {
            stream = self.stream(for: thread)
        }
        var copied = 0
        while copied < valid {
            let room = chunkBlocks - stream.count
            var n = min(room, valid - copied)
            if stream.count + n > stream.capacity {
                if bufferedBlocks + (stream.count + n - stream.capacity) > options.pendingBlocksBudget {
                    // Over the budget of all threads' pending blocks: no growth; what fits, then a partial chunk.
                    n = stream.capacity - stream.count
                    if n == 0 {
                        try commit(stream)
                        continue
                    }
                } else {
                    let before = stream.capacity
                    stream.reserve(stream.count + n, limit: chunkBlocks)
                    bufferedBlocks += stream.capacity - before
                }
            }
            (stream.buffer + stream.count).update(from: source + copied, count: n)
            stream.count += n
            copied += n
            if stream.count == chunkBlocks { try commit(stream) }
        }
        if valid < blocks.count { throw appendFailure(blocks[valid]) }
    }

    /// The event index the next appended block of `thread` will get.
    public func nextEventIndex(thread: UInt32) -> UInt64 {
        guard let stream = streams[thread] else { return 0 }
        return stream.firstEventIndex + UInt64(stream.count)
    }

    /// Records side events of `thread`; their event indices must not precede already committed chunks.
    /// An event may name the block about to be appended (`nextEventIndex`); it is stored with that block's chunk.
    public func record(thread: UInt32, codeWrite: CodeWrite) {
        let stream = self.stream(for: thread)
        stream.check(codeWrite.eventIndex, kind: "code write")
        stream.codeWrites.append(codeWrite)
    }

    public func record(thread: UInt32, syscall: SyscallEvent) {
        let stream = self.stream(for: thread)
        stream.check(syscall.eventIndex, kind: "syscall")
        stream.syscalls.append(syscall)
    }

    public func record(thread: UInt32, dataTouch: DataTouch) {
        let stream = self.stream(for: thread)
        stream.check(dataTouch.eventIndex, kind: "data touch")
        stream.dataTouches.append(dataTouch)
    }

    /// Records an interrupt, exception or page-table store of a system trace (docs/trace-format.md).
    public func record(thread: UInt32, systemEvent: SystemEvent) {
        let stream = self.stream(for: thread)
        stream.check(systemEvent.eventIndex, kind: "system event")
        stream.systemEvents.append(systemEvent)
    }

    /// Ends `thread`'s stream: its pending blocks are committed as its last chunk, and its buffer and block
    /// coder are released, so a program that starts threads one after another costs memory for the live ones
    /// only. Appending to the thread afterwards is misuse. Throws if a side event names a block never appended.
    public func endThread(_ thread: UInt32) throws {
        try checkUsable()
        endedThreads.insert(thread)
        if lastStream?.thread == thread { lastStream = nil }
        guard let stream = streams.removeValue(forKey: thread) else { return }
        defer { bufferedBlocks -= stream.capacity }
        if let misuse = stream.misuse { throw TraceStoreError.misuse(path: path, detail: misuse) }
        let end = stream.firstEventIndex + UInt64(stream.count)
        if let last = stream.pendingEventIndices.max(), last >= end {
            throw TraceStoreError.misuse(path: path, detail: "thread \(thread) has a side event at event index "
                                         + "\(last) but only \(end) blocks")
        }
        pendingEndedThreads.append(thread)
        if stream.count > 0 {
            var job = pendingJob()
            job.chunks = [takeChunk(stream, keepStreaming: false)]
            try submit(job)
        }
    }

    /// Commits every thread's pending events as chunks (the trace stays incomplete), then any definitions,
    /// pages and modules added since.
    public func flush() throws {
        try checkUsable()
        for thread in streams.keys.sorted() {
            guard let stream = streams[thread] else { continue }
            if let misuse = stream.misuse { throw TraceStoreError.misuse(path: path, detail: misuse) }
            guard stream.count > 0 else { continue }
            try commit(stream)
        }
        if committedDefinitions < definitionList.count || codePages.hasPending || !pendingModules.isEmpty
            || pendingProcesses != nil {
            try submit(pendingJob())
        }
        try waitForCommits()
    }

    /// Flushes and marks the trace complete with how the guest ended.
    /// Throws if a side event names a block that was never appended.
    /// The threads' last (partial) chunks and `complete` = 1 commit in one transaction, so a reader or a
    /// crash never sees a partial chunk in a trace still marked incomplete.
    public func finish(exitStatus: Int32?, signal: Int32?, note: String) throws {
        try checkUsable()
        var job = pendingJob()
        /// Commits what was taken (the trace stays incomplete, as after a flush), then fails.
        func fail(_ detail: String) throws -> Never {
            try submit(job)
            try waitForCommits()
            throw TraceStoreError.misuse(path: path, detail: detail)
        }
        for thread in streams.keys.sorted() {
            guard let stream = streams[thread] else { continue }
            if let misuse = stream.misuse { try fail(misuse) }
            if stream.count > 0 { job.chunks.append(takeChunk(stream)) }
        }
        for thread in streams.keys.sorted() {
            guard let stream = streams[thread], let first = stream.pendingEventIndices.min() else { continue }
            try fail("thread \(thread) has a side event at event index \(first) but only \(stream.firstEventIndex) blocks")
        }
        metadataRow.exitStatus = exitStatus
        metadataRow.signal = signal
        metadataRow.note = note
        metadataRow.complete = true
        job.metadata = metadataRow
        try submit(job)
        try waitForCommits()
        close(compact: true)
    }

    /// Flushes what can be flushed and leaves the trace marked incomplete with `note` (Ctrl-C, errors).
    public func abandon(note: String) {
        guard database != nil else { return }
        if failure == nil {
            try? flush()
            metadataRow.note = note
            var job = pendingJob()
            job.metadata = metadataRow
            try? submit(job)
            try? waitForCommits()
        }
        close(compact: failure == nil)
    }

    deinit {
        // Dropped without finish: like a crash, the trace stays incomplete with every committed chunk.
        commitQueue?.sync {}
        try? database?.close()
    }

    // MARK: - Committing

    /// Hands `stream`'s pending blocks, with the side events that belong to them, to the committer as one
    /// chunk in a job of its own.
    private func commit(_ stream: ThreadStream) throws {
        try checkUsable()
        if let misuse = stream.misuse { throw TraceStoreError.misuse(path: path, detail: misuse) }
        var job = pendingJob()
        job.chunks = [takeChunk(stream)]
        try submit(job)
    }

    /// `stream`'s pending blocks with the side events that belong to them, as a chunk; the stream gets a
    /// fresh buffer.
    private func takeChunk(_ stream: ThreadStream, keepStreaming: Bool = true) -> PendingChunk {
        let first = stream.firstEventIndex
        let end = first + UInt64(stream.count)
        stream.sortPendingEvents()
        let codeWrites = stream.codeWrites.prefix { $0.eventIndex < end }.count
        let syscalls = stream.syscalls.prefix { $0.eventIndex < end }.count
        let dataTouches = stream.dataTouches.prefix { $0.eventIndex < end }.count
        let systemEvents = stream.systemEvents.prefix { $0.eventIndex < end }.count
        let chunk = PendingChunk(thread: stream.thread, blocks: stream.buffer, count: stream.count,
                                 capacity: stream.capacity, firstEventIndex: first,
                                 codeWrites: Array(stream.codeWrites.prefix(codeWrites)),
                                 syscalls: Array(stream.syscalls.prefix(syscalls)),
                                 dataTouches: Array(stream.dataTouches.prefix(dataTouches)),
                                 systemEvents: Array(stream.systemEvents.prefix(systemEvents)))
        // A thread that filled a chunk will likely fill the next: give it a whole chunk's buffer. An ended
        // thread gets a minimal one (its stream is dropped).
        let full = stream.count == chunkBlocks
        let roomy = bufferedBlocks - stream.capacity + chunkBlocks <= options.pendingBlocksBudget
        let capacity = !keepStreaming ? 1 : full && roomy ? chunkBlocks : stream.capacity
        bufferedBlocks += capacity - stream.capacity
        let spare = capacity == chunkBlocks ? committer?.takeSpareBuffer() : nil
        stream.replaceBuffer(spare ?? .allocate(capacity: capacity), capacity: capacity)
        stream.count = 0
        stream.firstEventIndex = end
        stream.codeWrites.removeFirst(codeWrites)
        stream.syscalls.removeFirst(syscalls)
        stream.dataTouches.removeFirst(dataTouches)
        stream.systemEvents.removeFirst(systemEvents)
        return chunk
    }

    /// A job carrying the definitions, code pages and modules added since the previous job.
    private func pendingJob() -> CommitJob {
        var job = CommitJob()
        job.firstDefinition = committedDefinitions
        job.definitions = Array(definitionList[committedDefinitions...])
        committedDefinitions = definitionList.count
        job.pages = codePages.takePending()
        job.firstModuleID = nextModuleID
        job.modules = pendingModules
        nextModuleID += Int64(pendingModules.count)
        pendingModules.removeAll()
        job.processes = pendingProcesses
        pendingProcesses = nil
        job.endedThreads = pendingEndedThreads
        pendingEndedThreads.removeAll()
        return job
    }

    /// Runs `job` now, or queues it (waiting while two are in flight) with `commitInBackground`.
    private func submit(_ job: CommitJob) throws {
        guard let committer else { throw TraceStoreError.misuse(path: path, detail: "used after finish or abandon") }
        if let commitQueue {
            commitSlots.wait()
            let slots = commitSlots
            commitQueue.async {
                committer.run(job)
                slots.signal()
            }
        } else {
            committer.run(job)
        }
        try checkCommitFailure()
    }

    /// Waits until every queued job is written; throws the first commit failure.
    private func waitForCommits() throws {
        commitQueue?.sync {}
        try checkCommitFailure()
    }

    /// A failed commit (disk full, I/O) makes the writer unusable but leaves earlier chunks intact.
    private func checkCommitFailure() throws {
        if let failure { throw failure }
        if let failed = committer?.failure {
            failure = failed
            accepting = false
            throw failed
        }
    }

    // MARK: - Plumbing

    private func stream(for thread: UInt32) -> ThreadStream {
        if let stream = streams[thread] {
            lastStream = stream
            return stream
        }
        let stream = ThreadStream(thread: thread, initialCapacity: min(chunkBlocks, 4096))
        bufferedBlocks += stream.capacity
        if endedThreads.contains(thread) { stream.misuse = "thread \(thread) continues after endThread" }
        streams[thread] = stream
        lastStream = stream
        return stream
    }

    private func appendFailure(_ block: BlockID) -> TraceStoreError {
        if let failure { return failure }
        if database == nil { return .misuse(path: path, detail: "append after finish or abandon") }
        return .misuse(path: path, detail: "block id \(block) appended before it was defined "
                       + "(\(definitionCount) definitions)")
    }

    private func checkUsable() throws {
        if let failure { throw failure }
        guard database != nil else { throw TraceStoreError.misuse(path: path, detail: "used after finish or abandon") }
    }

    private func storedBlob(_ id: Int64) throws -> [UInt8] {
        guard let database else { return [] }
        // The blob may still be on its way through the committer.
        try waitForCommits()
        do {
            let data = try database.read { db in
                try Data.fetchOne(db, sql: "SELECT data FROM code_blobs WHERE id = ?", arguments: [id])
            }
            return data.map { [UInt8]($0) } ?? []
        } catch let error as DatabaseError {
            throw TraceStoreError.writeFailed(path: path, detail: Self.describe(error))
        }
    }

    /// How long `finish` waits for readers of the live file to let go before leaving WAL mode.
    static let compactWait: TimeInterval = 5

    private func close(compact: Bool) {
        accepting = false
        lastStream = nil
        commitQueue?.sync {}
        committer = nil
        guard let database else { return }
        if compact {
            // A finished trace travels as one self-contained file in rollback-journal mode, which read-only
            // openers can use without creating -wal/-shm files. Leaving WAL needs every other connection
            // closed and SQLite does not wait for that (no busy handler), so a reader of the live file
            // (`plexlab info` on OUT.partial) would leave it WAL, and every later read-only opener (the
            // importer's own summary) would leave OUT-wal and OUT-shm behind. Readers are short: retry
            // for up to `compactWait`; only a reader holding the file longer leaves it WAL.
            let deadline = Date().addingTimeInterval(Self.compactWait)
            while true {
                let mode = try? database.writeWithoutTransaction { db in
                    _ = try db.checkpoint(.truncate)
                    return try String.fetchOne(db, sql: "PRAGMA journal_mode = DELETE")
                }
                if mode?.lowercased() == "delete" || Date() >= deadline { break }
                usleep(5_000)
            }
        }
        try? database.close()
        self.database = nil
    }

    static func describe(_ error: DatabaseError) -> String {
        let message = error.message ?? "\(error.resultCode)"
        return "SQLite error \(error.extendedResultCode.rawValue): \(message)"
    }
}

/// One guest thread's pending blocks and side events.
final class ThreadStream {
    let thread: UInt32
    private(set) var buffer: UnsafeMutablePointer<BlockID>
    private(set) var capacity: Int
    var count = 0
    /// Event index of `buffer[0]`.
    var firstEventIndex: UInt64 = 0
    var codeWrites: [CodeWrite] = []
    var syscalls: [SyscallEvent] = []
    var dataTouches: [DataTouch] = []
    var systemEvents: [SystemEvent] = []
    var encoder: BlockStreamEncoder?
    /// First contract violation seen by a non-throwing `record`; the next commit throws it.
    var misuse: String?

    init(thread: UInt32, initialCapacity: Int) {
        self.thread = thread
        capacity = max(1, initialCapacity)
        buffer = .allocate(capacity: capacity)
    }

    deinit { buffer.deallocate() }

    /// Takes a new empty buffer; the old one now belongs to a commit job.
    func replaceBuffer(_ newBuffer: UnsafeMutablePointer<BlockID>, capacity newCapacity: Int) {
        buffer = newBuffer
        capacity = newCapacity
    }

    /// Grows the buffer (doubling) to hold at least `needed` blocks, up to `limit` blocks (a chunk's worth).
    func reserve(_ needed: Int, limit: Int) {
        var newCapacity = capacity
        while newCapacity < needed { newCapacity = min(newCapacity * 2, max(limit, needed)) }
        let newBuffer = UnsafeMutablePointer<BlockID>.allocate(capacity: newCapacity)
        newBuffer.update(from: buffer, count: count)
        buffer.deallocate()
        buffer = newBuffer
        capacity = newCapacity
    }

    func check(_ eventIndex: UInt64, kind: String) {
        if eventIndex < firstEventIndex && misuse == nil {
            misuse = "thread \(thread): \(kind) at event index \(eventIndex) precedes the committed chunks "
                + "(which end at \(firstEventIndex))"
        }
    }

    var pendingEventIndices: [UInt64] {
        codeWrites.map(\.eventIndex) + syscalls.map(\.eventIndex) + dataTouches.map(\.eventIndex)
            + systemEvents.map(\.eventIndex)
    }

    /// Stable sort by event index (recorders usually deliver them in order already).
    func sortPendingEvents() {
        Self.stableSort(&codeWrites, by: \.eventIndex)
        Self.stableSort(&syscalls, by: \.eventIndex)
        Self.stableSort(&dataTouches, by: \.eventIndex)
        Self.stableSort(&systemEvents, by: \.eventIndex)
    }

    private static func stableSort<T>(_ events: inout [T], by key: KeyPath<T, UInt64>) {
        if zip(events, events.dropFirst()).allSatisfy({ $0[keyPath: key] <= $1[keyPath: key] }) { return }
        events = events.enumerated()
            .sorted { ($0.element[keyPath: key], $0.offset) < ($1.element[keyPath: key], $1.offset) }
            .map(\.element)
    }
}
