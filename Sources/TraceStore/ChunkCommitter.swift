import BlockCodec
import Foundation
import GRDB
import Synchronization
import TraceModel

/// One thread's full (or flushed) block buffer with the side events that belong to it.
struct PendingChunk {
    var thread: UInt32
    /// Owned by the job until the committer has encoded it; then recycled or freed by the committer.
    var blocks: UnsafeMutablePointer<BlockID>
    var count: Int
    var capacity: Int
    var firstEventIndex: UInt64
    var codeWrites: [CodeWrite]
    var syscalls: [SyscallEvent]
    var dataTouches: [DataTouch]
    var systemEvents: [SystemEvent] = []
}

/// Everything one transaction writes: definitions, pages and modules added since the previous job, and
/// optionally a chunk or a metadata update. Built by the writer's thread, consumed by the committer.
struct CommitJob: @unchecked Sendable {  // Its buffer moves from the writer's thread to the committer's.
    var firstDefinition = 0
    var definitions: [BlockDefinition] = []
    var pages = PendingCodePages()
    var firstModuleID: Int64 = 1
    var modules: [ModuleMapping] = []
    /// Chunks committed in this job's transaction, in sequence order (`finish` commits the last partial
    /// chunk of every thread together with the completed metadata).
    var chunks: [PendingChunk] = []
    var metadata: TraceMetadata?
    /// The process table as it is now (replaces the stored one).
    var processes: [TraceProcess]?
    /// Threads that ended (`TraceWriter.endThread`) by the end of this job's chunks: their coders go.
    var endedThreads: [UInt32] = []
}

/// The commit side of `TraceWriter`: encodes chunks and writes transactions, in job order. It owns the
/// codec state, the running totals and its own copy of the definitions, so it can run on another thread
/// while the writer keeps taking blocks (`TraceWriter.Options.commitInBackground`).
final class ChunkCommitter: @unchecked Sendable {  // Used by one thread at a time: the writer's, or its queue.
    private let path: String
    private let database: DatabaseQueue
    private let codec: BlockStreamCodec
    private let chunkBlocks: Int
    private let compressor = ZstdCompressor(level: 3)
    private var definitions: [BlockDefinition] = []
    private var instructionCounts: [UInt32] = []
    private var executedBlockBits: [UInt64] = []
    private var encoders: [UInt32: BlockStreamEncoder] = [:]
    /// Per predictive thread with data touches: the touch model (docs/block-codec.md, "Data touches").
    private var touchEncoders: [UInt32: TouchStreamEncoder] = [:]
    /// Threads coded raw although the writer's codec is predictive: they started while
    /// `TraceLimits.maxLivePredictiveThreads` coders were live (so a reader never needs more).
    private var rawThreads: Set<UInt32> = []
    private var totals = Totals()
    private var threadsWithChunks: Set<UInt32> = []
    private var nextSequence: Int64 = 0
    private var pageCounts = (distinctAddresses: 0, versions: 0)
    /// Set by the first failed transaction; later jobs are skipped. Read from the writer's thread.
    private let failureBox = Mutex<TraceStoreError?>(nil)
    /// Chunk-sized buffers for the writer to reuse, so that new chunks do not page-fault fresh memory in.
    /// Kept as addresses: pointers are not Sendable, and these are owned by nobody while they wait here.
    private let spareBuffers = Mutex<[UInt]>([])

    init(path: String, database: DatabaseQueue, codec: BlockStreamCodec, chunkBlocks: Int) {
        self.path = path
        self.database = database
        self.codec = codec
        self.chunkBlocks = chunkBlocks
    }

    deinit {
        for address in spareBuffers.withLock({ $0 }) {
            UnsafeMutablePointer<BlockID>(bitPattern: address)?.deallocate()
        }
    }

    var failure: TraceStoreError? { failureBox.withLock { $0 } }

    /// A chunk-sized buffer from an earlier chunk, if one is free.
    func takeSpareBuffer() -> UnsafeMutablePointer<BlockID>? {
        spareBuffers.withLock { $0.popLast() }.flatMap { UnsafeMutablePointer<BlockID>(bitPattern: $0) }
    }

    func run(_ job: CommitJob) {
        defer { for chunk in job.chunks { recycle(chunk) } }
        guard failure == nil else { return }
        do {
            try commit(job)
        } catch let error as TraceStoreError {
            failureBox.withLock { $0 = $0 ?? error }
        } catch {
            failureBox.withLock { $0 = $0 ?? .writeFailed(path: path, detail: "\(error)") }
        }
    }

    private func recycle(_ chunk: PendingChunk) {
        if chunk.capacity == chunkBlocks {
            let address = UInt(bitPattern: chunk.blocks)
            let kept = spareBuffers.withLock { spares -> Bool in
                guard spares.count < 4 else { return false }
                spares.append(address)
                return true
            }
            if kept { return }
        }
        chunk.blocks.deallocate()
    }

