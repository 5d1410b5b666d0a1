import Foundation
import Testing
import TraceModel
@testable import TraceStore

/// The reader reuses a thread's chunk storage from one chunk to the next; a caller that keeps chunks
/// must still see each one as it was decoded.
@Suite struct ChunkReuseTests {
    @Test(arguments: [BlockStreamCodec.raw, .predictiveFast])
    func keptAndDroppedChunksDecodeTheSame(codec: BlockStreamCodec) throws {
        let scratch = Scratch("reuse-\(codec)")
        defer { scratch.remove() }
        let path = scratch.path("t.plextrace")
        var rng = SplitMix64(seed: 77)
        let writer = try TraceWriter(path: path, metadata: sampleMetadata(), options: .init(
            chunkBlocks: 500, overwrite: true, blockCodec: codec))
        for _ in 0..<30 { _ = try writer.define(randomDefinition(&rng)) }
        // Two threads of different lengths, so chunks of both alternate and the last ones are short.
        var written: [UInt32: [BlockID]] = [:]
        for round in 0..<12 {
            let thread = UInt32(round % 2)
            let blocks = (0..<(round % 2 == 0 ? 400 : 170)).map { _ in BlockID.random(in: 0..<30, using: &rng) }
            try blocks.withUnsafeBufferPointer { try writer.append(thread: thread, blocks: $0) }
            written[thread, default: []] += blocks
        }
        try writer.finish(exitStatus: 0, signal: nil, note: "")

        let reader = try TraceReader(path: path)
        var kept: [StreamChunk] = []
        try reader.forEachChunk { kept.append($0) }
        var dropped: [UInt32: [BlockID]] = [:]
        try reader.forEachChunk { dropped[$0.thread, default: []] += $0.blocks }
        var fromKept: [UInt32: [BlockID]] = [:]
        for chunk in kept { fromKept[chunk.thread, default: []] += chunk.blocks }
        #expect(kept.count > 4)
        #expect(fromKept == written)
        #expect(dropped == written)
    }
}
