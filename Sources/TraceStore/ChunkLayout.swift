import TraceModel

/// The stored form of one chunk: a `chunks` row (docs/trace-format.md, "Chunk layout").
struct ChunkRecord {
    var sequence: Int64
    var thread: UInt32
    var firstEventIndex: UInt64
    var blockCount: Int
    var codec: UInt8
    /// Encoded block ids (raw: zstd frame; predictive: the coder's bytes).
    var blocks: [UInt8]
    /// Raw: 4 * blockCount (the inflated size). Predictive: blocks.count.
    var blocksSize: Int
    /// zstd frame of the side-event payload, empty when the chunk has no side events.
    var events: [UInt8]
    var eventsSize: Int
    var codeWrites: Int
    var syscalls: Int
    var dataTouches: Int
    /// Interrupts, exceptions and page-table stores (schema 4; 0 in older traces).
    var systemEvents: Int = 0
    /// Schema 6: the chunk's data touches coded by BlockCodec's touch model (then the side-event payload holds
    /// none of them); empty when they are in the payload (raw chunks, older traces) or there are none.
    var touches: [UInt8] = []

    /// How many data touches the side-event payload itself holds.
    var payloadDataTouches: Int { touches.isEmpty ? dataTouches : 0 }

    /// FNV-1a 64 over every header field and both payloads, as stored. The system-event count is an
    /// eleventh field only when it is not 0, so every chunk without system events (all of schema 1-3)
    /// keeps the checksum it always had; the coded touches (schema 6) follow the payloads only when present.
    static func checksum(sequence: Int64, thread: UInt32, firstEventIndex: UInt64, blockCount: Int, codec: UInt8,
                         blocksSize: Int, eventsSize: Int, codeWrites: Int, syscalls: Int, dataTouches: Int,
                         systemEvents: Int = 0,
                         blocks: UnsafeRawBufferPointer, events: UnsafeRawBufferPointer,
                         touches: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0)) -> UInt64 {
        var fnv = FNV1a64()
        for field in [UInt64(bitPattern: sequence), UInt64(thread), firstEventIndex, UInt64(blockCount),
                      UInt64(codec), UInt64(blocksSize), UInt64(eventsSize), UInt64(codeWrites),
                      UInt64(syscalls), UInt64(dataTouches)] {
            fnv.add(field)
        }
        if systemEvents != 0 { fnv.add(UInt64(systemEvents)) }
        fnv.add(UInt64(blocks.count))
        fnv.add(blocks)
        fnv.add(UInt64(events.count))
        fnv.add(events)
        if touches.count > 0 {
            fnv.add(UInt64(touches.count))
            fnv.add(touches)
        }
        return fnv.value
    }

    var checksum: UInt64 {
        blocks.withUnsafeBytes { b in
            events.withUnsafeBytes { e in
                touches.withUnsafeBytes { t in
                    Self.checksum(sequence: sequence, thread: thread, firstEventIndex: firstEventIndex,
                                  blockCount: blockCount, codec: codec, blocksSize: blocksSize, eventsSize: eventsSize,
                                  codeWrites: codeWrites, syscalls: syscalls, dataTouches: dataTouches,
                                  systemEvents: systemEvents, blocks: b, events: e, touches: t)
                }
            }
        }
    }
}

/// Side-event payload: three little-endian u32 counts, then fixed-width records (see docs/trace-format.md).
/// System events (schema 4) follow the data touches; their count is the row's, not in the header, so a
/// payload without them is byte for byte what schema 1-3 stored.
enum SideEventPayload {
    static let headerBytes = 12
    static let codeWriteBytes = 20
    static let syscallBytes = 16
    static let dataTouchBytes = 24
    static let systemEventBytes = 18

    static func size(codeWrites: Int, syscalls: Int, dataTouches: Int, systemEvents: Int = 0) -> Int {
        headerBytes + codeWrites * codeWriteBytes + syscalls * syscallBytes + dataTouches * dataTouchBytes
            + systemEvents * systemEventBytes
    }

    static func encode(codeWrites: ArraySlice<CodeWrite>, syscalls: ArraySlice<SyscallEvent>,
                       dataTouches: ArraySlice<DataTouch>, systemEvents: ArraySlice<SystemEvent> = []) -> [UInt8] {
        var out = LittleEndianWriter(capacity: size(codeWrites: codeWrites.count, syscalls: syscalls.count,
                                                    dataTouches: dataTouches.count, systemEvents: systemEvents.count))
        out.put(UInt32(codeWrites.count))
        out.put(UInt32(syscalls.count))
        out.put(UInt32(dataTouches.count))
        for event in codeWrites {
            out.put(event.eventIndex)
            out.put(event.address)
            out.put(event.size)
        }
        for event in syscalls {
            out.put(event.eventIndex)
            out.put(UInt64(bitPattern: event.number))
        }
        for event in dataTouches {
            out.put(event.eventIndex)
            out.put(event.page)
            out.put(event.reads)
            out.put(event.writes)
        }
        for event in systemEvents {
            out.put(event.eventIndex)
            out.put(event.address)
            out.bytes.append(event.kind.rawValue)
            out.bytes.append(event.vector)
        }
        return out.bytes
    }

