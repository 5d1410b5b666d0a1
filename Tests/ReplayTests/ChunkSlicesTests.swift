@testable import Replay
import Testing
import TraceModel

/// The engine hands a large chunk to the strategies in slices (`ChunkSlices`); that must be invisible.
@Suite struct ChunkSlicesTests {
    /// Slices hold the chunk's blocks in order, each side event with the block it belongs to, and an event
    /// before the chunk's first block with that block.
    @Test func slicesPartitionBlocksAndEvents() {
        let chunk = StreamChunk(
            sequence: 7, thread: 2, firstEventIndex: 100, blocks: (0..<10).map { BlockID($0 * 3) },
            codeWrites: [CodeWrite(eventIndex: 99, address: 1, size: 1), CodeWrite(eventIndex: 103, address: 2, size: 1),
                         CodeWrite(eventIndex: 104, address: 3, size: 1)],
            syscalls: [SyscallEvent(eventIndex: 107, number: 60), SyscallEvent(eventIndex: 109, number: 231)],
            dataTouches: [DataTouch(eventIndex: 100, page: 0x1000, reads: 1, writes: 0),
                          DataTouch(eventIndex: 108, page: 0x2000, reads: 0, writes: 1)],
            systemEvents: [SystemEvent(eventIndex: 103, kind: .interrupt, vector: 32),
                           SystemEvent(eventIndex: 104, kind: .exception, vector: 14, address: 0x5000),
                           SystemEvent(eventIndex: 109, kind: .pageTableStore, address: 0x9008)])
        var slices = ChunkSlices(chunk, size: 4)
        var all: [StreamChunk] = []
        while let slice = slices.next() { all.append(slice) }
        #expect(all.map(\.blocks) == [[0, 3, 6, 9], [12, 15, 18, 21], [24, 27]])
        #expect(all.map(\.firstEventIndex) == [100, 104, 108])
        #expect(all.allSatisfy { $0.sequence == 7 && $0.thread == 2 })
        #expect(all.map { $0.codeWrites.map(\.address) } == [[1, 2], [3], []])
        #expect(all.map { $0.syscalls.map(\.number) } == [[], [60], [231]])
        #expect(all.map { $0.dataTouches.map(\.page) } == [[0x1000], [], [0x2000]])
        #expect(all.map { $0.systemEvents.map(\.kind) } == [[.interrupt], [.exception], [.pageTableStore]])
        #expect(all.map(\.endsThread) == [false, false, false])
        // A thread's last chunk: only its last slice says so (the strategies drop per-thread state after it).
        var last = chunk
        last.endsThread = true
        var lastSlices = ChunkSlices(last, size: 4)
        var ends: [Bool] = []
        while let slice = lastSlices.next() { ends.append(slice.endsThread) }
        #expect(ends == [false, false, true])
        // Every event keeps its block: the same block id at its position in the slice as in the chunk.
        for slice in all {
            for write in slice.codeWrites where write.eventIndex >= 100 {
                #expect(slice.blocks[slice.position(ofEvent: write.eventIndex)]
                        == chunk.blocks[chunk.position(ofEvent: write.eventIndex)])
            }
        }
    }

    /// The worked example with 12,000 iterations (36,001 blocks, above two slices), code writes and data
    /// touches on both sides of every slice boundary: one chunk (sliced by the engine) and chunks of 1,000
    /// blocks (never sliced) give the same numbers, for every strategy and both legacy data policies.
    @Test(arguments: ["not-present", "map-data"])
    func slicedAndUnslicedChunksCountAlike(policy: String) throws {
        let boundaries = [ReplayEngine.sliceBlocks, 2 * ReplayEngine.sliceBlocks]
        let script = WorkedExample.script(n: 12_000) { script, index in
            if boundaries.contains(where: { abs($0 - index) <= 1 }) {
                script.codeWrite(WorkedExample.far + 0x10, size: 4)
                script.dataTouch(0x600000, reads: 1, writes: 1)
            }
            if index % 5_000 == 0 { script.dataTouch(WorkedExample.far, reads: 1, writes: 0) }
        }
        let whole = script.trace
        #expect(whole.chunks.count == 1 && whole.chunks[0].blocks.count == 36_001)
        var pieces = whole
        pieces.chunks = []
        var slices = ChunkSlices(whole.chunks[0], size: 1_000)
        while var piece = slices.next() {
            piece.sequence = UInt64(pieces.chunks.count)
            pieces.chunks.append(piece)
        }
        let parameters = try ReplayParameters(arguments: ["legacy-policy=\(policy)"])
        let sliced = try ReplayEngine.run(source: whole, path: "whole", strategies: ["all"], parameters: parameters)
        let unsliced = try ReplayEngine.run(source: pieces, path: "pieces", strategies: ["all"], parameters: parameters)
        #expect(sliced.summary.blocks == 36_001 && sliced.summary.codeWrites == 6)
        for name in StrategyRegistry.names {
            let a = try #require(sliced.strategy(name)), b = try #require(unsliced.strategy(name))
            #expect(a.counts == b.counts, "\(name)")
            #expect(a.sites == b.sites && a.pages == b.pages, "\(name)")
            #expect(a.scanned == b.scanned && a.scans == b.scans && a.translated == b.translated, "\(name)")
        }
        // The writes reached the strategies. Block i >= 3 is BL, F, B1 for (i - 3) % 3 = 0, 1, 2; a write
        // faults under sbe only while far_func's page is scanned, i.e. when F ran since the last write:
        // after 16383 (BL) and 16384 (F), not 16385 (B1); after 32767 (F), not 32768 (B1) or 32769 (BL).
        #expect(try #require(sliced.strategy("sbe")).nonzero[.pfWrite] == 3)
    }
}
