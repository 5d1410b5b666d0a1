import BlockCodec
import GRDB

/// The trace file's SQL schema, its versions and the structure a reader expects (docs/trace-format.md).
public enum TraceSchema {
    /// `PRAGMA application_id` of every trace: "PLXT" in ASCII.
    public static let applicationID: Int32 = 0x504C_5854
    /// The newest schema version this code writes and reads (`PRAGMA user_version`).
    public static let currentVersion = 7
    /// The file extension traces use.
    public static let fileExtension = "plextrace"

    /// Creates and upgrades the schema. Each migration ends by setting `user_version`, so the version
    /// can be read from the file header before anything else is trusted.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE metadata (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    program TEXT NOT NULL,
                    argv TEXT NOT NULL,
                    arch TEXT NOT NULL,
                    recorder TEXT NOT NULL,
                    recorder_version TEXT NOT NULL,
                    plexlab_version TEXT NOT NULL,
                    host TEXT NOT NULL,
                    date TEXT NOT NULL,
                    exit_status INTEGER,
                    signal INTEGER,
                    complete INTEGER NOT NULL,
                    note TEXT NOT NULL,
                    has_data_touches INTEGER NOT NULL
                );
                CREATE TABLE summary (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    instructions INTEGER NOT NULL,
                    blocks_executed INTEGER NOT NULL,
                    distinct_blocks INTEGER NOT NULL,
                    code_pages INTEGER NOT NULL,
                    code_page_versions INTEGER NOT NULL,
                    code_writes INTEGER NOT NULL,
                    syscalls INTEGER NOT NULL,
                    data_touches INTEGER NOT NULL,
                    threads INTEGER NOT NULL,
                    chunks INTEGER NOT NULL,
                    block_stream_bytes INTEGER NOT NULL
                );
                CREATE TABLE modules (
                    id INTEGER PRIMARY KEY,
                    start INTEGER NOT NULL,
                    end INTEGER NOT NULL,
                    file_offset INTEGER NOT NULL,
                    path TEXT NOT NULL
                );
                CREATE TABLE code_blobs (
                    id INTEGER PRIMARY KEY,
                    hash INTEGER NOT NULL,
                    size INTEGER NOT NULL,
                    data BLOB NOT NULL
                );
                CREATE INDEX code_blobs_by_hash ON code_blobs(hash);
                CREATE TABLE code_pages (
                    address INTEGER NOT NULL,
                    version INTEGER NOT NULL,
                    blob_id INTEGER NOT NULL REFERENCES code_blobs(id),
                    PRIMARY KEY (address, version)
                ) WITHOUT ROWID;
                CREATE TABLE blocks (
                    id INTEGER PRIMARY KEY,
                    address INTEGER NOT NULL,
                    length INTEGER NOT NULL,
                    instruction_count INTEGER NOT NULL,
                    code_version INTEGER NOT NULL,
                    exit_kind INTEGER NOT NULL,
                    static_target INTEGER,
                    sensitive_count INTEGER NOT NULL,
                    cpuid_count INTEGER NOT NULL,
                    bytes BLOB NOT NULL
                );
                CREATE TABLE chunks (
                    sequence INTEGER PRIMARY KEY,
                    thread INTEGER NOT NULL,
                    first_event_index INTEGER NOT NULL,
                    block_count INTEGER NOT NULL,
                    codec INTEGER NOT NULL,
                    blocks BLOB NOT NULL,
                    blocks_size INTEGER NOT NULL,
                    events BLOB,
                    events_size INTEGER NOT NULL,
                    code_writes INTEGER NOT NULL,
                    syscalls INTEGER NOT NULL,
                    data_touches INTEGER NOT NULL,
                    checksum INTEGER NOT NULL
                );
                CREATE INDEX chunks_by_thread ON chunks(thread, sequence);
                PRAGMA user_version = 1;
                """)
        }
        // v2: a block's last-instruction offset, known when the block is decoded, so replays need not
        // decode every block again to find its exit site (NULL: not known, decode the bytes).
        migrator.registerMigration("v2") { db in
            try db.execute(sql: """
                ALTER TABLE blocks ADD COLUMN last_instruction_offset INTEGER;
                PRAGMA user_version = 2;
                """)
        }
        // v3: process trees. One row per process image (docs/trace-format.md), and which process each
        // thread belongs to. Older traces have neither: one process, every thread in it.
        migrator.registerMigration("v3") { db in
            try db.execute(sql: """
                CREATE TABLE processes (
                    id INTEGER PRIMARY KEY,
                    pid INTEGER NOT NULL,
                    parent INTEGER,
                    origin TEXT NOT NULL,
                    program TEXT NOT NULL,
                    argv TEXT NOT NULL,
                    exit_status INTEGER,
                    signal INTEGER,
                    note TEXT NOT NULL,
                    fork_thread INTEGER,
                    fork_event_index INTEGER
                );
                CREATE TABLE process_threads (
                    thread INTEGER PRIMARY KEY,
                    process INTEGER NOT NULL
                );
                PRAGMA user_version = 3;
                """)
        }
        // v4: whole-system traces (docs/trace-format.md, "System traces"): the guest mode, each block's
        // privilege level and physical address, and the chunks' system events (interrupts, exceptions,
        // page-table stores). Defaults make every older trace a user-mode one.
        migrator.registerMigration("v4") { db in
            try db.execute(sql: """
                ALTER TABLE metadata ADD COLUMN guest_mode TEXT NOT NULL DEFAULT 'user';
                ALTER TABLE blocks ADD COLUMN privilege INTEGER NOT NULL DEFAULT 3;
                ALTER TABLE blocks ADD COLUMN physical_address INTEGER;
                ALTER TABLE chunks ADD COLUMN system_events INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE summary ADD COLUMN system_events INTEGER NOT NULL DEFAULT 0;
                PRAGMA user_version = 4;
                """)
        }
        // v5: module maps per process. Each process of a tree has its own address space, so two processes
        // may map different files at one address; a row names the process it belongs to (NULL: every
        // process, as all rows of an older trace do).
        migrator.registerMigration("v5") { db in
            try db.execute(sql: """
                ALTER TABLE modules ADD COLUMN process INTEGER;
                PRAGMA user_version = 5;
                """)
        }
        // v6: data touches coded by BlockCodec's touch model, per predictive chunk (docs/trace-format.md,
        // "Chunk layout"); NULL: the touches are in the side-event payload, as in every older trace.
        migrator.registerMigration("v6") { db in
            try db.execute(sql: """
                ALTER TABLE chunks ADD COLUMN touches BLOB;
                PRAGMA user_version = 6;
                """)
        }
        // v7: no new column; `chunks.touches` starts with a byte naming the touch model that coded the rest
        // (BlockCodec's TouchModelVersion). Version-6 payloads have no such byte and are model 1.
        migrator.registerMigration("v7") { db in
            try db.execute(sql: "PRAGMA user_version = 7")
        }
        return migrator
    }

    /// Tables and the columns each must have, per schema version; a reader checks them before use.
    static func expectedColumns(version: Int) -> [String: [String]] {
        var columns: [String: [String]] = [
            "metadata": ["id", "program", "argv", "arch", "recorder", "recorder_version", "plexlab_version",
                         "host", "date", "exit_status", "signal", "complete", "note", "has_data_touches"],
            "summary": ["id", "instructions", "blocks_executed", "distinct_blocks", "code_pages",
                        "code_page_versions", "code_writes", "syscalls", "data_touches", "threads", "chunks",
                        "block_stream_bytes"],
            "modules": ["id", "start", "end", "file_offset", "path"],
            "code_blobs": ["id", "hash", "size", "data"],
            "code_pages": ["address", "version", "blob_id"],
            "blocks": ["id", "address", "length", "instruction_count", "code_version", "exit_kind",
                       "static_target", "sensitive_count", "cpuid_count", "bytes"],
            "chunks": ["sequence", "thread", "first_event_index", "block_count", "codec", "blocks", "blocks_size",
                       "events", "events_size", "code_writes", "syscalls", "data_touches", "checksum"],
        ]
        if version >= 2 { columns["blocks", default: []].append("last_instruction_offset") }
        if version >= 3 {
            columns["processes"] = ["id", "pid", "parent", "origin", "program", "argv", "exit_status", "signal",
                                    "note", "fork_thread", "fork_event_index"]
            columns["process_threads"] = ["thread", "process"]
        }
        if version >= 4 {
            columns["metadata", default: []].append("guest_mode")
            columns["blocks", default: []] += ["privilege", "physical_address"]
            columns["chunks", default: []].append("system_events")
            columns["summary", default: []].append("system_events")
        }
        if version >= 5 { columns["modules", default: []].append("process") }
        if version >= 6 { columns["chunks", default: []].append("touches") }
        return columns
    }
}

/// How a chunk's block ids are encoded; the id is stored in every chunk row.
public enum BlockStreamCodec: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// Little-endian u32 ids, zstd level 3.
    case raw = 0
    /// BlockCodec's predictor plus entropy coder (`BlockCodecVariant.full`); state carries across one
    /// thread's chunks.
    case predictive = 1
    /// The same with BlockCodec's cheaper configuration (`BlockCodecVariant.fast`): 1.1-2x as fast to encode
    /// and decode, 2-15% larger (docs/block-codec.md).
    case predictiveFast = 2

    /// What new traces use: the fast configuration, because coding speed bounds both recording and replay
    /// while the size stays well inside its target. Switching codecs is this one line; readers handle all.
    public static let writerDefault: BlockStreamCodec = .predictiveFast

    /// The codec with this `description` ("raw", "predictive", "predictiveFast").
    public init?(name: String) {
        guard let codec = Self.allCases.first(where: { $0.description == name }) else { return nil }
        self = codec
    }

    public var description: String {
        switch self {
        case .raw: "raw"
        case .predictive: "predictive"
        case .predictiveFast: "predictiveFast"
        }
    }

    /// The BlockCodec configuration of a predictive codec (nil for `raw`).
    public var blockVariant: BlockCodecVariant? {
        switch self {
        case .raw: nil
        case .predictive: .full
        case .predictiveFast: .fast
        }
    }
}
