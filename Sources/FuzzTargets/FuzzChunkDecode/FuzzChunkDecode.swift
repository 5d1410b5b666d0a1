@_spi(Fuzzing) import TraceStore
import FuzzSupport
import TraceModel

/// The chunk decoder: chunk rows (see `ChunkFuzzing`) checked and decoded by the reader's own decoder,
/// with forged checksums so every input reaches the size, inflate and payload checks.
@main enum FuzzChunkDecode {
    static func main() {
        FuzzDriver.main({ data, size in
            _ = ChunkFuzzing.decode(UnsafeRawBufferPointer(start: data, count: size))
            return 0
        }, seeds: seeds)
    }

    /// Well-formed inputs in both block codecs: one and several threads, every side-event kind, a long chunk.
    static func seeds() -> [String: [UInt8]] {
        let loop = StreamChunk(sequence: 0, thread: 0, firstEventIndex: 0, blocks: [0, 1, 2, 3, 1, 2, 3, 1, 2, 4],
                               syscalls: [SyscallEvent(eventIndex: 9, number: 60)])
        let second = StreamChunk(sequence: 1, thread: 0, firstEventIndex: 10, blocks: [4, 4, 3],
                                 codeWrites: [CodeWrite(eventIndex: 11, address: 0x401001, size: 4)],
                                 dataTouches: [DataTouch(eventIndex: 10, page: 0x601000, reads: 3, writes: 1),
                                               DataTouch(eventIndex: 12, page: 0x7ff000, reads: 0, writes: 9)])
        let other = StreamChunk(sequence: 2, thread: 1, firstEventIndex: 0, blocks: (0..<200).map { BlockID($0 % 5) })
        let long = StreamChunk(sequence: 0, thread: 2, firstEventIndex: 0, blocks: (0..<4096).map { BlockID($0 % 7) },
                               syscalls: (0..<16).map { SyscallEvent(eventIndex: UInt64($0 * 256), number: Int64($0)) })
        // 40 threads, each with two chunks before the next starts (ended threads' coders go), then 20 threads
        // live at once (past the 16-coder cap: the predictive coding of threads 16 ... 19 is refused).
        var sequential: [StreamChunk] = []
        for t in 0..<40 {
            let first: [BlockID] = (0..<9).map { BlockID(($0 + t) % 5) }
            sequential.append(StreamChunk(sequence: 0, thread: UInt32(t), firstEventIndex: 0, blocks: first))
            sequential.append(StreamChunk(sequence: 0, thread: UInt32(t), firstEventIndex: 9, blocks: [BlockID(t % 5)]))
        }
        var concurrent: [StreamChunk] = []
        for round in 0..<2 {
            for t in 0..<20 {
                let blocks: [BlockID] = [BlockID(t % 5), BlockID((t + round) % 5), 0]
                concurrent.append(StreamChunk(sequence: 0, thread: UInt32(t), firstEventIndex: UInt64(3 * round), blocks: blocks))
            }
        }
        let shapes: [(String, UInt8, [StreamChunk])] = [
            ("many-threads", 5, sequential),
            ("many-live-threads", 5, concurrent),
            ("one-chunk", 5, [loop]),
            ("two-threads", 5, [loop, second, other]),
            ("long-chunk", 7, [long]),
            ("empty-chunk", 0, [StreamChunk(sequence: 0, thread: 0, firstEventIndex: 0, blocks: [])]),
        ]
        var seeds: [String: [UInt8]] = [:]
        for (name, definitions, chunks) in shapes {
            for codec in BlockStreamCodec.allCases {
                seeds["\(name)-\(codec)"] = ChunkFuzzing.input(definitionCount: definitions, chunks: chunks, codec: codec)
            }
        }
        return seeds
    }
}
