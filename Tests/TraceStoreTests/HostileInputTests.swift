import CZstd
import Foundation
import GRDB
import Testing
import TraceModel
@testable import TraceStore

/// Files from strangers: each ends in one clear error line (or a listed bad chunk), never a crash or a hang.
@Suite struct HostileInputTests {
    private func open(_ path: String) -> String? {
        errorLine { _ = try TraceReader(path: path) }
    }

    @Test func randomBytesAreNotATrace() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let path = scratch.path("x.plextrace")
        var rng = SplitMix64(seed: 7)
        try Data((0..<5000).map { _ in UInt8.random(in: 0...255, using: &rng) }).write(to: URL(fileURLWithPath: path))
        #expect(open(path) == "\(path) is not a PlexLab trace (not an SQLite database)")
        try Data().write(to: URL(fileURLWithPath: path))
        #expect(open(path) == "\(path) is not a PlexLab trace (empty file)")
        #expect(open(scratch.path("missing.plextrace")) == "\(scratch.path("missing.plextrace")) is not a PlexLab trace (no such file)")
    }

    @Test func aPlainSQLiteDatabaseIsNotATrace() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let path = scratch.path("plain.plextrace")
        try DatabaseQueue(path: path).write { db in try db.execute(sql: "CREATE TABLE t (x)") }
        #expect(open(path) == "\(path) is not a PlexLab trace (an SQLite database with application id 0, not PlexLab's 1347180628)")

        // Our application id and schema version, but not our tables.
        let forged = scratch.path("forged.plextrace")
        try DatabaseQueue(path: forged).writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA application_id = \(TraceSchema.applicationID); PRAGMA user_version = 1; CREATE TABLE blocks (id)")
        }
        #expect(open(forged) == "\(forged) is refused: its blocks table lacks column address")
        try DatabaseQueue(path: forged).write { db in try db.execute(sql: "DROP TABLE blocks") }
        #expect(open(forged) == "\(forged) is refused: it lacks the blocks table of schema version 1")

        // Our tables, one column short.
        let short = scratch.path("short.plextrace")
        try writeSimpleTrace(at: short, chunks: 1)
        try DatabaseQueue(path: short).write { db in try db.execute(sql: "ALTER TABLE modules DROP COLUMN path") }
        #expect(open(short) == "\(short) is refused: its modules table lacks column path")
        // Schema 2 without its column; the same file claiming schema 1 is a schema-1 trace.
        try writeSimpleTrace(at: short, chunks: 1)
        try DatabaseQueue(path: short).write { db in try db.execute(sql: "ALTER TABLE blocks DROP COLUMN last_instruction_offset") }
        #expect(open(short) == "\(short) is refused: its blocks table lacks column last_instruction_offset")
        try DatabaseQueue(path: short).writeWithoutTransaction { db in try db.execute(sql: "PRAGMA user_version = 1") }
        #expect(open(short) == nil)
        #expect(try TraceReader(path: short).blockDefinitions().allSatisfy { $0.lastInstructionOffset == nil })
    }

    @Test func aNewerSchemaIsRefusedAndLeftUntouched() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let path = scratch.path("new.plextrace")
        try writeSimpleTrace(at: path, chunks: 2)
        try DatabaseQueue(path: path).writeWithoutTransaction { db in try db.execute(sql: "PRAGMA user_version = 8") }
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(open(path) == "trace \(path) uses schema version 8; this plexlab reads up to \(TraceSchema.currentVersion)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
    }

    @Test func truncatedFilesSayTheyAreTruncated() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let path = scratch.path("t.plextrace")
        try writeSimpleTrace(at: path, chunks: 40, chunkBlocks: 500, definitions: 300)
        let full = try Data(contentsOf: URL(fileURLWithPath: path))
        for cut in [full.count / 2, full.count - 1, 4096, 60] {
            try full.prefix(cut).write(to: URL(fileURLWithPath: path))
            let line = open(path)
            #expect(line?.hasPrefix("\(path) is truncated (\(cut) bytes") == true, "cut \(cut): \(line ?? "opened")")
            #expect(line?.contains("\n") == false)
        }
    }

    /// Rewrites one chunk row through SQL (the test plays the stranger).
    private func tamper(_ path: String, _ sql: String, _ arguments: StatementArguments = []) throws {
        try DatabaseQueue(path: path).write { db in try db.execute(sql: sql, arguments: arguments) }
    }

    private func chunkBlob(_ path: String, _ column: String, sequence: Int) throws -> [UInt8] {
        try DatabaseQueue(path: path).read { db in
            [UInt8](try Data.fetchOne(db, sql: "SELECT \(column) FROM chunks WHERE sequence = ?", arguments: [sequence])!)
        }
    }

    @Test func flippedBytesAreListedByVerifyAndNamedByTheReader() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let path = scratch.path("t.plextrace")
        try writeSimpleTrace(at: path, chunks: 6)
        var blocks = try chunkBlob(path, "blocks", sequence: 2)
        blocks[blocks.count / 2] ^= 0x40
        try tamper(path, "UPDATE chunks SET blocks = ? WHERE sequence = 2", [Data(blocks)])
        var events = try chunkBlob(path, "events", sequence: 4)
        events[events.count - 1] ^= 0x01
        try tamper(path, "UPDATE chunks SET events = ? WHERE sequence = 4", [Data(events)])
        try tamper(path, "UPDATE chunks SET thread = 'zero' WHERE sequence = 5")

        let reader = try TraceReader(path: path)
        let problems = try reader.verify()
        #expect(problems.map(\.sequence) == [2, 4, 5])
        #expect(problems[0].reason == "fails its checksum")
        #expect(problems[1].reason == "fails its checksum")
        #expect(problems[2].reason == "chunk column thread is not an integer")
        #expect(problems[0].description == "chunk 2 (thread 0): fails its checksum")
        var good = 0
        let line = errorLine { try reader.forEachChunk { _ in good += 1 } }
        #expect(line == "\(path): chunk 2 fails its checksum")
        #expect(good == 2)
    }

    /// A chunk whose checksum is right (the stranger recomputed it) but whose contents lie.
    private func forgeChunk(_ path: String, sequence: Int, blockCount: Int, blocks: [UInt8], blocksSize: Int) throws {
        let checksum = blocks.withUnsafeBytes { b in
            [UInt8]().withUnsafeBytes { e in
                ChunkRecord.checksum(sequence: Int64(sequence), thread: 0, firstEventIndex: UInt64(sequence * 8),
                                     blockCount: blockCount, codec: 0, blocksSize: blocksSize, eventsSize: 0,
                                     codeWrites: 0, syscalls: 0, dataTouches: 0, blocks: b, events: e)
            }
        }
        try tamper(path, """
            UPDATE chunks SET block_count = ?, blocks = ?, blocks_size = ?, events = NULL, events_size = 0,
                code_writes = 0, syscalls = 0, data_touches = 0, checksum = ? WHERE sequence = ?
            """, [blockCount, Data(blocks), blocksSize, Int64(bitPattern: checksum), sequence])
    }

    /// Peak resident memory of this process so far (VmHWM), in bytes.
    private func peakResidentBytes() -> Int {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") } ?? ""
        return (Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) * 1024
    }

    /// zstd frame of `size` zero bytes, streamed without a content size in its header.
    private func zeroBomb(size: Int) -> [UInt8] {
        let context = ZSTD_createCCtx()!
        defer { ZSTD_freeCCtx(context) }
        _ = ZSTD_CCtx_setParameter(context, ZSTD_c_contentSizeFlag, 0)
        let zeros = [UInt8](repeating: 0, count: 1 << 20)
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        var remaining = size
        while true {
            let take = min(remaining, zeros.count)
            remaining -= take
            let mode = remaining == 0 ? ZSTD_e_end : ZSTD_e_continue
            var pending = 1
            zeros.withUnsafeBytes { z in
                var input = ZSTD_inBuffer(src: z.baseAddress, size: take, pos: 0)
                while input.pos < input.size || (mode == ZSTD_e_end && pending != 0) {
                    buffer.withUnsafeMutableBytes { b in
                        var output = ZSTD_outBuffer(dst: b.baseAddress, size: b.count, pos: 0)
                        pending = ZSTD_compressStream2(context, &output, &input, mode)
                        out += b.prefix(output.pos)
                    }
                    if mode != ZSTD_e_end && input.pos == input.size { break }
                }
            }
            if remaining == 0 { return out }
        }
    }

    @Test func aChunkThatInflatesPastItsDeclaredSizeIsAnErrorWithBoundedMemory() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let path = scratch.path("t.plextrace")
        try writeSimpleTrace(at: path, chunks: 4)
        // Chunk 1: claims 1 KiB (256 blocks), inflates to 1 GiB, no size in the frame header.
        let bomb = zeroBomb(size: 1 << 30)
        #expect(bomb.count < 1 << 20)
        try forgeChunk(path, sequence: 1, blockCount: 256, blocks: bomb, blocksSize: 1024)
        // Chunk 3: claims 1 KiB, the frame header says 64 MiB.
        let sized = [UInt8](repeating: 0, count: 64 << 20).withUnsafeBytes { ZstdCompressor().compress($0) }
        try forgeChunk(path, sequence: 3, blockCount: 256, blocks: sized, blocksSize: 1024)

        let before = peakResidentBytes()
        let reader = try TraceReader(path: path)
        #expect(errorLine { try reader.forEachChunk { _ in } } == "\(path): chunk 1 block payload inflates past its declared 1024 bytes")
        let problems = try reader.verify()
        #expect(problems.map(\.sequence) == [1, 3])
        #expect(problems.allSatisfy { $0.reason == "block payload inflates past its declared 1024 bytes" })
        #expect(peakResidentBytes() - before < 512 << 20)
    }

    @Test func liesAboutSizesAndIdsAreBadChunks() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let path = scratch.path("t.plextrace")
        try writeSimpleTrace(at: path, chunks: 4, definitions: 5)
        let compressor = ZstdCompressor()
        // Chunk 0 declares 8 blocks but stores 7 ids; chunk 1 names block 5 of 5; chunk 2 declares 2 GiB.
        let seven = [UInt8](repeating: 0, count: 28).withUnsafeBytes { compressor.compress($0) }
        try forgeChunk(path, sequence: 0, blockCount: 8, blocks: seven, blocksSize: 32)
        let outOfRange = [BlockID](repeating: 5, count: 8).withUnsafeBytes { compressor.compress($0) }
        try forgeChunk(path, sequence: 1, blockCount: 8, blocks: outOfRange, blocksSize: 32)
        try forgeChunk(path, sequence: 2, blockCount: 8, blocks: seven, blocksSize: 2 << 30)
        let problems = try TraceReader(path: path).verify()
        #expect(problems.map(\.sequence) == [0, 1, 2])
        #expect(problems[0].reason == "block payload inflates to 28 bytes, not the declared 32")
        #expect(problems[1].reason == "refers to block 5 but the trace defines 5")
        #expect(problems[2].reason == "chunk column blocks_size is not within 0...268435456")
    }

    @Test func aMissingChunkBreaksItsThreadsContinuity() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let path = scratch.path("t.plextrace")
        try writeSimpleTrace(at: path, chunks: 4)
        try tamper(path, "DELETE FROM chunks WHERE sequence = 1")
        let problems = try TraceReader(path: path).verify()
        #expect(problems.map(\.sequence) == [2])
        #expect(problems.first?.reason == "starts at event 16 but thread 0's previous chunks end at 8 (a chunk is missing or repeated)")
    }

    @Test(arguments: ["CREATE TRIGGER sneaky AFTER INSERT ON modules BEGIN DELETE FROM chunks; END",
                      "CREATE VIEW sneaky AS SELECT * FROM chunks"])
    func schemaWithTriggersOrViewsIsRefused(sql: String) throws {
        let scratch = Scratch("schema\(sql.count)")
        defer { scratch.remove() }
        let path = scratch.path("t.plextrace")
        try writeSimpleTrace(at: path, chunks: 1)
        try tamper(path, sql)
        let kind = sql.contains("TRIGGER") ? "trigger" : "view"
        #expect(open(path) == "\(path) is refused: its SQL schema carries a \(kind) (\"sneaky\"), which a trace never has")
    }

    @Test func damagedRecordsOutsideChunksAreOneLineErrors() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let path = scratch.path("t.plextrace")
        let defs = try writeSimpleTrace(at: path, chunks: 1)
        try tamper(path, "UPDATE metadata SET arch = 'pdp11'")
        #expect(open(path) == "\(path) is damaged: metadata arch \"pdp11\" is unknown")
        try tamper(path, "UPDATE metadata SET arch = 'x86_64', note = printf('%.*c', 9000000, 'x')")
        // 9,000,000 bytes of note plus the other fields' ~100.
        let line = open(path) ?? ""
        #expect(line.hasPrefix("\(path) is damaged: the metadata row holds 9000") && line.hasSuffix(" bytes of text"))
        try tamper(path, "UPDATE metadata SET note = ''; UPDATE blocks SET exit_kind = 77 WHERE id = 3")
        #expect(errorLine { _ = try TraceReader(path: path).blockDefinitions() } == "\(path) is damaged: block 3 has unknown exit kind 77")
        try tamper(path, "UPDATE blocks SET exit_kind = 0; UPDATE blocks SET bytes = x'00' WHERE id = 2")
        #expect(errorLine { _ = try TraceReader(path: path).blockDefinitions() }?.contains("block 2 declares") == true)
        // A last-instruction offset must lie inside the block.
        try tamper(path, "UPDATE blocks SET bytes = zeroblob(length); UPDATE blocks SET last_instruction_offset = length WHERE id = 1")
        #expect(errorLine { _ = try TraceReader(path: path).blockDefinitions() }?
            .hasSuffix("block column last_instruction_offset is not within 0...\(defs[1].length - 1)") == true)
        try tamper(path, "UPDATE blocks SET last_instruction_offset = 'x' WHERE id = 1")
        #expect(errorLine { _ = try TraceReader(path: path).blockDefinitions() }?
            .hasSuffix("block column last_instruction_offset is not an integer") == true)
    }
}