    /// Parses an inflated payload, checking its counts against the row's and every index against the chunk's range.
    /// The length is checked once against the counts, so the records are read with plain unaligned loads.
    static func decode(_ bytes: [UInt8], codeWrites expectedCodeWrites: Int, syscalls expectedSyscalls: Int,
                       dataTouches expectedDataTouches: Int, systemEvents: Int = 0, eventRange: Range<UInt64>,
                       into chunk: inout StreamChunk) throws(ChunkDecodeFailure) {
        guard bytes.count >= headerBytes else { throw ChunkDecodeFailure("side-event payload ends early") }
        let (codeWrites, syscalls, dataTouches) = bytes.withUnsafeBytes { raw in
            (Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt32.self))),
             Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4, as: UInt32.self))),
             Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt32.self))))
        }
        guard codeWrites == expectedCodeWrites, syscalls == expectedSyscalls, dataTouches == expectedDataTouches
        else { throw ChunkDecodeFailure("side-event counts disagree with the chunk row") }
        guard bytes.count == size(codeWrites: codeWrites, syscalls: syscalls, dataTouches: dataTouches,
                                  systemEvents: systemEvents)
        else { throw ChunkDecodeFailure("side-event payload has the wrong length") }
        let badKind: UInt8? = bytes.withUnsafeBytes { raw in
            func u64(_ at: Int) -> UInt64 { UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt64.self)) }
            func u32(_ at: Int) -> UInt32 { UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt32.self)) }
            var at = headerBytes
            chunk.codeWrites = [CodeWrite](unsafeUninitializedCapacity: codeWrites) { buffer, initialized in
                for i in 0..<codeWrites {
                    buffer.initializeElement(at: i, to: CodeWrite(eventIndex: u64(at), address: u64(at + 8), size: u32(at + 16)))
                    at += codeWriteBytes
                }
                initialized = codeWrites
            }
            chunk.syscalls = [SyscallEvent](unsafeUninitializedCapacity: syscalls) { buffer, initialized in
                for i in 0..<syscalls {
                    buffer.initializeElement(at: i, to: SyscallEvent(eventIndex: u64(at), number: Int64(bitPattern: u64(at + 8))))
                    at += syscallBytes
                }
                initialized = syscalls
            }
            chunk.dataTouches = [DataTouch](unsafeUninitializedCapacity: dataTouches) { buffer, initialized in
                for i in 0..<dataTouches {
                    buffer.initializeElement(at: i, to: DataTouch(eventIndex: u64(at), page: u64(at + 8),
                                                                  reads: u32(at + 16), writes: u32(at + 20)))
                    at += dataTouchBytes
                }
                initialized = dataTouches
            }
            var badKind: UInt8?
            chunk.systemEvents = [SystemEvent](unsafeUninitializedCapacity: systemEvents) { buffer, initialized in
                for i in 0..<systemEvents {
                    let code = raw[at + 16]
                    let kind = SystemEventKind(rawValue: code) ?? .interrupt
                    if SystemEventKind(rawValue: code) == nil { badKind = badKind ?? code }
                    buffer.initializeElement(at: i, to: SystemEvent(eventIndex: u64(at), kind: kind,
                                                                    vector: raw[at + 17], address: u64(at + 8)))
                    at += systemEventBytes
                }
                initialized = systemEvents
            }
            return badKind
        }
        if let badKind { throw ChunkDecodeFailure("system event of unknown kind \(badKind)") }
        try checkIndices(chunk.codeWrites, range: eventRange, kind: "code write") { $0.eventIndex }
        try checkIndices(chunk.syscalls, range: eventRange, kind: "syscall") { $0.eventIndex }
        try checkIndices(chunk.dataTouches, range: eventRange, kind: "data touch") { $0.eventIndex }
        try checkIndices(chunk.systemEvents, range: eventRange, kind: "system event") { $0.eventIndex }
    }

    private static func checkIndices<Event>(_ events: [Event], range: Range<UInt64>, kind: String,
                                            _ eventIndex: (Event) -> UInt64) throws(ChunkDecodeFailure) {
        var previous: UInt64 = 0
        for event in events {
            let index = eventIndex(event)
            guard range.contains(index) else {
                throw ChunkDecodeFailure("\(kind) at event \(index) lies outside the chunk's events \(range)")
            }
            guard index >= previous else { throw ChunkDecodeFailure("\(kind) events are not sorted") }
            previous = index
        }
    }
}

/// The raw block codec (id 0): little-endian u32 ids, zstd level 3.
enum RawBlockCodec {
    static func encode(_ blocks: UnsafeBufferPointer<BlockID>, compressor: ZstdCompressor) -> [UInt8] {
        #if _endian(little)
        return compressor.compress(UnsafeRawBufferPointer(blocks))
        #else
        let little = blocks.map { $0.littleEndian }
        return little.withUnsafeBytes { compressor.compress($0) }
        #endif
    }

    /// Appends the `count` ids in `inflated` to `output`.
    static func decode(_ inflated: UnsafeRawBufferPointer, count: Int, into output: inout [BlockID]) {
        output.reserveCapacity(output.count + count)
        for i in 0..<count {
            output.append(BlockID(littleEndian: inflated.loadUnaligned(fromByteOffset: 4 * i, as: BlockID.self)))
        }
    }
}

/// Why one chunk cannot be decoded; the reader wraps it with the file and the chunk's sequence.
struct ChunkDecodeFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
