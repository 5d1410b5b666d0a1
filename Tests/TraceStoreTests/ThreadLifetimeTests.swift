import Foundation
import GRDB
import Testing
import TraceModel
@testable import TraceStore

/// Threads that end release their state, and at most `TraceLimits.maxLivePredictiveThreads` predictive coders
/// are live at once, in the writer and in the reader (docs/reliability.md, "Memory budget").
@Suite struct ThreadLifetimeTests {
    private static let cap = TraceLimits.maxLivePredictiveThreads

    private static func definition(_ i: Int) -> BlockDefinition {
        BlockDefinition(address: 0x401000 + 16 * UInt64(i), length: 2, instructionCount: 1, codeVersion: 0,
                        exitKind: .jmp, staticTarget: 0x401000, sensitiveCount: 0, cpuidCount: 0, bytes: [0xeb, 0xfe])
    }

    /// Thread `t`'s block `n`: a different walk over 5 definitions per thread.
    private static func block(_ t: Int, _ n: Int) -> BlockID { BlockID((n * (t % 4 + 1) + t) % 5) }

    private static func writer(_ path: String) throws -> TraceWriter {
        let writer = try TraceWriter(path: path, metadata: sampleMetadata(),
                                     options: .init(chunkBlocks: 8, blockCodec: .predictive))
        for i in 0..<5 { try definePaged(writer, definition(i)) }
        return writer
    }

    private static func append(_ writer: TraceWriter, thread t: Int, from n: Int, count: Int) throws {
        for k in n..<(n + count) { try writer.append(thread: UInt32(t), block: block(t, k)) }
    }

    /// (thread, codec) of every chunk, in sequence order.
    private static func chunkCodecs(_ path: String) throws -> [[Int]] {
        try DatabaseQueue(path: path).read { db in
            try Row.fetchAll(db, sql: "SELECT thread, codec FROM chunks ORDER BY sequence").map { [$0[0], $0[1]] }
        }
    }

    @Test func threadsStartingPastTheCapAreCodedRawAndEverythingReadsBack() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let path = scratch.path("many.plextrace")
        let writer = try Self.writer(path)
        let threads = Self.cap + 4
        // Two rounds of one full chunk per thread: all 20 threads are live together.
        for round in 0..<2 {
            for t in 0..<threads { try Self.append(writer, thread: t, from: 8 * round, count: 8) }
        }
        try writer.finish(exitStatus: 0, signal: nil, note: "")

        let predictive = Int(BlockStreamCodec.predictive.rawValue), raw = Int(BlockStreamCodec.raw.rawValue)
        let expected = (0..<2).flatMap { _ in (0..<threads).map { [$0, $0 < Self.cap ? predictive : raw] } }
        #expect(try Self.chunkCodecs(path) == expected)

        let reader = try TraceReader(path: path)
        #expect(try reader.verify().isEmpty)
        var read: [UInt32: [BlockID]] = [:]
        var ends: [Bool] = []
        try reader.forEachChunk {
            read[$0.thread, default: []] += $0.blocks
            ends.append($0.endsThread)
        }
        for t in 0..<threads { #expect(read[UInt32(t)] == (0..<16).map { Self.block(t, $0) }) }
        // Each thread's second chunk is its last: the reader says so (replay drops per-thread state there).
        #expect(ends == [Bool](repeating: false, count: threads) + [Bool](repeating: true, count: threads))
    }

    @Test func anEndedThreadFreesItsCoderForTheNextAndA17thLiveCoderIsRefused() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let path = scratch.path("ended.plextrace")
        let writer = try Self.writer(path)
        for t in 0..<Self.cap { try Self.append(writer, thread: t, from: 0, count: 8) }  // chunks 0 ..< 16
        try Self.append(writer, thread: 0, from: 8, count: 3)
        try writer.endThread(0)  // chunk 16: thread 0's last 3 blocks; its coder goes
        try Self.append(writer, thread: Self.cap, from: 0, count: 8)  // chunk 17: a 17th thread, coded predictively
        // Chunks 18 ..< 33: threads 1 ... 15 go on, so the reader too holds their coders past chunk 17.
        for t in 1..<Self.cap { try Self.append(writer, thread: t, from: 8, count: 8) }
        try writer.finish(exitStatus: 0, signal: nil, note: "")

