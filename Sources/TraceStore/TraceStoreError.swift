/// Everything that can go wrong with a trace file; each description is one line naming the file.
public enum TraceStoreError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file is missing, unreadable, or something other than a PlexLab trace (the reason says what).
    case notATrace(path: String, reason: String)
    /// The file was cut short.
    case truncated(path: String, detail: String)
    /// The trace was written by a newer PlexLab; it is never migrated or modified.
    case newerSchema(path: String, version: Int, supported: Int)
    /// The SQL structure is not what this schema version defines (missing tables, triggers, views, ...).
    case unsafeSchema(path: String, detail: String)
    /// SQLite or a stored record says the file is damaged.
    case damaged(path: String, detail: String)
    /// One chunk cannot be read back (checksum, size, decoding).
    case badChunk(path: String, sequence: Int64, detail: String)
    /// `plexlab info --verify` found bad chunks.
    case verifyFailed(path: String, bad: Int, total: Int)
    /// The writer refuses to replace an existing file.
    case exists(path: String)
    /// `--force` (overwrite) met something that is not a PlexLab trace: it is left untouched.
    case notReplaceable(path: String, reason: String)
    /// Another writer holds the path's lock (`PATH.lock`).
    case busy(path: String, lock: String)
    /// Writing failed (disk full, I/O error); earlier chunks stay readable.
    case writeFailed(path: String, detail: String)
    /// The trace is in its fast form (recorded with --no-pack, or its pack was stopped): pack it first.
    case notPacked(path: String)
    /// The writer was used against its contract (undefined block id, event before a committed chunk, ...).
    case misuse(path: String, detail: String)

    public var description: String {
        switch self {
        case let .notATrace(path, reason):
            "\(path) is not a PlexLab trace (\(reason))"
        case let .truncated(path, detail):
            "\(path) is truncated (\(detail))"
        case let .newerSchema(path, version, supported):
            "trace \(path) uses schema version \(version); this plexlab reads up to \(supported)"
        case let .unsafeSchema(path, detail):
            "\(path) is refused: \(detail)"
        case let .damaged(path, detail):
            "\(path) is damaged: \(detail)"
        case let .badChunk(path, sequence, detail):
            "\(path): chunk \(sequence) \(detail)"
        case let .verifyFailed(path, bad, total):
            "\(path): \(bad) of \(total) chunks are bad"
        case let .exists(path):
            "\(path) already exists (choose another path or allow overwriting)"
        case let .notReplaceable(path, reason):
            "refusing to replace \(path): \(reason); only a PlexLab trace file is ever replaced"
        case let .busy(path, lock):
            "\(path) is being written by another plexlab (it holds \(lock)); wait for it or choose another path"
        case let .writeFailed(path, detail):
            "cannot write \(path): \(detail)"
        case let .notPacked(path):
            "\(path) is in its fast form (recorded with --no-pack, or its pack was stopped): run `plexlab pack \(path)` first"
        case let .misuse(path, detail):
            "trace writer for \(path): \(detail)"
        }
    }
}

/// A chunk that `TraceReader.verify()` could not read back.
public struct ChunkProblem: Sendable, Equatable, Codable, CustomStringConvertible {
    /// The chunk's global sequence number.
    public var sequence: Int64
    /// Its thread, when the row says one.
    public var thread: UInt32?
    /// What is wrong, e.g. "fails its checksum".
    public var reason: String

    public init(sequence: Int64, thread: UInt32?, reason: String) {
        self.sequence = sequence
        self.thread = thread
        self.reason = reason
    }

    public var description: String {
        if let thread { "chunk \(sequence) (thread \(thread)): \(reason)" } else { "chunk \(sequence): \(reason)" }
    }
}
