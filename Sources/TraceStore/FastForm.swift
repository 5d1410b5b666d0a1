#if canImport(Glibc)
import Glibc
#endif
import CLZ4
import Foundation
import GRDB
import TraceModel

/// A recording in its fast form (docs/recorder.md, "Record, then pack"): the plugin's byte stream as it
/// arrived, cut into segments compressed with LZ4 (a block each), plus what the recorder learnt about the
/// run (`facts`, JSON the recorder defines). `plexlab pack` turns it into block chunks. The file is a
/// trace (application id, schema, metadata marked incomplete with `FastForm.note`), so the destination
/// code, `info` and `--force` treat it as one; it has no chunks until packed.
public enum FastForm {
    /// The metadata note of a trace in its fast form.
    public static let note = "fast form: not packed yet (run `plexlab pack` on it to replay it)"
    static let streamTable = "plugin_stream"
    static let factsTable = "recording_facts"
    /// LZ4 at acceleration 8: 3.3 GB/s on the plugin's stream, 19.5x smaller (acceleration 1: 2.4 GB/s,
    /// 20.2x; zstd's fastest levels: 1 GB/s, 33x). The recorder must keep pace with the guest; the pack
    /// reads it once.
    static let acceleration: Int32 = 8
    /// No segment may declare more than this when read back.
    static let segmentCap = 64 << 20
}

/// Writes a trace in its fast form; one thread. Each `append` is its own transaction, so a recorder
/// killed mid-run leaves every earlier segment readable (and packable).
public final class FastFormWriter {
    public let path: String
    private var database: DatabaseQueue?
    private var sequence: Int64 = 0
    private var scratch: [UInt8] = []
    /// Stream bytes appended so far (before compression).
    public private(set) var streamBytes: UInt64 = 0
    /// A process tree's fast form: segments name their stream (one per process image) and each stream's end.
    public let tree: Bool

    /// Creates the file (it must not exist, or be a trace left by a killed writer) with `metadata`,
    /// marked incomplete with `FastForm.note`. `tree`: the streams of a process tree, each segment tagged
    /// with its stream (the `stream` column), each stream's end stored as a segment of size 0.
    public init(path: String, metadata: TraceMetadata, tree: Bool = false) throws {
        self.tree = tree
        self.path = path
        var metadata = metadata
        metadata.complete = false
        metadata.note = FastForm.note
        // No fsync per transaction while the guest runs (a killed process loses nothing that SQLite has
        // written; only the machine's crash could), one at the end (`finish`): the guest run pays no disk waits.
        // 64 KiB pages: a segment's ~200 KB blob is a few page writes, not fifty (strace of gzip's guest run:
        // 9915 pwrite64 calls with 4 KiB pages).
        // The stream tables come in the transaction that makes the file a trace: a reader (`plexlab info` on
        // the live OUT.partial) never sees it as a trace that is not in its fast form.
        database = try TraceWriter.createFile(path: path, metadata: metadata, overwrite: false, synchronous: "OFF",
                                              pageSize: 65536) { db in
            try db.execute(sql: """
                CREATE TABLE \(FastForm.streamTable) (sequence INTEGER PRIMARY KEY, data BLOB NOT NULL,
                                                      size INTEGER NOT NULL\(tree ? ", stream INTEGER NOT NULL" : ""));
                CREATE TABLE \(FastForm.factsTable) (id INTEGER PRIMARY KEY CHECK (id = 1), facts TEXT NOT NULL);
                """)
        }
    }

    /// Appends the next piece of the stream (cut anywhere, at most `FastForm.segmentCap` bytes); in a tree's
    /// fast form, of stream `stream`.
    public func append(_ bytes: UnsafeRawBufferPointer, stream: Int = 0) throws {
        guard !bytes.isEmpty else { return }
        precondition(bytes.count <= FastForm.segmentCap, "fast-form segment over its cap")
        let bound = Int(LZ4_compressBound(Int32(bytes.count)))
        if scratch.count < bound { scratch = [UInt8](repeating: 0, count: bound) }
        let size = scratch.withUnsafeMutableBytes { out in
            LZ4_compress_fast(bytes.baseAddress!.assumingMemoryBound(to: CChar.self),
                              out.baseAddress!.assumingMemoryBound(to: CChar.self), Int32(bytes.count), Int32(bound),
                              FastForm.acceleration)
        }
        precondition(size > 0, "LZ4 compression into its bound failed")
        let compressed = scratch.withUnsafeBytes { Data($0[..<Int(size)]) }
        try insert(compressed, size: bytes.count, stream: stream)
        streamBytes += UInt64(bytes.count)
    }

    /// A tree's fast form: stream `stream` ended (its process image is gone and everything it sent is stored).
    public func endStream(_ stream: Int) throws {
        precondition(tree, "only a tree's fast form has several streams")
        try insert(Data(), size: 0, stream: stream)
    }

    private func insert(_ data: Data, size: Int, stream: Int) throws {
        let sequence = self.sequence
        try write { db in
            if tree {
                try db.execute(sql: "INSERT INTO \(FastForm.streamTable) (sequence, data, size, stream) VALUES (?, ?, ?, ?)",
                               arguments: [sequence, data, size, stream])
            } else {
                try db.execute(sql: "INSERT INTO \(FastForm.streamTable) (sequence, data, size) VALUES (?, ?, ?)",
                               arguments: [sequence, data, size])
            }
        }
        self.sequence += 1
    }