        let predictive = Int(BlockStreamCodec.predictive.rawValue)
        #expect(try Self.chunkCodecs(path) == (0..<Self.cap).map { [$0, predictive] } + [[0, predictive], [Self.cap, predictive]]
                + (1..<Self.cap).map { [$0, predictive] })
        // The reader drops thread 0's decoder after chunk 16, so chunk 17 decodes.
        #expect(try TraceReader(path: path).verify().isEmpty)

        // Chunks 16 and 17 swapped (checksums forged): thread 16 starts while thread 0's coder is still live.
        try DatabaseQueue(path: path).write { db in
            try Self.renumber(db, from: 16, to: -1)
            try Self.renumber(db, from: 17, to: 16)
            try Self.renumber(db, from: -1, to: 17)
        }
        let problems = try TraceReader(path: path).verify()
        #expect(problems == [ChunkProblem(sequence: 16, thread: UInt32(Self.cap), reason: "is predictive, but 16 other "
                                          + "threads' predictive coders are live (a trace keeps at most 16)")])
    }

    /// Twelve threads appending 300 blocks in turn, 40 times: their buffers would grow to 12 x 16384 ids;
    /// with a budget of 65536 they commit partial chunks instead, and every block reads back in order.
    @Test(arguments: [(1 << 24, 12 * 16384), (65536, 65536 + 8192)])
    func manyThreadsAtOnceShareOnePendingBudget(budget: Int, most: Int) throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let path = scratch.path("budget.plextrace")
        let writer = try TraceWriter(path: path, metadata: sampleMetadata(), options: .init(
            chunkBlocks: 65536, blockCodec: .predictive, pendingBlocksBudget: budget))
        for i in 0..<5 { try definePaged(writer, Self.definition(i)) }
        var largest = 0
        for round in 0..<40 {
            for t in 0..<12 {
                let blocks = (0..<300).map { Self.block(t, 300 * round + $0) }
                try blocks.withUnsafeBufferPointer { try writer.append(thread: UInt32(t), blocks: $0) }
                largest = max(largest, writer.bufferedBlocks)
            }
        }
        if budget == 1 << 24 { #expect(largest == most) } else { #expect(largest <= most) }
        try writer.finish(exitStatus: 0, signal: nil, note: "")

        let reader = try TraceReader(path: path)
        #expect(try reader.verify().isEmpty)
        var read: [UInt32: [BlockID]] = [:]
        var chunks = 0
        try reader.forEachChunk {
            read[$0.thread, default: []] += $0.blocks
            chunks += 1
        }
        for t in 0..<12 { #expect(read[UInt32(t)] == (0..<12000).map { Self.block(t, $0) }) }
        #expect(budget == 1 << 24 ? chunks == 12 : chunks > 12)
    }

    /// Chunks renumbered past a gap (checksums forged): every chunk decodes, the numbering does not.
    @Test func aGapInTheSequenceNumbersFailsVerify() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let path = scratch.path("gap.plextrace")
        let writer = try Self.writer(path)
        try Self.append(writer, thread: 0, from: 0, count: 24)  // chunks 0, 1, 2
        try writer.finish(exitStatus: 0, signal: nil, note: "")
        try DatabaseQueue(path: path).write { db in try Self.renumber(db, from: 2, to: 5) }
        #expect(throws: TraceStoreError.damaged(path: path, detail: "chunk 5 follows chunk 1 (chunks are missing)")) {
            try TraceReader(path: path).verify()
        }
        try DatabaseQueue(path: path).write { db in
            try Self.renumber(db, from: 0, to: 7)
            try Self.renumber(db, from: 1, to: 8)
            try Self.renumber(db, from: 5, to: 9)
        }
        #expect(throws: TraceStoreError.damaged(path: path, detail: "the first chunk is 7, not 0 (chunks are missing)")) {
            try TraceReader(path: path).verify()
        }
    }

    @Test func anEndedThreadTakesNoMoreBlocksAndNoDanglingEvents() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let writer = try Self.writer(scratch.path("misuse.plextrace"))
        try Self.append(writer, thread: 3, from: 0, count: 4)
        try writer.endThread(3)
        try writer.endThread(9)  // never seen: nothing to do
        try Self.append(writer, thread: 3, from: 4, count: 1)
        #expect(throws: TraceStoreError.misuse(path: scratch.path("misuse.plextrace"),
                                               detail: "thread 3 continues after endThread")) { try writer.flush() }

        let second = try Self.writer(scratch.path("events.plextrace"))
        try Self.append(second, thread: 1, from: 0, count: 2)
        second.record(thread: 1, syscall: SyscallEvent(eventIndex: 2, number: 60))  // names a block never appended
        #expect(throws: TraceStoreError.misuse(path: scratch.path("events.plextrace"),
                                               detail: "thread 1 has a side event at event index 2 but only 2 blocks")) {
            try second.endThread(1)
        }
    }

    /// Gives chunk `from` the sequence `to`, with its checksum forged to match.
    static func renumber(_ db: Database, from: Int64, to: Int64) throws {
        let row = try #require(try Row.fetchOne(db, sql: """
            SELECT thread, first_event_index, block_count, codec, blocks_size, events_size, code_writes, syscalls,
                   data_touches, blocks, events FROM chunks WHERE sequence = ?
            """, arguments: [from]))
        let blocks = [UInt8]((row[9] as Data?) ?? Data()), events = [UInt8]((row[10] as Data?) ?? Data())
        let checksum = blocks.withUnsafeBytes { b in
            events.withUnsafeBytes { e in
                ChunkRecord.checksum(sequence: to, thread: UInt32(row[0] as Int64), firstEventIndex: UInt64(row[1] as Int64),
                                     blockCount: row[2], codec: UInt8(row[3] as Int64), blocksSize: row[4], eventsSize: row[5],
                                     codeWrites: row[6], syscalls: row[7], dataTouches: row[8], blocks: b, events: e)
            }
        }
        try db.execute(sql: "UPDATE chunks SET sequence = ?, checksum = ? WHERE sequence = ?",
                       arguments: [to, Int64(bitPattern: checksum), from])
    }
}
