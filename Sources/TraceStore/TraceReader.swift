import CSQLiteHardening
import Foundation
import GRDB
import TraceModel

/// Figures about a trace, as `plexlab info` prints them.
public struct TraceSummary: Sendable, Codable, Equatable {
    public var instructions: UInt64
    public var blocksExecuted: UInt64
    public var distinctBlocks: UInt64
    public var codePages: UInt64
    public var codePageVersions: UInt64
    public var codeWrites: UInt64
    public var syscalls: UInt64
    public var dataTouches: UInt64
    /// Interrupts, exceptions and page-table stores (system traces; 0 otherwise).
    public var systemEvents: UInt64 = 0
    public var threads: UInt64
    public var chunks: UInt64
    public var fileBytes: UInt64
    /// Bytes of the encoded block streams alone.
    public var blockStreamBytes: UInt64
    /// 8 * blockStreamBytes / blocksExecuted.
    public var bitsPerExecutedBlock: Double
    /// Bytes of the data touches coded by the touch model (`chunks.touches`, schema 6: predictive chunks with
    /// touches); 0 when no chunk codes its touches (they are then in the side-event payloads, or there are none).
    public var touchStreamBytes: UInt64 = 0
    /// The block codecs the chunks use (`BlockStreamCodec` names; "unknown N" for an id this build lacks).
    public var blockCodecs: [String]
}

/// Reads a trace file read-only; streams its chunks in commit order with bounded memory.
///
/// The file may come from a stranger: it is opened read-only with SQLite's defensive settings, its
/// application id, schema version and SQL structure are checked before use, every stored value is
/// type- and range-checked, and every decompression is capped. Not thread-safe; one reader per thread.
public final class TraceReader {
    /// Most code page versions `codePages()` loads at once (512 MiB of pages); `forEachCodePage` has no limit.
    public static let codePagesLoadLimit = 131_072

    public let path: String
    public let metadata: TraceMetadata
    /// The file's schema version (`PRAGMA user_version`).
    public let schemaVersion: Int
    let database: DatabaseQueue
    private let inflater = ZstdInflater()
    private var definitionCache: [BlockDefinition] = []
    /// Whether the cached definitions carry every block's bytes (else only those without a stored
    /// last-instruction offset do).
    private var cacheHasAllBytes = true

    /// Opens and validates the file; throws a one-line `TraceStoreError` if it is not a readable trace.
    public init(path: String) throws {
        self.path = path
        try FileCheck.precheck(path)
        var configuration = Configuration()
        configuration.readonly = true
        configuration.label = "plexlab.trace-reader"
        // A writer finishing a trace holds the file exclusively for a moment (checkpoint, journal mode);
        // a reader opened then waits for it instead of failing with "database is locked".
        configuration.busyMode = .timeout(5)
        configuration.prepareDatabase { db in
            // Before GRDB's first query reads the schema: no schema-borne code, no trust in the file.
            if let connection = db.sqliteConnection {
                let code = plexlab_sqlite_harden(connection)
                if code != 0 { throw DatabaseError(resultCode: ResultCode(rawValue: code)) }
                // No value SQLite hands back may exceed the payload cap (plus slack for text): bounds what a
                // schema-borne expression could make SQLite compute, whatever slips past the structure check.
                _ = sqlite3_limit(connection, SQLITE_LIMIT_LENGTH, Int32(ZstdInflater.absoluteCap + (1 << 20)))
            }
            try db.execute(sql: """
                PRAGMA trusted_schema = OFF;
                PRAGMA cell_size_check = ON;
                PRAGMA mmap_size = 0;
                PRAGMA query_only = ON;
                """)
        }
        let queue: DatabaseQueue
        do {
            queue = try DatabaseQueue(path: path, configuration: configuration)
        } catch let error as DatabaseError {
            throw Self.openError(path: path, error)
        }
        database = queue
        do {
            (schemaVersion, metadata) = try queue.read { db in
                let version = try Self.checkStructure(db, path: path)
                do {
                    return (version, try MetadataRow.read(db, schemaVersion: version))
                } catch {
                    throw TraceStoreError.damaged(path: path, detail: "\(error)")
                }
            }
        } catch let error as DatabaseError {
            throw Self.openError(path: path, error)
        }
    }

    deinit { try? database.close() }

    /// Whether the connection runs in SQLite's defensive mode (true unless this SQLite lacks it).
    public var isDefensive: Bool {
        database.unsafeReentrantRead { db in
            db.sqliteConnection.map { plexlab_sqlite_defensive_mode($0) == 1 } ?? false
        }
    }

