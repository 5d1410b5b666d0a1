import BlockCodec
import GRDB
import TraceModel

/// Decodes `chunks` rows in sequence order, checking each against its checksum, its declared sizes,
/// the caps, its thread's previous chunk and the block definitions. One chunk in memory at a time.
struct ChunkDecoder {
    /// Columns in the order `decode` reads them, for a file of `schemaVersion` (system events from 4 on).
    static func selectSQL(schemaVersion: Int) -> String {
        """
        SELECT sequence, thread, first_event_index, block_count, codec, blocks_size, events_size, code_writes,
               syscalls, data_touches, checksum, length(blocks), length(events), blocks, events,
               \(schemaVersion >= 4 ? "system_events" : "0"), \(schemaVersion >= 6 ? "length(touches), touches" : "0, NULL")
        FROM chunks ORDER BY sequence
        """
    }

    private struct ThreadState {
        /// Where the thread's next chunk must start; nil after a bad chunk (its fields are not to be trusted,
        /// and one bad chunk should be reported once, not again as a gap).
        var nextEventIndex: UInt64? = 0
        var decoder: BlockStreamDecoder?
        /// The touch model of a predictive thread whose chunks code their touches (schema 6 on), and which
        /// model it is (every chunk of a thread names the same one).
        var touchDecoder: TouchStreamDecoder?
        var touchModel: TouchModelVersion?
        /// Set when a predictive chunk of this thread failed: later ones cannot be decoded.
        var broken = false
    }

    /// Most threads whose predictive coder is live at once (between a thread's first predictive chunk and
    /// its last chunk, in sequence order): the writer codes any further thread raw, and a chunk that would
    /// need one more coder is bad. Bounds the reader's coder memory whatever the thread count.
    static let maxLiveCoders = TraceLimits.maxLivePredictiveThreads

    let definitions: [BlockDefinition]
    let inflater: ZstdInflater
    /// False: touches coded with the touch model (schema 6) are counted, not decoded (a replay whose
    /// strategies use none). The model is per thread and stateful across chunks, so this holds for a whole pass.
    let decodesTouches: Bool
    /// The file's schema version: from 7 on, a chunk's coded touches start with their model's byte; before,
    /// they are all model 1 (`TouchModelVersion.lastList`).
    let schemaVersion: Int
    /// Inflated block payloads of the raw codec (reused from chunk to chunk up to `keptBufferBytes`).
    private var inflated: [UInt8] = []
    /// Largest buffer kept from one chunk for the next (16 MiB: the writer's chunks of 2^20 blocks need 4 MiB);
    /// a larger one, which only a chunk declaring more blocks needs, is freed after its chunk.
    static let keptBufferBytes = 16 << 20
    /// The storage of the previous chunk's block ids, whatever its thread, reused when the caller has let go
    /// of that chunk (a fresh multi-megabyte array per chunk costs a page fault every 1024 blocks). One for
    /// all threads: a per-thread one would keep up to the 256 MiB cap alive per thread.
    private var spareBlocks: [BlockID] = []
    private var threads: [UInt32: ThreadState] = [:]
    /// Each thread's last chunk (by sequence): its state is dropped once that chunk is decoded, so threads
    /// that ended cost nothing. Empty when unknown (the fuzz entry point): then nothing is dropped.
    private let lastSequence: [UInt32: Int64]
    private var liveCoders = 0

    init(definitions: [BlockDefinition], inflater: ZstdInflater, lastSequence: [UInt32: Int64] = [:],
         decodesTouches: Bool = true, schemaVersion: Int = TraceSchema.currentVersion) {
        self.schemaVersion = schemaVersion
        self.definitions = definitions
        self.inflater = inflater
        self.decodesTouches = decodesTouches
        self.lastSequence = lastSequence
    }

    /// Each thread's last chunk sequence, for `init(lastSequence:)`.
    static let lastSequenceSQL = "SELECT thread, max(sequence) FROM chunks GROUP BY thread"

    /// The row's sequence (INTEGER PRIMARY KEY, so always an integer).
    static func sequence(of row: Row) -> Int64 {
        if case let .int64(v) = (row[0] as DatabaseValue).storage { return v }
        return -1
    }

