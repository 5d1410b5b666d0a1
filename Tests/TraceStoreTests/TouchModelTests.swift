import BlockCodec
import Foundation
import GRDB
import Testing
import TraceModel
@testable import TraceStore

/// Schema 6 on: predictive chunks code their data touches with BlockCodec's touch model (docs/block-codec.md,
/// "Data touches"; schema 7 names the model in the blob's first byte); raw chunks and older traces keep them in
/// the side-event payload.
@Suite struct TouchModelTests {
    /// Three blocks on two threads, 3 x 20,000 executions each in chunks of 4096 blocks. Thread 0 repeats the
    /// same touches every time; thread 1's block 0 moves to the next page every 100 executions, its block 1
    /// touches 6 pages (more than a slot keeps) with loads that grow by one each time, and block 2 touches an
    /// unaligned page with the largest counts. Everything reads back exactly; thread 0's touches take a few
    /// bytes in all (one decision per block, at the adaptive coder's floor).
    static func write(_ path: String, codec: BlockStreamCodec) throws -> [UInt32: [DataTouch]] {
        let writer = try TraceWriter(path: path, metadata: sampleMetadata(),
                                     options: .init(chunkBlocks: 4096, overwrite: true, blockCodec: codec))
        var rng = SplitMix64(seed: 7)
        for _ in 0..<3 { try definePaged(writer, randomDefinition(&rng)) }
        var expected: [UInt32: [DataTouch]] = [:]
        func touch(_ thread: UInt32, _ index: Int, _ page: UInt64, _ reads: UInt32, _ writes: UInt32) {
            let event = DataTouch(eventIndex: UInt64(index), page: page, reads: reads, writes: writes)
            writer.record(thread: thread, dataTouch: event)
            expected[thread, default: []].append(event)
        }
        for i in 0..<60_000 {
            let block = BlockID(i % 3)
            switch block {
            case 0: touch(0, i, 0x7000, 1, 0)
            case 1: touch(0, i, 0x8000, 0, 2); touch(0, i, 0x9000, 1, 1)
            default: break
            }
            try writer.append(thread: 0, block: block)
            switch block {
            case 0: touch(1, i, 0x10_0000 + UInt64(i / 300) << 12, 2, 1)
            case 1: for k in 0..<6 { touch(1, i, 0x20_0000 + UInt64(k) << 12, UInt32(i / 3 + k), 0) }
            default: touch(1, i, 0xFFFF_FFFF_1234_5678, .max, .max)
            }
            try writer.append(thread: 1, block: block)
        }
        try writer.finish(exitStatus: 0, signal: nil, note: "")
        return expected
    }

    static func read(_ path: String) throws -> [UInt32: [DataTouch]] {
        var touches: [UInt32: [DataTouch]] = [:]
        try TraceReader(path: path).forEachChunk { touches[$0.thread, default: []] += $0.dataTouches }
        return touches
    }

    @Test(arguments: [BlockStreamCodec.predictive, .predictiveFast, .raw])
    func touchesReadBackExactly(codec: BlockStreamCodec) throws {
        let scratch = Scratch("touchmodel\(codec)")
        defer { scratch.remove() }
        let path = scratch.path("t.plextrace")
        let expected = try Self.write(path, codec: codec)
        #expect(try Self.read(path) == expected)
        #expect(try TraceReader(path: path).verify().isEmpty)
        let (coded, inPayload) = try DatabaseQueue(path: path).read { db in
            (try Int.fetchOne(db, sql: "SELECT count(*) FROM chunks WHERE touches IS NOT NULL") ?? -1,
             try Int.fetchOne(db, sql: "SELECT count(*) FROM chunks WHERE touches IS NULL") ?? -1)
        }
        // 60,000 blocks per thread in chunks of 4096: 15 chunks each.
        #expect(codec == .raw ? (coded, inPayload) == (0, 30) : (coded, inPayload) == (30, 0))
        // The summary's touch stream is the coded blobs' bytes (none when the touches are in the payloads).
        let blobs = try DatabaseQueue(path: path).read { db in
            try Data.fetchAll(db, sql: "SELECT touches FROM chunks WHERE touches IS NOT NULL").map(\.count).reduce(0, +)
        }
        #expect(codec == .raw ? blobs == 0 : blobs > 0)
        #expect(try TraceReader(path: path).summary().touchStreamBytes == UInt64(blobs))
        if codec != .raw {
            let repeating = try DatabaseQueue(path: path).read { db in
                try Int.fetchOne(db, sql: "SELECT sum(length(touches)) FROM chunks WHERE thread = 0") ?? -1
            }
            // 60,000 same-as-last decisions: well under 0.01 bits each, plus the coder's few bytes per chunk.
            #expect(repeating > 0 && repeating < 15 * 8 + 60, "\(repeating) bytes")
        }
    }