    /// Every block definition; index = BlockID.
    /// - Parameter includingBytes: false leaves `bytes` empty in the definitions that store their last
    ///   instruction's offset (schema 2): all a replay needs, without reading every block's code.
    public func blockDefinitions(includingBytes: Bool = true) throws -> [BlockDefinition] {
        try snapshot { db in try self.loadDefinitions(db, allBytes: includingBytes) }
    }

    /// Every stored code page version, by address then version. Throws if there are more than
    /// `codePagesLoadLimit`; use `forEachCodePage` for those.
    public func codePages() throws -> [CodePage] {
        try snapshot { db in
            let count = try Int.fetchOne(db, sql: "SELECT count(*) FROM code_pages") ?? 0
            guard count <= Self.codePagesLoadLimit else {
                throw TraceStoreError.damaged(path: self.path, detail: "\(count) code page versions are more than "
                                              + "codePages() loads at once (\(Self.codePagesLoadLimit))")
            }
            var pages: [CodePage] = []
            pages.reserveCapacity(count)
            try self.forEachCodePage(db, where: nil) { pages.append($0) }
            return pages
        }
    }

    /// Calls `body` with every stored code page version, by address then version, one page in memory at a time.
    public func forEachCodePage(_ body: (CodePage) throws -> Void) throws {
        try snapshot { db in try self.forEachCodePage(db, where: nil, body) }
    }

    /// One stored code page version, or nil.
    public func codePage(address: UInt64, version: UInt32) throws -> CodePage? {
        try snapshot { db in
            var found: CodePage?
            try self.forEachCodePage(db, where: (address, version)) { found = $0 }
            return found
        }
    }

    /// The recorded process tree (docs/trace-format.md); empty for traces of schema 1 and 2 and for
    /// recordings of one process without `--follow` data: then every thread belongs to the one program.
    public func processes() throws -> [TraceProcess] {
        guard schemaVersion >= 3 else { return [] }
        return try snapshot { db in
            do {
                return try ProcessRows.read(db)
            } catch let error as StoredValueError {
                throw TraceStoreError.damaged(path: self.path, detail: "\(error)")
            }
        }
    }

    /// Blocks executed per thread (from the chunk rows, without decoding them).
    public func blocksByThread() throws -> [UInt32: UInt64] {
        try snapshot { db in
            var blocks: [UInt32: UInt64] = [:]
            let rows = try Row.fetchCursor(db, sql: "SELECT thread, sum(block_count) FROM chunks GROUP BY thread")
            while let row = try rows.next() {
                let fields = StrictRow(row, record: "chunk")
                do {
                    blocks[try fields.uint32(0)] = try fields.uint64(1)
                } catch {
                    throw TraceStoreError.damaged(path: self.path, detail: "\(error)")
                }
            }
            return blocks
        }
    }

    /// Every module mapping, each with the process it belongs to (nil: every process, schema 1-3).
    public func modules() throws -> [ModuleMapping] {
        let process = schemaVersion >= 5 ? "process" : "NULL"
        return try snapshot { db in
            var modules: [ModuleMapping] = []
            let rows = try Row.fetchCursor(db, sql:
                "SELECT start, end, file_offset, path, length(path), \(process) FROM modules ORDER BY id")
            while let row = try rows.next() {
                let fields = StrictRow(row, record: "module")
                do {
                    _ = try fields.int(4, in: 0...Int64(TraceTextLimits.maxBytes))
                    let owner: Int? = fields.isNull(5) ? nil : try fields.int(5, in: 0...Int64(Int32.max))
                    modules.append(ModuleMapping(start: try fields.uint64(0), end: try fields.uint64(1),
                                                 fileOffset: try fields.uint64(2), path: try fields.text(3),
                                                 process: owner))
                } catch {
                    throw TraceStoreError.damaged(path: self.path, detail: "\(error)")
                }
            }
            return modules
        }
    }

    /// The trace's metadata and figures as of one moment: a writer may finish between the reader's opening
    /// (when `metadata` was read) and now, so a live trace's figures go with the metadata read beside them.
    public func currentMetadataAndSummary() throws -> (metadata: TraceMetadata, summary: TraceSummary) {
        try snapshot { db in
            let metadata: TraceMetadata
            do {
                metadata = try MetadataRow.read(db, schemaVersion: self.schemaVersion)
            } catch {
                throw TraceStoreError.damaged(path: self.path, detail: "\(error)")
            }
            return (metadata, try self.summary())
        }
    }