    /// The row's thread, when it is a valid one (for problem reports).
    static func thread(of row: Row) -> UInt32? {
        try? StrictRow(row, record: "chunk").uint32(1)
    }

    mutating func decode(_ row: Row) throws(ChunkDecodeFailure) -> StreamChunk {
        let record: ChunkRecord, storedChecksum: UInt64
        do {
            (record, storedChecksum) = try Self.record(from: row)
        } catch {
            if let thread = Self.thread(of: row) { markBad(thread: thread, codec: nil) }
            throw error
        }
        return try decode(record, storedChecksum: storedChecksum)
    }

    /// Checks and decodes one chunk given as its stored fields: the same path as `decode(_ row:)` after
    /// the row is read (the fuzz targets come in here, without SQLite).
    mutating func decode(_ record: ChunkRecord, storedChecksum: UInt64) throws(ChunkDecodeFailure) -> StreamChunk {
        defer { if lastSequence[record.thread] == record.sequence { release(thread: record.thread) } }
        do {
            return try decodeChecked(record, storedChecksum: storedChecksum)
        } catch {
            markBad(thread: record.thread, codec: record.codec)
            throw error
        }
    }

    /// After a thread's last chunk: its coder and continuity state go.
    private mutating func release(thread: UInt32) {
        if threads.removeValue(forKey: thread)?.decoder != nil { liveCoders -= 1 }
    }

    /// After a bad chunk: its fields are not to be trusted (no continuity check for the next one), and unless
    /// it was a raw chunk, the thread's predictive coder never saw it, so its later predictive chunks cannot
    /// be decoded (decoding them with the stale state could yield wrong ids that look valid).
    private mutating func markBad(thread: UInt32, codec: UInt8?) {
        var state = threads[thread] ?? ThreadState()
        state.nextEventIndex = nil
        if codec != BlockStreamCodec.raw.rawValue {
            state.broken = true
            // Never used again: its memory and its place among the live coders go now.
            if state.decoder != nil {
                state.decoder = nil
                liveCoders -= 1
            }
            state.touchDecoder = nil
        }
        threads[thread] = state
    }

    /// A row's fields, type- and range-checked, payload lengths first.
    private static func record(from row: Row) throws(ChunkDecodeFailure) -> (ChunkRecord, UInt64) {
        let cap = Int64(ZstdInflater.absoluteCap)
        let fields = StrictRow(row, record: "chunk")
        let record: ChunkRecord
        let storedChecksum: UInt64
        do {
            // Payload lengths first, so an oversized blob is refused before it is copied.
            _ = try fields.int(11, in: 0...cap)
            if !(row[12] as DatabaseValue).isNull { _ = try fields.int(12, in: 0...cap) }
            if !(row[16] as DatabaseValue).isNull { _ = try fields.int(16, in: 0...cap) }
            record = ChunkRecord(
                sequence: try fields.int64(0), thread: try fields.uint32(1), firstEventIndex: try fields.uint64(2),
                blockCount: try fields.int(3, in: 0...cap / 4), codec: UInt8(try fields.int(4, in: 0...255)),
                blocks: try fields.blob(13), blocksSize: try fields.int(5, in: 0...cap),
                events: try fields.optionalBlob(14) ?? [], eventsSize: try fields.int(6, in: 0...cap),
                codeWrites: try fields.int(7, in: 0...cap), syscalls: try fields.int(8, in: 0...cap),
                dataTouches: try fields.int(9, in: 0...cap), systemEvents: try fields.int(15, in: 0...cap),
                touches: try fields.optionalBlob(17) ?? [])
            storedChecksum = try fields.uint64(10)
        } catch {
            throw ChunkDecodeFailure(error.description)
        }
        return (record, storedChecksum)
    }