    /// `forEachChunk(dataTouches: false)`: model-coded touches are counted, not decoded; the blocks and the
    /// payload's events are as with decoding, and the counts are the touches a decoding pass returns.
    @Test(arguments: [BlockStreamCodec.predictive, .raw])
    func touchesCanBeCountedWithoutDecoding(codec: BlockStreamCodec) throws {
        let scratch = Scratch("touchcount\(codec)")
        defer { scratch.remove() }
        let path = scratch.path("t.plextrace")
        let expected = try Self.write(path, codec: codec)
        var decoded: [StreamChunk] = [], counted: [StreamChunk] = []
        try TraceReader(path: path).forEachChunk { decoded.append($0) }
        try TraceReader(path: path).forEachChunk(dataTouches: false) { counted.append($0) }
        #expect(decoded.map(\.blocks) == counted.map(\.blocks))
        #expect(decoded.map(\.dataTouchCount) == counted.map(\.dataTouchCount))
        #expect(counted.reduce(0) { $0 + $1.dataTouchCount } == UInt64(expected.values.reduce(0) { $0 + $1.count }))
        if codec == .raw {
            // Raw chunks keep their touches in the payload: those come decoded either way.
            #expect(decoded == counted)
        } else {
            #expect(counted.allSatisfy { $0.dataTouches.isEmpty && $0.undecodedDataTouches > 0 })
            #expect(decoded.allSatisfy { $0.undecodedDataTouches == 0 })
        }
    }

    /// Schema 7 writes model 2 and names it in every coded blob's first byte. The same file turned into a
    /// schema-6 one (every blob recoded by model 1 without the byte, checksums redone, user_version 6) reads
    /// back the same touches: old traces stay readable.
    @Test func schema6TracesOfModel1StillRead() throws {
        let scratch = Scratch("touchmodel6")
        defer { scratch.remove() }
        let path = scratch.path("t.plextrace")
        let expected = try Self.write(path, codec: .predictive)
        var chunks: [StreamChunk] = []
        try TraceReader(path: path).forEachChunk { chunks.append($0) }
        try DatabaseQueue(path: path).writeWithoutTransaction { db in
            let firstBytes = try Data.fetchAll(db, sql: "SELECT touches FROM chunks WHERE touches IS NOT NULL").map { $0.first }
            #expect(firstBytes.count == 30 && firstBytes.allSatisfy { $0 == TouchModelVersion.listHistory.rawValue })
            var encoders: [UInt32: TouchStreamEncoder] = [:]
            for chunk in chunks {
                let sequence = Int64(chunk.sequence)
                let encoder = encoders[chunk.thread] ?? TouchStreamEncoder(model: .lastList)
                encoders[chunk.thread] = encoder
                let model1 = chunk.blocks.withUnsafeBufferPointer {
                    encoder.encode(blocks: $0, firstEventIndex: chunk.firstEventIndex, touches: chunk.dataTouches[...])
                }
                let row = try Row.fetchOne(db, sql: """
                    SELECT sequence, thread, first_event_index, block_count, codec, blocks, blocks_size, events, events_size,
                           code_writes, syscalls, data_touches, system_events FROM chunks WHERE sequence = ?
                    """, arguments: [sequence])!
                let record = ChunkRecord(sequence: row[0], thread: UInt32(row[1] as Int64),
                                         firstEventIndex: UInt64(row[2] as Int64), blockCount: row[3],
                                         codec: UInt8(row[4] as Int64), blocks: [UInt8](row[5] as Data), blocksSize: row[6],
                                         events: (row[7] as Data?).map { [UInt8]($0) } ?? [], eventsSize: row[8],
                                         codeWrites: row[9], syscalls: row[10], dataTouches: row[11],
                                         systemEvents: row[12], touches: model1)
                try db.execute(sql: "UPDATE chunks SET touches = ?, checksum = ? WHERE sequence = ?",
                               arguments: [Data(model1), Int64(bitPattern: record.checksum), sequence])
            }
            try db.execute(sql: "PRAGMA user_version = 6")
        }
        let reader = try TraceReader(path: path)
        #expect(reader.schemaVersion == 6)
        #expect(try Self.read(path) == expected)
        #expect(try reader.verify().isEmpty)
    }