    /// Stores the facts and closes the file as one self-contained file (no -wal).
    public func finish(facts: String) throws {
        try write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO \(FastForm.factsTable) (id, facts) VALUES (1, ?)",
                           arguments: [facts])
        }
        try? database?.writeWithoutTransaction { db in
            _ = try db.checkpoint(.truncate)
            try db.execute(sql: "PRAGMA journal_mode = DELETE")
        }
        close()
        // The one fsync: the finished fast form is on disk before it is renamed over the destination.
        let fd = open(path, O_RDONLY)
        if fd >= 0 {
            _ = fdatasync(fd)
            Glibc.close(fd)
        }
    }

    /// Closes the file as it is (the caller removes it).
    public func abandon() { close() }

    private func close() {
        try? database?.close()
        database = nil
    }

    private func write(_ body: (Database) throws -> Void) throws {
        guard let database else { throw TraceStoreError.misuse(path: path, detail: "fast form used after finish") }
        do {
            try database.write(body)
        } catch let error as DatabaseError {
            throw TraceStoreError.writeFailed(path: path, detail: TraceWriter.describe(error))
        }
    }
}

extension TraceReader {
    /// Whether the file is a recording in its fast form (it has the plugin's stream, no chunks yet).
    public var isFastForm: Bool {
        (try? snapshot { db in try db.tableExists(FastForm.streamTable) }) ?? false
    }

    /// The recorder's facts about the run (nil when the recorder was killed before the guest ended).
    public func fastFormFacts() throws -> String? {
        try snapshot { db in
            guard try db.tableExists(FastForm.factsTable) else { return nil }
            return try String.fetchOne(db, sql: "SELECT facts FROM \(FastForm.factsTable) WHERE id = 1")
        }
    }

    /// Bytes of the stream and of its stored segments.
    public func fastFormSizes() throws -> (stream: UInt64, stored: UInt64) {
        try snapshot { db in
            let row = try Row.fetchOne(db, sql: "SELECT total(size), total(length(data)) FROM \(FastForm.streamTable)")
            return (UInt64(row?[0] as Double? ?? 0), UInt64(row?[1] as Double? ?? 0))
        }
    }

    /// Whether the fast form holds a process tree's streams (`FastFormWriter(tree: true)`).
    public var isTreeFastForm: Bool {
        (try? snapshot { db in try db.columns(in: FastForm.streamTable).contains { $0.name == "stream" } }) ?? false
    }

    /// Calls `body` with each segment of the plugin's stream in order (decompressed; valid during the call);
    /// stops early when `body` returns false.
    public func forEachFastFormSegment(_ body: (UnsafeRawBufferPointer) throws -> Bool) throws {
        try forEachFastFormPiece { _, bytes in try bytes.map(body) ?? true }
    }

    /// A tree's fast form: calls `body` with each segment in the order stored, with its stream; `nil` bytes
    /// say that the stream ended. Stops early when `body` returns false.
    public func forEachFastFormPiece(_ body: (Int, UnsafeRawBufferPointer?) throws -> Bool) throws {
        var scratch: [UInt8] = []
        let tree = isTreeFastForm
        try snapshot { db in
            let rows = try Row.fetchCursor(db, sql: "SELECT sequence, data, size\(tree ? ", stream" : ", 0") FROM "
                                           + "\(FastForm.streamTable) ORDER BY sequence")
            var expected: Int64 = 0
            while let row = try rows.next() {
                let sequence: Int64 = row[0]
                let stream = row[3] as Int? ?? -1
                guard sequence == expected, let data = row[1] as Data?, let size = row[2] as Int?, stream >= 0 else {
                    throw TraceStoreError.damaged(path: path, detail: "fast-form segment \(expected) is missing or malformed")
                }
                expected += 1
                if tree, size == 0, data.isEmpty {
                    if try !body(stream, nil) { return }
                    continue
                }
                guard size > 0, size <= FastForm.segmentCap, !data.isEmpty,
                      data.count <= Int(LZ4_compressBound(Int32(size))) else {
                    throw TraceStoreError.damaged(path: path, detail: "fast-form segment \(sequence) is missing or malformed")
                }
                if scratch.count < size { scratch = [UInt8](repeating: 0, count: size) }
                let inflated = data.withUnsafeBytes { source in
                    scratch.withUnsafeMutableBytes { out in
                        LZ4_decompress_safe(source.baseAddress!.assumingMemoryBound(to: CChar.self),
                                            out.baseAddress!.assumingMemoryBound(to: CChar.self), Int32(source.count), Int32(size))
                    }
                }
                guard inflated == Int32(size) else {
                    throw TraceStoreError.damaged(path: path, detail: "fast-form segment \(sequence) does not inflate to its \(size) bytes")
                }
                let more = try scratch.withUnsafeBytes { try body(stream, UnsafeRawBufferPointer(rebasing: $0[..<size])) }
                if !more { return }
            }
        }
    }
}