    private mutating func decodeChecked(_ record: ChunkRecord,
                                        storedChecksum: UInt64) throws(ChunkDecodeFailure) -> StreamChunk {
        guard record.checksum == storedChecksum else { throw ChunkDecodeFailure("fails its checksum") }

        var state = threads[record.thread] ?? ThreadState()
        let expectedFirst = state.nextEventIndex
        let (end, overflow) = record.firstEventIndex.addingReportingOverflow(UInt64(record.blockCount))
        guard !overflow else { throw ChunkDecodeFailure("event indices overflow") }
        state.nextEventIndex = end
        threads[record.thread] = state
        guard expectedFirst == nil || record.firstEventIndex == expectedFirst else {
            throw ChunkDecodeFailure("starts at event \(record.firstEventIndex) but thread \(record.thread)'s "
                                     + "previous chunks end at \(expectedFirst ?? 0) (a chunk is missing or repeated)")
        }

        var chunk = StreamChunk(sequence: UInt64(bitPattern: record.sequence), thread: record.thread,
                                firstEventIndex: record.firstEventIndex, blocks: [],
                                endsThread: lastSequence[record.thread] == record.sequence)
        do {
            chunk.blocks = try decodeBlocks(record, state: &state)
        } catch {
            threads[record.thread] = state  // with its coder, which markBad releases
            throw error
        }
        threads[record.thread] = state

        if record.eventsSize == 0 {
            guard record.events.isEmpty, record.codeWrites == 0, record.syscalls == 0, record.payloadDataTouches == 0,
                  record.systemEvents == 0 else {
                throw ChunkDecodeFailure("declares no side events but stores some")
            }
        } else {
            let expected = SideEventPayload.size(codeWrites: record.codeWrites, syscalls: record.syscalls,
                                                 dataTouches: record.payloadDataTouches, systemEvents: record.systemEvents)
            guard record.eventsSize == expected else {
                throw ChunkDecodeFailure("declares \(record.eventsSize) side-event bytes; its counts need \(expected)")
            }
            let inflated: [UInt8]
            do {
                inflated = try record.events.withUnsafeBytes { try inflater.inflate($0, declared: record.eventsSize) }
            } catch let failure as InflateFailure {
                throw ChunkDecodeFailure("side-event payload \(failure)")
            } catch {
                throw ChunkDecodeFailure("side-event payload: \(error)")
            }
            try SideEventPayload.decode(inflated, codeWrites: record.codeWrites, syscalls: record.syscalls,
                                        dataTouches: record.payloadDataTouches, systemEvents: record.systemEvents,
                                        eventRange: record.firstEventIndex..<end,
                                        into: &chunk)
        }
        if !record.touches.isEmpty {
            if decodesTouches {
                chunk.dataTouches = try decodeTouches(record, blocks: chunk.blocks)
            } else {
                try Self.checkTouchFields(record)
                chunk.undecodedDataTouches = UInt64(record.dataTouches)
            }
        }
        return chunk
    }

    /// Schema 6 on: the chunk's touches through its thread's touch model (schema 7 names it in the payload's first byte). Only predictive chunks code them (so the
    /// model lives as long as the thread's block coder); a failure leaves the thread's later chunks undecodable.
    private mutating func decodeTouches(_ record: ChunkRecord, blocks: [BlockID]) throws(ChunkDecodeFailure) -> [DataTouch] {
        try Self.checkTouchFields(record)
        var state = threads[record.thread] ?? ThreadState()
        // Broken until this chunk's touches decode: a later chunk's cannot without this one's state.
        state.broken = true
        threads[record.thread] = state
        let model: TouchModelVersion
        var start = 0
        if schemaVersion >= 7 {
            if record.touches.first == TouchModelVersion.retiredListHistory {
                throw ChunkDecodeFailure("data touches do not decode (touch model byte 2: an earlier form of touch model 2, "
                                         + "from a development build; pack the trace's --no-pack recording again)")
            }
            guard let byte = record.touches.first, let named = TouchModelVersion(rawValue: byte) else {
                throw ChunkDecodeFailure("data touches do not decode (unknown touch model \(record.touches.first ?? 0))")
            }
            model = named
            start = 1
        } else {
            model = .lastList
        }
        guard state.touchModel == nil || state.touchModel == model else {
            throw ChunkDecodeFailure("data touches do not decode (touch model \(model.rawValue) after \(state.touchModel!.rawValue) on this thread)")
        }
        let decoder = state.touchDecoder ?? TouchStreamDecoder(model: model)
        state.touchDecoder = decoder
        state.touchModel = model
        threads[record.thread] = state
        let touches: [DataTouch]
        do {
            touches = try record.touches.withUnsafeBytes {
                try decoder.decode(UnsafeRawBufferPointer(rebasing: $0[start...]), blocks: blocks,
                                   firstEventIndex: record.firstEventIndex, count: record.dataTouches)
            }
        } catch {
            throw ChunkDecodeFailure("data touches do not decode (\(error))")
        }
        state.broken = false
        threads[record.thread] = state
        return touches
    }