    /// A byte of a chunk's coded touches changed: the chunk fails its checksum, which covers them.
    @Test func aChangedTouchByteFailsTheChecksum() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let path = scratch.path("t.plextrace")
        _ = try Self.write(path, codec: .predictiveFast)
        try DatabaseQueue(path: path).write { db in
            let blob = try Data.fetchOne(db, sql: "SELECT touches FROM chunks WHERE sequence = 3")!
            var bytes = [UInt8](blob)
            bytes[bytes.count / 2] ^= 0x10
            try db.execute(sql: "UPDATE chunks SET touches = ? WHERE sequence = 3", arguments: [Data(bytes)])
        }
        let line = errorLine { _ = try Self.read(path) }
        #expect(line?.contains("fails its checksum") == true, "\(line ?? "no error")")
    }
}

/// A blob of touch model 2's earlier form (model byte 2, valid checksum) is refused in one line that says what to
/// do, never decoded by today's model into wrong touches.
@Suite struct RetiredTouchModelTests {
    @Test func aBlobNamingTheRetiredModelByteIsRefused() throws {
        let scratch = Scratch("touchretired")
        defer { scratch.remove() }
        let path = scratch.path("t.plextrace")
        _ = try TouchModelTests.write(path, codec: .predictiveFast)
        try TouchModelHostileTests.replaceTouches(ofChunk: 0, in: path) { touches in
            #expect(touches.first == TouchModelVersion.listHistory.rawValue)
            touches[0] = TouchModelVersion.retiredListHistory
        }
        let line = errorLine { _ = try TouchModelTests.read(path) }
        #expect(line?.contains("touch model byte 2") == true && line?.contains("--no-pack recording again") == true,
                "\(line ?? "no error")")
        #expect(line?.contains("\n") == false)
    }
}

/// Garbage coded touches under a valid checksum (a file written by something else): the chunk is reported bad,
/// in one line, without a crash or an unbounded allocation, and the thread's later chunks are refused.
@Suite struct TouchModelHostileTests {
    @Test(arguments: [0, 1, 2, 3])
    func garbageTouchesAreABadChunk(seed: Int) throws {
        let scratch = Scratch("touchgarbage\(seed)")
        defer { scratch.remove() }
        let path = scratch.path("t.plextrace")
        _ = try TouchModelTests.write(path, codec: .predictiveFast)
        var rng = SplitMix64(seed: UInt64(seed))
        try Self.replaceTouches(ofChunk: 5, in: path) { touches in
            #expect(!touches.isEmpty)
            let length = [1, 7, 64, 4096][seed]
            touches = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
        }
        let line = errorLine { _ = try TouchModelTests.read(path) }
        #expect(line?.contains("data touches do not decode") == true, "\(line ?? "no error")")
        let problems = try TraceReader(path: path).verify()
        #expect(!problems.isEmpty)
    }

    /// Rewrites chunk `sequence`'s coded touches with `change` and a checksum that matches them (a file that
    /// something other than PlexLab wrote, or an older PlexLab).
    static func replaceTouches(ofChunk sequence: Int, in path: String, _ change: (inout [UInt8]) -> Void) throws {
        try DatabaseQueue(path: path).write { db in
            let row = try Row.fetchOne(db, sql: """
                SELECT sequence, thread, first_event_index, block_count, codec, blocks, blocks_size, events, events_size,
                       code_writes, syscalls, data_touches, system_events, touches FROM chunks WHERE sequence = ?
                """, arguments: [sequence])!
            var touches = [UInt8](row[13] as Data)
            change(&touches)
            let record = ChunkRecord(sequence: row[0], thread: UInt32(row[1] as Int64),
                                     firstEventIndex: UInt64(row[2] as Int64), blockCount: row[3], codec: UInt8(row[4] as Int64),
                                     blocks: [UInt8](row[5] as Data), blocksSize: row[6],
                                     events: (row[7] as Data?).map { [UInt8]($0) } ?? [], eventsSize: row[8],
                                     codeWrites: row[9], syscalls: row[10], dataTouches: row[11], systemEvents: row[12],
                                     touches: touches)
            try db.execute(sql: "UPDATE chunks SET touches = ?, checksum = ? WHERE sequence = ?",
                           arguments: [Data(touches), Int64(bitPattern: record.checksum), sequence])
        }
    }
}
