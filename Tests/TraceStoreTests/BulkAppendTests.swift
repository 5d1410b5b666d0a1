import Foundation
import GRDB
import Testing
import TraceModel
@testable import TraceStore

/// `append(thread:blocks:)` and `commitInBackground` must write exactly the file that block-by-block
/// appends with inline commits write.
@Suite struct BulkAppendTests {
    /// Writes the same seeded trace two ways: one block per call with inline commits, or random batches
    /// with background commits. Two threads, side events, repeated page contents (dedup after a commit).
    private func write(at path: String, batched: Bool, chunkBlocks: Int) throws -> [UInt32: [BlockID]] {
        var rng = SplitMix64(seed: 2024)
        let writer = try TraceWriter(path: path, metadata: sampleMetadata(), options: .init(
            chunkBlocks: chunkBlocks, overwrite: true, blockCodec: .predictive, commitInBackground: batched))
        var written: [UInt32: [BlockID]] = [:]
        for _ in 0..<40 { try definePaged(writer, randomDefinition(&rng)) }
        for round in 0..<60 {
            let thread = UInt32(round % 3 == 0 ? 1 : 0)
            let count = Int.random(in: 0...200, using: &rng)
            let blocks = (0..<count).map { _ in BlockID.random(in: 0..<40, using: &rng) }
            let next = writer.nextEventIndex(thread: thread)
            if count > 0 {
                writer.record(thread: thread, syscall: SyscallEvent(eventIndex: next + UInt64(count - 1), number: Int64(round)))
            }
            if batched {
                try blocks.withUnsafeBufferPointer { try writer.append(thread: thread, blocks: $0) }
            } else {
                for id in blocks { try writer.append(thread: thread, block: id) }
            }
            written[thread, default: []] += blocks
            if round % 10 == 5 {
                // The same content at a new address: the blob is found again, maybe while still in flight.
                let fill = UInt8(round / 10 % 2)
                try writer.addCodePage(CodePage(address: UInt64(round) << 12, version: 0,
                                                bytes: [UInt8](repeating: fill, count: CodePage.size)))
            }
        }
        try writer.finish(exitStatus: 0, signal: nil, note: "")
        return written
    }

    @Test(arguments: [1, 7, 64, 1000])
    func batchesInTheBackgroundWriteTheSameChunks(chunkBlocks: Int) throws {
        let scratch = Scratch("bulk\(chunkBlocks)")
        defer { scratch.remove() }
        let inline = try write(at: scratch.path("inline.plextrace"), batched: false, chunkBlocks: chunkBlocks)
        let batched = try write(at: scratch.path("batched.plextrace"), batched: true, chunkBlocks: chunkBlocks)
        #expect(inline == batched)

        func rows(_ file: String) throws -> [Row] {
            try DatabaseQueue(path: scratch.path(file)).read { db in
                try Row.fetchAll(db, sql: "SELECT * FROM chunks ORDER BY sequence")
                    + Row.fetchAll(db, sql: "SELECT * FROM summary")
                    + Row.fetchAll(db, sql: "SELECT * FROM code_pages ORDER BY address")
                    + Row.fetchAll(db, sql: "SELECT id, hash FROM code_blobs ORDER BY id")
            }
        }
        let inlineRows = try rows("inline.plextrace")
        #expect(inlineRows == (try rows("batched.plextrace")))
        // Six page versions below 0x3c000 share two contents; the blocks' pages (0x400000 and up) a third.
        let (pages, blobs) = try DatabaseQueue(path: scratch.path("batched.plextrace")).read { db in
            (try Int.fetchOne(db, sql: "SELECT count(*) FROM code_pages WHERE address BETWEEN 0 AND 0x3c000"),
             try Int.fetchOne(db, sql: "SELECT count(*) FROM code_blobs"))
        }
        #expect(pages == 6 && blobs == 3)

        let reader = try TraceReader(path: scratch.path("batched.plextrace"))
        #expect(reader.metadata.complete)
        var read: [UInt32: [BlockID]] = [:]
        try reader.forEachChunk { chunk in
            #expect(chunk.blocks.count <= chunkBlocks)
            read[chunk.thread, default: []] += chunk.blocks
        }
        #expect(read == batched.filter { !$0.value.isEmpty })
        #expect(try reader.verify().isEmpty)
    }

    @Test func anUndefinedBlockInABatchAppendsThoseBeforeItAndThrows() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        var rng = SplitMix64(seed: 5)
        let writer = try TraceWriter(path: scratch.path("t.plextrace"), metadata: sampleMetadata(),
                                     options: .init(chunkBlocks: 2, commitInBackground: true))
        for _ in 0..<3 { _ = try writer.define(randomDefinition(&rng)) }
        let blocks: [BlockID] = [0, 1, 2, 0, 1, 3, 2]
        #expect(throws: TraceStoreError.self) {
            try blocks.withUnsafeBufferPointer { try writer.append(thread: 4, blocks: $0) }
        }
        #expect(writer.nextEventIndex(thread: 4) == 5)
        try writer.finish(exitStatus: 0, signal: nil, note: "")
        let reader = try TraceReader(path: scratch.path("t.plextrace"))
        var read: [BlockID] = []
        try reader.forEachChunk { read += $0.blocks }
        #expect(read == [0, 1, 2, 0, 1])
        #expect(try reader.summary().chunks == 3)
    }
}
