import BlockCodec
import TraceModel

/// The chunk decoder's way in for the fuzz targets (Sources/FuzzTargets/FuzzChunkDecode): chunk rows given as
/// compact bytes instead of SQLite rows, checked and decoded by the reader's own `ChunkDecoder`. Not API.
///
/// Input layout (little-endian): u8 number of block definitions, then chunks until the bytes run out, each
/// `u8 thread, u8 codec, u32 first_event_index, u32 block_count, u32 blocks_size, u32 events_size,
/// u16 code_writes, u16 syscalls, u16 data_touches, u32 blocks length, u32 events length`, then both payloads
/// (cut short at the end of the input). Sequences count from 0 and each checksum is computed, as a stranger
/// forging a file would, so every input reaches the size, inflate and payload checks. As the reader does, the
/// decoder is told each thread's last chunk (so ended threads' state goes, and up to 256 threads meet the
/// live-coder cap).
@_spi(Fuzzing) public enum ChunkFuzzing {
    /// Bytes of one chunk header in the input.
    static let headerBytes = 32

    /// Decodes every chunk of `input` as `TraceReader.verify()` does; returns (good chunks, bad chunks).
    public static func decode(_ input: UnsafeRawBufferPointer) -> (good: Int, bad: Int) {
        guard let count = input.first else { return (0, 0) }
        var records: [ChunkRecord] = []
        var offset = 1
        while input.count - offset >= headerBytes {
            let header = UnsafeRawBufferPointer(rebasing: input[offset..<offset + headerBytes])
            offset += headerBytes
            func u32(_ at: Int) -> Int { Int(UInt32(littleEndian: header.loadUnaligned(fromByteOffset: at, as: UInt32.self))) }
            func u16(_ at: Int) -> Int { Int(UInt16(littleEndian: header.loadUnaligned(fromByteOffset: at, as: UInt16.self))) }
            let blocksLength = min(u32(24), input.count - offset)
            let blocks = Array(input[offset..<offset + blocksLength])
            offset += blocksLength
            let eventsLength = min(u32(28), input.count - offset)
            let events = Array(input[offset..<offset + eventsLength])
            offset += eventsLength
            records.append(ChunkRecord(sequence: Int64(records.count), thread: UInt32(header[0]),
                                       firstEventIndex: UInt64(u32(2)), blockCount: u32(6), codec: header[1],
                                       blocks: blocks, blocksSize: u32(10), events: events, eventsSize: u32(14),
                                       codeWrites: u16(18), syscalls: u16(20), dataTouches: u16(22)))
        }
        var lastSequence: [UInt32: Int64] = [:]
        for record in records { lastSequence[record.thread] = record.sequence }
        var decoder = ChunkDecoder(definitions: definitions(count: Int(count)), inflater: ZstdInflater(),
                                   lastSequence: lastSequence)
        var good = 0, bad = 0
        for record in records {
            // The ranges the reader's row check (ChunkDecoder.record(from:)) enforces before decoding.
            let cap = ZstdInflater.absoluteCap
            guard record.blockCount <= cap / 4, record.blocksSize <= cap, record.eventsSize <= cap else {
                bad += 1
                continue
            }
            do {
                _ = try decoder.decode(record, storedChecksum: record.checksum)
                good += 1
            } catch {
                bad += 1
            }
        }
        return (good, bad)
    }

    /// The input that stores `chunks` (their `sequence` is ignored) as the writer does with `codec`, over
    /// `definitionCount` definitions: seeds for the fuzzer and round-trip checks.
    public static func input(definitionCount: UInt8, chunks: [StreamChunk], codec: BlockStreamCodec) -> [UInt8] {
        var out = LittleEndianWriter(capacity: 1024)
        out.bytes.append(definitionCount)
        let compressor = ZstdCompressor(level: 3)
        let definitions = definitions(count: Int(definitionCount))
        var encoders: [UInt32: BlockStreamEncoder] = [:]
        for chunk in chunks {
            let thread = chunk.thread & 0xff
            let blocks: [UInt8]
            switch codec {
            case .raw:
                blocks = chunk.blocks.withUnsafeBufferPointer { RawBlockCodec.encode($0, compressor: compressor) }
            case .predictive, .predictiveFast:
                let encoder = encoders[thread] ?? BlockStreamEncoder(variant: codec.blockVariant ?? .full)
                encoders[thread] = encoder
                blocks = chunk.blocks.withUnsafeBufferPointer { encoder.encode($0, definitions: definitions) }
            }
            let hasEvents = !(chunk.codeWrites.isEmpty && chunk.syscalls.isEmpty && chunk.dataTouches.isEmpty)
            let payload = SideEventPayload.encode(codeWrites: chunk.codeWrites[...], syscalls: chunk.syscalls[...],
                                                  dataTouches: chunk.dataTouches[...])
            let events = hasEvents ? compressor.compress(payload) : []
            out.bytes += [UInt8(thread), codec.rawValue]
            let blocksSize = codec == .raw ? 4 * chunk.blocks.count : blocks.count
            for field in [UInt32(chunk.firstEventIndex), UInt32(chunk.blocks.count), UInt32(blocksSize),
                          UInt32(hasEvents ? payload.count : 0)] {
                out.put(field)
            }
            for count in [chunk.codeWrites.count, chunk.syscalls.count, chunk.dataTouches.count] {
                withUnsafeBytes(of: UInt16(count).littleEndian) { out.bytes.append(contentsOf: $0) }
            }
            out.put(UInt32(blocks.count))
            out.put(UInt32(events.count))
            out.bytes += blocks + events
        }
        return out.bytes
    }

    /// Definitions of every exit kind, with static targets among themselves (what the predictive decoder reads).
    static func definitions(count: Int) -> [BlockDefinition] {
        (0..<count).map { index in
            let kind = ExitKind.allCases[index % ExitKind.allCases.count]
            let address = 0x40_0000 + 16 * UInt64(index)
            let target = 0x40_0000 + 16 * UInt64((index * 7 + 3) % count)
            return BlockDefinition(address: address, length: 2, instructionCount: 1, codeVersion: 0, exitKind: kind,
                                   staticTarget: kind.hasStaticTarget ? target : nil, sensitiveCount: 0,
                                   cpuidCount: 0, bytes: [0x90, 0x90])
        }
    }
}