    /// What can be checked of model-coded touches without decoding them.
    private static func checkTouchFields(_ record: ChunkRecord) throws(ChunkDecodeFailure) {
        guard record.codec != BlockStreamCodec.raw.rawValue else {
            throw ChunkDecodeFailure("is raw but codes its data touches with the touch model")
        }
        guard record.dataTouches > 0 else { throw ChunkDecodeFailure("codes data touches but declares none") }
    }

    private mutating func decodeBlocks(_ record: ChunkRecord,
                                       state: inout ThreadState) throws(ChunkDecodeFailure) -> [BlockID] {
        guard let codec = BlockStreamCodec(rawValue: record.codec) else {
            throw ChunkDecodeFailure("uses unknown block codec \(record.codec)")
        }
        // Unique (so reused in place) unless the caller still holds the previous chunk.
        var blocks = spareBlocks
        spareBlocks = []
        blocks.removeAll(keepingCapacity: true)
        switch codec {
        case .raw:
            guard record.blocksSize == 4 * record.blockCount else {
                throw ChunkDecodeFailure("declares \(record.blocksSize) block bytes for \(record.blockCount) blocks")
            }
            defer { if inflated.count > Self.keptBufferBytes { inflated = [] } }
            do {
                try record.blocks.withUnsafeBytes {
                    try inflater.inflate($0, declared: record.blocksSize, scratch: &inflated)
                }
                inflated.withUnsafeBytes { RawBlockCodec.decode($0, count: record.blockCount, into: &blocks) }
            } catch let failure as InflateFailure {
                throw ChunkDecodeFailure("block payload \(failure)")
            } catch {
                throw ChunkDecodeFailure("block payload: \(error)")
            }
        case .predictive, .predictiveFast:
            guard !state.broken else {
                throw ChunkDecodeFailure("cannot be decoded: an earlier chunk of its thread is bad")
            }
            let variant = codec.blockVariant ?? .full
            // One predictor per thread: its chunks cannot switch configuration (the writer never does).
            if let decoder = state.decoder, decoder.variant != variant {
                throw ChunkDecodeFailure("uses codec \(codec) but earlier chunks of its thread use \(decoder.variant)")
            }
            guard record.blocksSize == record.blocks.count else {
                throw ChunkDecodeFailure("declares \(record.blocksSize) block bytes but stores \(record.blocks.count)")
            }
            if state.decoder == nil {
                guard liveCoders < Self.maxLiveCoders else {
                    throw ChunkDecodeFailure("is predictive, but \(liveCoders) other threads' predictive coders are "
                                             + "live (a trace keeps at most \(Self.maxLiveCoders))")
                }
                liveCoders += 1
            }
            // Marked broken first: if decoding throws, this thread's coder state is lost for good.
            state.broken = true
            let decoder = state.decoder ?? BlockStreamDecoder(variant: variant)
            state.decoder = decoder
            do {
                try record.blocks.withUnsafeBytes {
                    try decoder.decode($0, count: record.blockCount, definitions: definitions, into: &blocks)
                }
            } catch {
                throw ChunkDecodeFailure("block payload does not decode (\(error))")
            }
            guard blocks.count == record.blockCount else {
                throw ChunkDecodeFailure("block payload decodes to \(blocks.count) blocks, not \(record.blockCount)")
            }
            state.broken = false
        }
        if blocks.capacity * MemoryLayout<BlockID>.stride <= Self.keptBufferBytes { spareBlocks = blocks }
        let defined = definitions.count
        if let bad = blocks.first(where: { Int($0) >= defined }) {
            throw ChunkDecodeFailure("refers to block \(bad) but the trace defines \(defined)")
        }
        return blocks
    }
}