    private func commit(_ job: CommitJob) throws {
        precondition(job.firstDefinition == definitions.count, "commit jobs out of order")
        for block in job.definitions {
            definitions.append(block)
            instructionCounts.append(block.instructionCount)
        }
        let words = (definitions.count + 63) / 64
        if executedBlockBits.count < words {
            executedBlockBits.append(contentsOf: repeatElement(0, count: words - executedBlockBits.count))
        }
        pageCounts = (job.pages.distinctAddresses, job.pages.versions)

        var newTotals = totals
        var threads = threadsWithChunks
        var records: [ChunkRecord] = []
        for chunk in job.chunks {
            records.append(encode(chunk, sequence: nextSequence + Int64(records.count), into: &newTotals))
            threads.insert(chunk.thread)
        }
        // Released after the job's chunks, never before a thread's last one: the writer's count of live
        // coders never falls below the reader's, so a thread the writer codes predictively the reader can decode.
        for thread in job.endedThreads {
            encoders[thread] = nil
            touchEncoders[thread] = nil
            rawThreads.remove(thread)
        }
        let summary = newTotals, threadCount = threads.count
        try transaction { db in
            try self.writeDefinitions(job, db)
            try job.pages.write(db)
            if !job.modules.isEmpty {
                let statement = try db.cachedStatement(sql:
                    "INSERT INTO modules (id, start, end, file_offset, path, process) VALUES (?, ?, ?, ?, ?, ?)")
                for (offset, module) in job.modules.enumerated() {
                    try statement.execute(arguments: [
                        job.firstModuleID + Int64(offset), Int64(bitPattern: module.start),
                        Int64(bitPattern: module.end), Int64(bitPattern: module.fileOffset), module.path,
                        module.process.map { Int64($0) },
                    ])
                }
            }
            try Self.writeSummary(summary, pages: self.pageCounts, threads: threadCount, in: db)
            for record in records { try Self.insert(record, into: db) }
            if let metadata = job.metadata { try MetadataRow.update(metadata, in: db) }
            if let processes = job.processes { try ProcessRows.replace(processes, in: db) }
        }
        totals = newTotals
        threadsWithChunks = threads
        nextSequence += Int64(records.count)
    }

    /// Encodes a chunk's blocks and side events and adds its figures to `totals`.
    private func encode(_ chunk: PendingChunk, sequence: Int64, into totals: inout Totals) -> ChunkRecord {
        let count = chunk.count
        let blocks = UnsafeBufferPointer(start: chunk.blocks, count: count)
        var instructions: UInt64 = 0
        var newlyExecuted: UInt64 = 0
        instructionCounts.withUnsafeBufferPointer { counts in
            executedBlockBits.withUnsafeMutableBufferPointer { bits in
                for id in blocks {
                    instructions &+= UInt64(counts[Int(id)])
                    let word = Int(id >> 6), mask = UInt64(1) << UInt64(id & 63)
                    if bits[word] & mask == 0 {
                        bits[word] |= mask
                        newlyExecuted += 1
                    }
                }
            }
        }

        let payload: [UInt8]
        let blocksSize: Int
        var codec = self.codec
        if codec != .raw && encoders[chunk.thread] == nil
            && (rawThreads.contains(chunk.thread) || encoders.count >= TraceLimits.maxLivePredictiveThreads) {
            rawThreads.insert(chunk.thread)
            codec = .raw
        }
        switch codec {
        case .raw:
            payload = RawBlockCodec.encode(blocks, compressor: compressor)
            blocksSize = 4 * count
        case .predictive, .predictiveFast:
            let encoder = encoders[chunk.thread] ?? BlockStreamEncoder(variant: codec.blockVariant ?? .full)
            encoders[chunk.thread] = encoder
            payload = encoder.encode(blocks, definitions: definitions)
            blocksSize = payload.count
        }

        // Predictive threads code their touches with the touch model (its state, like the block coder's,
        // carries across the thread's chunks); raw ones keep them in the side-event payload.
        var touches: [UInt8] = []
        if codec != .raw && !chunk.dataTouches.isEmpty {
            let encoder = touchEncoders[chunk.thread] ?? TouchStreamEncoder(model: .current)
            touchEncoders[chunk.thread] = encoder
            // Schema 7: the model's byte first (docs/trace-format.md, "Chunk layout").
            touches = [TouchModelVersion.current.rawValue]
            touches += encoder.encode(blocks: blocks, firstEventIndex: chunk.firstEventIndex,
                                      touches: chunk.dataTouches[...])
        }
        let payloadTouches = touches.isEmpty ? chunk.dataTouches[...] : []
        var events: [UInt8] = []
        var eventsSize = 0
        if !chunk.codeWrites.isEmpty || !chunk.syscalls.isEmpty || !payloadTouches.isEmpty
            || !chunk.systemEvents.isEmpty {
            let inflated = SideEventPayload.encode(codeWrites: chunk.codeWrites[...], syscalls: chunk.syscalls[...],
                                                   dataTouches: payloadTouches,
                                                   systemEvents: chunk.systemEvents[...])
            eventsSize = inflated.count
            events = compressor.compress(inflated)
        }
        totals.instructions &+= instructions
        totals.blocksExecuted += UInt64(count)
        totals.distinctBlocks += newlyExecuted
        totals.codeWrites += UInt64(chunk.codeWrites.count)
        totals.syscalls += UInt64(chunk.syscalls.count)
        totals.dataTouches += UInt64(chunk.dataTouches.count)
        totals.systemEvents += UInt64(chunk.systemEvents.count)
        totals.chunks += 1
        totals.blockStreamBytes += UInt64(payload.count)
        return ChunkRecord(sequence: sequence, thread: chunk.thread, firstEventIndex: chunk.firstEventIndex,
                           blockCount: count, codec: codec.rawValue, blocks: payload, blocksSize: blocksSize,
                           events: events, eventsSize: eventsSize, codeWrites: chunk.codeWrites.count,
                           syscalls: chunk.syscalls.count, dataTouches: chunk.dataTouches.count,
                           systemEvents: chunk.systemEvents.count, touches: touches)
    }