    public func summary() throws -> TraceSummary {
        let counts: [UInt64] = try snapshot { db in
            guard let row = try Row.fetchOne(db, sql: """
                SELECT instructions, blocks_executed, distinct_blocks, code_pages, code_page_versions, code_writes,
                       syscalls, data_touches, threads, chunks, block_stream_bytes,
                       \(self.schemaVersion >= 4 ? "system_events" : "0") FROM summary WHERE id = 1
                """) else { throw TraceStoreError.damaged(path: self.path, detail: "the summary row is missing") }
            let fields = StrictRow(row, record: "summary")
            do {
                return try (0..<12).map { index throws(StoredValueError) in
                    UInt64(try fields.int(index, in: 0...Int64.max))
                }
            } catch {
                throw TraceStoreError.damaged(path: self.path, detail: "\(error)")
            }
        }
        let codecs: [String] = try snapshot { db in
            try Int64.fetchAll(db, sql: "SELECT DISTINCT codec FROM chunks ORDER BY codec").map { id in
                (UInt8(exactly: id).flatMap(BlockStreamCodec.init(rawValue:))).map(\.description) ?? "unknown \(id)"
            }
        }
        let touchStreamBytes: UInt64 = self.schemaVersion < 6 ? 0 : try snapshot { db in
            UInt64(max(0, try Int64.fetchOne(db, sql: "SELECT COALESCE(SUM(LENGTH(touches)), 0) FROM chunks") ?? 0))
        }
        let fileBytes = (FileCheck.fileSize(path) ?? 0) + (FileCheck.fileSize(path + "-wal") ?? 0)
        return TraceSummary(instructions: counts[0], blocksExecuted: counts[1], distinctBlocks: counts[2],
                            codePages: counts[3], codePageVersions: counts[4], codeWrites: counts[5],
                            syscalls: counts[6], dataTouches: counts[7], systemEvents: counts[11],
                            threads: counts[8], chunks: counts[9],
                            fileBytes: fileBytes, blockStreamBytes: counts[10],
                            bitsPerExecutedBlock: counts[1] == 0 ? 0 : 8 * Double(counts[10]) / Double(counts[1]),
                            touchStreamBytes: touchStreamBytes, blockCodecs: codecs)
    }

    /// Calls `body` with every chunk, decoded, in commit (sequence) order. Only one chunk is in memory
    /// at a time. The first bad chunk throws `TraceStoreError.badChunk` naming its sequence.
    /// `dataTouches` false: touches coded with the touch model are counted (`undecodedDataTouches`), not
    /// decoded, which halves the pass over a data-pages trace for a reader that uses none.
    public func forEachChunk(dataTouches: Bool = true, _ body: (StreamChunk) throws -> Void) throws {
        try snapshot { db in
            var decoder = try self.chunkDecoder(db, decodesTouches: dataTouches)
            let rows = try Row.fetchCursor(db, sql: ChunkDecoder.selectSQL(schemaVersion: self.schemaVersion))
            while let row = try rows.next() {
                let chunk: StreamChunk
                do {
                    chunk = try decoder.decode(row)
                } catch {
                    throw TraceStoreError.badChunk(path: self.path, sequence: ChunkDecoder.sequence(of: row),
                                                   detail: "\(error)")
                }
                try body(chunk)
            }
        }
    }

    // MARK: - Internals

