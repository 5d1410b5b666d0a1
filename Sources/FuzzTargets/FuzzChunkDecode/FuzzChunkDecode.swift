@_spi(Fuzzing) import TraceStore
import FuzzSupport
import TraceModel

/// The chunk decoder: chunk rows (see `ChunkFuzzing`) checked and decoded by the reader's own decoder,
/// with forged checksums so every input reaches the size, inflate and payload checks.
@main enum FuzzChunkDecode {
    /// Off until BlockCodec's `BlockStreamDecoder.decode` lands (the stub traps by design).
    static let predictiveDecoderLanded = false

    static func main() {
        FuzzDriver.main({ data, size in
            _ = ChunkFuzzing.decode(UnsafeRawBufferPointer(start: data, count: size),
                                    predictive: FuzzChunkDecode.predictiveDecoderLanded)
            return 0
        }, seeds: seeds)
    }

    /// Well-formed inputs: one and several threads, every side-event kind, a chunk at the event cap.
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
        return [
            "one-chunk": ChunkFuzzing.input(definitionCount: 5, chunks: [loop]),
            "two-threads": ChunkFuzzing.input(definitionCount: 5, chunks: [loop, second, other]),
            "long-chunk": ChunkFuzzing.input(definitionCount: 7, chunks: [long]),
            "empty-chunk": ChunkFuzzing.input(definitionCount: 0, chunks: [StreamChunk(sequence: 0, thread: 0,
                                                                                        firstEventIndex: 0, blocks: [])]),
        ]
    }
}
