import Foundation
import Testing
import TraceModel
import TraceStore

/// A reader opened while a writer appends (WAL), on another thread, again and again.
@Suite struct LiveReaderTests {
    /// Written by the writer thread, read by the test: only `done` is shared, under a lock.
    private final class WriterState: @unchecked Sendable {
        private let lock = NSLock()
        private var finished = false
        private var failure: String?
        var done: Bool { lock.withLock { finished } }
        var error: String? { lock.withLock { failure } }
        func finish(_ error: String?) { lock.withLock { finished = true; failure = error } }
    }

    /// Block `n` of thread `t` in the stream the writer produces.
    private static func block(thread: UInt32, _ n: Int) -> BlockID { BlockID((n + Int(thread) * 3) % 11) }

    @Test func readersDuringAWriteSeeConsistentPrefixes() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let path = scratch.path("live.plextrace")
        let chunkBlocks = 32, rounds = 300
        let state = WriterState()
        // The writer exists before the reader starts, so the file always has its schema.
        let writer = try TraceWriter(path: path, metadata: testMetadata, options: .init(chunkBlocks: chunkBlocks))
        for i in 0..<11 { _ = try writer.define(testDefinition(i)) }
        try writer.addCodePage(testCodePage)
        try writer.flush()
        nonisolated(unsafe) let handOff = writer
        let thread = Thread {
            do {
                for round in 0..<rounds {
                    for t: UInt32 in [0, 1] {
                        for k in 0..<chunkBlocks { try handOff.append(thread: t, block: Self.block(thread: t, round * chunkBlocks + k)) }
                    }
                }
                try handOff.finish(exitStatus: 0, signal: nil, note: "")
                state.finish(nil)
            } catch {
                state.finish("\(error)")
            }
        }
        thread.start()

        var sizes: Set<UInt64> = []
        var looks = 0
        while !state.done || looks == 0 {
            let reader = try TraceReader(path: path)
            let summary = try reader.summary()
            var counts: [UInt32: Int] = [:]
            var chunks: UInt64 = 0
            try reader.forEachChunk { chunk in
                let start = counts[chunk.thread, default: 0]
                #expect(chunk.firstEventIndex == UInt64(start))
                #expect(chunk.blocks == (start..<start + chunk.blocks.count).map { Self.block(thread: chunk.thread, $0) })
                counts[chunk.thread] = start + chunk.blocks.count
                chunks += 1
            }
            // The summary and the chunks come from one snapshot each; the writer commits both together.
            #expect(summary.chunks <= chunks)
            #expect(try reader.verify().isEmpty)
            #expect(counts.values.allSatisfy { $0 % chunkBlocks == 0 })
            sizes.insert(chunks)
            looks += 1
        }
        #expect(state.error == nil)
        let final = try TraceReader(path: path)
        #expect(final.metadata.complete)
        #expect(try final.summary().blocksExecuted == UInt64(2 * rounds * chunkBlocks))
        #expect(sizes.count >= 3, "snapshots saw \(sizes.sorted()) chunks after \(looks) looks")
    }
}