    /// Runs `body` in one read transaction (a consistent snapshot while a writer appends). Reentrant, so
    /// `body` of `forEachChunk` may call the other methods.
    func snapshot<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            return try database.unsafeReentrantRead { db in
                if db.isInsideTransaction { return try body(db) }
                var result: T?
                try db.inTransaction(.deferred) {
                    result = try body(db)
                    return .commit
                }
                return result!
            }
        } catch let error as DatabaseError {
            throw TraceStoreError.damaged(path: path, detail: TraceWriter.describe(error))
        }
    }

    /// A decoder for this snapshot's chunks, told each thread's last chunk so it drops ended threads' state.
    func chunkDecoder(_ db: Database, decodesTouches: Bool = true) throws -> ChunkDecoder {
        var lastSequence: [UInt32: Int64] = [:]
        let rows = try Row.fetchCursor(db, sql: ChunkDecoder.lastSequenceSQL)
        while let row = try rows.next() {
            // A thread that is not a valid one has no state to drop: its chunks fail their row check.
            guard case let .int64(thread) = (row[0] as DatabaseValue).storage, let id = UInt32(exactly: thread),
                  case let .int64(sequence) = (row[1] as DatabaseValue).storage else { continue }
            lastSequence[id] = sequence
        }
        return ChunkDecoder(definitions: try loadDefinitions(db, allBytes: false), inflater: inflater,
                            lastSequence: lastSequence, decodesTouches: decodesTouches,
                            schemaVersion: schemaVersion)
    }

    private func loadDefinitions(_ db: Database, allBytes: Bool) throws -> [BlockDefinition] {
        if allBytes && !cacheHasAllBytes { definitionCache.removeAll() }
        if definitionCache.isEmpty { cacheHasAllBytes = allBytes }
        // min and max of the rowid are two b-tree descents (as two subqueries: one query asking for both
        // scans the table), where count(*) would read every row. Ids are dense (checked below), so anything
        // past the cache, or any negative id, means rows to read.
        let (lowest, highest) = try Row.fetchOne(db, sql: "SELECT (SELECT min(id) FROM blocks), (SELECT max(id) FROM blocks)")
            .map { (($0[0] as Int64?) ?? 0, ($0[1] as Int64?) ?? -1) } ?? (0, -1)
        guard highest >= Int64(definitionCache.count) || lowest < 0 else { return definitionCache }
        let lastOffset = schemaVersion >= 2 ? "last_instruction_offset" : "NULL"
        let system = schemaVersion >= 4 ? "privilege, physical_address" : "3, NULL"
        let bytes = cacheHasAllBytes ? "bytes" : "CASE WHEN \(lastOffset) IS NULL THEN bytes ELSE x'' END"
        let statement = try db.makeStatement(sql: """
            SELECT id, address, length, instruction_count, code_version, exit_kind, static_target, sensitive_count,
                   cpuid_count, length(bytes), \(bytes), \(lastOffset), \(system) FROM blocks WHERE id >= ? ORDER BY id
            """)
        let rows = try Row.fetchCursor(statement, arguments: [definitionCache.count])
        definitionCache.reserveCapacity(Int(clamping: max(0, min(highest, Int64(definitionCache.count) + (1 << 20)) + 1)))
        let fields = StatementColumns(statement, record: "block")
        while try rows.next() != nil {
            do {
                let id = try fields.int64(0)
                guard id == definitionCache.count else {
                    throw StoredValueError("block ids are not dense (found \(id), expected \(definitionCache.count))")
                }
                let length = try fields.int(2, in: 0...BlockDefinitionLimits.maxLength)
                let kindCode = try fields.int(5, in: 0...255)
                guard let kind = ExitKind(rawValue: UInt8(kindCode)) else {
                    throw StoredValueError("block \(id) has unknown exit kind \(kindCode)")
                }
                guard try fields.int(9, in: 0...BlockDefinitionLimits.maxLength) == length else {
                    throw StoredValueError("block \(id) declares \(length) bytes but stores another number")
                }
                definitionCache.append(BlockDefinition(
                    address: try fields.uint64(1), length: UInt32(length), instructionCount: try fields.uint32(3),
                    codeVersion: try fields.uint32(4), exitKind: kind, staticTarget: try fields.optionalUInt64(6),
                    sensitiveCount: try fields.uint16(7), cpuidCount: try fields.uint16(8),
                    bytes: try fields.blob(10),
                    lastInstructionOffset: try fields.isNull(11) ? nil : UInt32(fields.int(11, in: 0...Int64(max(length - 1, 0)))),
                    privilege: UInt8(try fields.int(12, in: 0...3)), physicalAddress: try fields.optionalUInt64(13)))
            } catch {
                throw TraceStoreError.damaged(path: path, detail: "\(error)")
            }
        }
        return definitionCache
    }

    func forEachCodePage(_ db: Database, where key: (UInt64, UInt32)?,
                                 _ body: (CodePage) throws -> Void) throws {
        var sql = """
            SELECT p.address, p.version, b.size, length(b.data), b.data
            FROM code_pages p LEFT JOIN code_blobs b ON b.id = p.blob_id
            """
        var arguments: StatementArguments = []
        if let key {
            sql += " WHERE p.address = ? AND p.version = ?"
            arguments = [Int64(bitPattern: key.0), Int64(key.1)]
        }
        sql += " ORDER BY p.address, p.version"
        let statement = try db.makeStatement(sql: sql)
        let rows = try Row.fetchCursor(statement, arguments: arguments)
        let fields = StatementColumns(statement, record: "code page")
        while try rows.next() != nil {
            let page: CodePage
            do {
                let address = try fields.uint64(0), version = try fields.uint32(1)
                let name = "code page 0x\(String(address, radix: 16)) version \(version)"
                guard !fields.isNull(2) else { throw StoredValueError("\(name) has no content blob") }
                let size = try fields.int(2, in: 0...Int64(ZstdInflater.absoluteCap))
                guard size == CodePage.size else { throw StoredValueError("\(name) declares \(size) bytes") }
                _ = try fields.int(3, in: 0...Int64(ZstdInflater.absoluteCap))
                let bytes = try fields.withBlob(4) { compressed in
                    do {
                        return try inflater.inflate(compressed, declared: size)
                    } catch {
                        throw StoredValueError("\(name) \(error)")
                    }
                }
                page = CodePage(address: address, version: version, bytes: bytes)
            } catch {
                throw TraceStoreError.damaged(path: path, detail: "\(error)")
            }
            try body(page)
        }
    }

    /// Checks application id, schema version and SQL structure; returns the schema version.
    private static func checkStructure(_ db: Database, path: String) throws -> Int {
        let applicationID = try Int32.fetchOne(db, sql: "PRAGMA application_id") ?? 0
        guard applicationID == TraceSchema.applicationID else {
            throw TraceStoreError.notATrace(path: path, reason: "an SQLite database with application id "
                                            + "\(applicationID), not PlexLab's \(TraceSchema.applicationID)")
        }
        let version = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
        guard version > 0 else {
            throw TraceStoreError.damaged(path: path, detail: "it has no schema (its creation was interrupted)")
        }
        guard version <= TraceSchema.currentVersion else {
            throw TraceStoreError.newerSchema(path: path, version: version, supported: TraceSchema.currentVersion)
        }
        let objects = try Row.fetchAll(db, sql: "SELECT type, name, sql FROM sqlite_master")
        var tables: Set<String> = []
        for object in objects {
            let type = (object[0] as DatabaseValue).storage
            let name: String = { if case let .string(s) = (object[1] as DatabaseValue).storage { s } else { "?" } }()
            let sql: String = { if case let .string(s) = (object[2] as DatabaseValue).storage { s } else { "" } }()
            guard case let .string(kind) = type else {
                throw TraceStoreError.unsafeSchema(path: path, detail: "its schema lists an object of no type")
            }
            switch kind {
            case "trigger", "view":
                throw TraceStoreError.unsafeSchema(path: path, detail: "its SQL schema carries a \(kind) "
                                                   + "(\"\(name.prefix(40))\"), which a trace never has")
            case "table":
                if sql.uppercased().hasPrefix("CREATE VIRTUAL") {
                    throw TraceStoreError.unsafeSchema(path: path, detail: "its SQL schema carries a virtual "
                                                       + "table (\"\(name.prefix(40))\"), which a trace never has")
                }
                tables.insert(name)
            default:
                continue
            }
        }
        for (table, columns) in TraceSchema.expectedColumns(version: version).sorted(by: { $0.key < $1.key }) {
            guard tables.contains(table) else {
                throw TraceStoreError.unsafeSchema(path: path, detail: "it lacks the \(table) table of "
                                                   + "schema version \(version)")
            }
            let present = Set(try db.columns(in: table).map { $0.name.lowercased() })
            if let missing = columns.first(where: { !present.contains($0) }) {
                throw TraceStoreError.unsafeSchema(path: path, detail: "its \(table) table lacks column \(missing)")
            }
            // A generated column is computed on read (zeroblob(900000000) fits in a few bytes of schema).
            if let generated = try String.fetchOne(db, sql: "SELECT name FROM pragma_table_xinfo(?) WHERE hidden != 0",
                                                   arguments: [table]) {
                throw TraceStoreError.unsafeSchema(path: path, detail: "its \(table) table has a generated column "
                                                   + "(\"\(generated.prefix(40))\"), which a trace never has")
            }
        }
        return version
    }

    private static func openError(path: String, _ error: DatabaseError) -> TraceStoreError {
        switch error.resultCode {
        case .SQLITE_NOTADB:
            .notATrace(path: path, reason: "not an SQLite database")
        case .SQLITE_CORRUPT:
            .damaged(path: path, detail: TraceWriter.describe(error))
        case .SQLITE_CANTOPEN, .SQLITE_PERM, .SQLITE_READONLY:
            .notATrace(path: path, reason: "cannot open it (\(TraceWriter.describe(error)))")
        default:
            .damaged(path: path, detail: TraceWriter.describe(error))
        }
    }
}

/// Sanity limits on stored block definitions.
enum BlockDefinitionLimits {
    /// No real basic block comes near this many bytes.
    static let maxLength: Int64 = 1 << 20
}