    private func writeDefinitions(_ job: CommitJob, _ db: Database) throws {
        guard !job.definitions.isEmpty else { return }
        let statement = try db.cachedStatement(sql: """
            INSERT INTO blocks (id, address, length, instruction_count, code_version, exit_kind, static_target,
                                sensitive_count, cpuid_count, bytes, last_instruction_offset, privilege,
                                physical_address)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        for (offset, block) in job.definitions.enumerated() {
            try statement.execute(arguments: [
                job.firstDefinition + offset, Int64(bitPattern: block.address), Int64(block.length),
                Int64(block.instructionCount), Int64(block.codeVersion), Int64(block.exitKind.rawValue),
                block.staticTarget.map { Int64(bitPattern: $0) }, Int64(block.sensitiveCount),
                Int64(block.cpuidCount), Data(block.bytes), block.lastInstructionOffset.map { Int64($0) },
                Int64(block.privilege), block.physicalAddress.map { Int64(bitPattern: $0) },
            ])
        }
    }

    private func transaction(_ body: (Database) throws -> Void) throws {
        do {
            try database.write(body)
        } catch let error as DatabaseError {
            throw TraceStoreError.writeFailed(path: path, detail: TraceWriter.describe(error))
        }
    }

    private static func insert(_ record: ChunkRecord, into db: Database) throws {
        let statement = try db.cachedStatement(sql: """
            INSERT INTO chunks (sequence, thread, first_event_index, block_count, codec, blocks, blocks_size,
                                events, events_size, code_writes, syscalls, data_touches, checksum, system_events,
                                touches)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        try statement.execute(arguments: [
            record.sequence, Int64(record.thread), Int64(bitPattern: record.firstEventIndex), record.blockCount,
            Int64(record.codec), Data(record.blocks), record.blocksSize,
            record.events.isEmpty ? nil : Data(record.events), record.eventsSize, record.codeWrites,
            record.syscalls, record.dataTouches, Int64(bitPattern: record.checksum), record.systemEvents,
            record.touches.isEmpty ? nil : Data(record.touches),
        ])
    }

    static func writeSummary(_ totals: Totals, pages: (distinctAddresses: Int, versions: Int), threads: Int,
                             in db: Database) throws {
        try db.execute(sql: """
            INSERT OR REPLACE INTO summary (id, instructions, blocks_executed, distinct_blocks, code_pages,
                code_page_versions, code_writes, syscalls, data_touches, threads, chunks, block_stream_bytes,
                system_events)
            VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [
                Int64(bitPattern: totals.instructions), Int64(totals.blocksExecuted), Int64(totals.distinctBlocks),
                pages.distinctAddresses, pages.versions, Int64(totals.codeWrites), Int64(totals.syscalls),
                Int64(totals.dataTouches), threads, Int64(totals.chunks), Int64(totals.blockStreamBytes),
                Int64(totals.systemEvents),
            ])
    }
}

/// Running totals written to the summary row at every commit.
struct Totals {
    var instructions: UInt64 = 0
    var blocksExecuted: UInt64 = 0
    var distinctBlocks: UInt64 = 0
    var codeWrites: UInt64 = 0
    var syscalls: UInt64 = 0
    var dataTouches: UInt64 = 0
    var systemEvents: UInt64 = 0
    var chunks: UInt64 = 0
    var blockStreamBytes: UInt64 = 0
}
