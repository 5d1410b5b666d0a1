import Foundation
import GRDB
import TraceModel

/// TraceMetadata as the single row of the `metadata` table (argv as a JSON array of strings).
enum MetadataRow {
    static func insert(_ metadata: TraceMetadata, into db: Database) throws {
        try db.execute(sql: """
            INSERT INTO metadata (id, program, argv, arch, recorder, recorder_version, plexlab_version, host, date,
                                  exit_status, signal, complete, note, has_data_touches)
            VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: arguments(metadata))
    }

    static func update(_ metadata: TraceMetadata, in db: Database) throws {
        try db.execute(sql: """
            UPDATE metadata SET program = ?, argv = ?, arch = ?, recorder = ?, recorder_version = ?,
                plexlab_version = ?, host = ?, date = ?, exit_status = ?, signal = ?, complete = ?, note = ?,
                has_data_touches = ?
            WHERE id = 1
            """, arguments: arguments(metadata))
    }

    private static func arguments(_ m: TraceMetadata) -> StatementArguments {
        let argv = TraceTextLimits.storedArgv(m.argv)
        return [m.program, argv, m.arch.rawValue, m.recorder, m.recorderVersion, m.plexlabVersion, m.host, m.date,
                m.exitStatus.map { Int64($0) }, m.signal.map { Int64($0) }, m.complete ? 1 : 0, m.note,
                m.hasDataTouches ? 1 : 0]
    }

    /// Reads the row strictly: every field must have its documented type.
    static func read(_ db: Database) throws(StoredValueError) -> TraceMetadata {
        let row: Row?
        do {
            let textBytes = try Int64.fetchOne(db, sql: """
                SELECT length(program) + length(argv) + length(arch) + length(recorder) + length(recorder_version)
                       + length(plexlab_version) + length(host) + length(date) + length(note)
                FROM metadata WHERE id = 1
                """) ?? 0
            guard textBytes <= TraceTextLimits.metadataBytes else {
                throw StoredValueError("the metadata row holds \(textBytes) bytes of text")
            }
            row = try Row.fetchOne(db, sql: """
                SELECT program, argv, arch, recorder, recorder_version, plexlab_version, host, date, exit_status,
                       signal, complete, note, has_data_touches FROM metadata WHERE id = 1
                """)
        } catch let error as StoredValueError {
            throw error
        } catch {
            throw StoredValueError("the metadata row cannot be read (\(error))")
        }
        guard let row else { throw StoredValueError("the metadata row is missing (creation was interrupted)") }
        let fields = StrictRow(row, record: "metadata")
        let argvText = try fields.text(1)
        guard let argv = JSONText.strings(argvText) else { throw StoredValueError("metadata argv is not a JSON array of strings") }
        let archName = try fields.text(2)
        guard let arch = GuestArch(rawValue: archName) else {
            throw StoredValueError("metadata arch \"\(archName.prefix(40))\" is unknown")
        }
        return TraceMetadata(
            program: try fields.text(0), argv: argv, arch: arch, recorder: try fields.text(3),
            recorderVersion: try fields.text(4), plexlabVersion: try fields.text(5), host: try fields.text(6),
            date: try fields.text(7), exitStatus: try fields.optionalInt32(8), signal: try fields.optionalInt32(9),
            complete: try fields.bool(10), note: try fields.text(11), hasDataTouches: try fields.bool(12))
    }
}

/// A stored value that does not have its documented type or range.
struct StoredValueError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Typed reads of one stored row of an untrusted file: no implicit conversion, no trap on a wrong type,
/// errors name the record and the column. A reader supplies the three primitives; the rest is shared.
protocol StrictColumns {
    func int64(_ index: Int) throws(StoredValueError) -> Int64
    func isNull(_ index: Int) -> Bool
    func fail(_ index: Int, _ expected: String) -> StoredValueError
}

extension StrictColumns {
    /// A u64 field, stored as its two's-complement i64.
    func uint64(_ index: Int) throws(StoredValueError) -> UInt64 {
        UInt64(bitPattern: try int64(index))
    }

    func int(_ index: Int, in range: ClosedRange<Int64>) throws(StoredValueError) -> Int {
        let v = try int64(index)
        guard range.contains(v) else { throw fail(index, "within \(range.lowerBound)...\(range.upperBound)") }
        return Int(v)
    }

    func uint32(_ index: Int) throws(StoredValueError) -> UInt32 {
        UInt32(try int(index, in: 0...Int64(UInt32.max)))
    }

    func uint16(_ index: Int) throws(StoredValueError) -> UInt16 {
        UInt16(try int(index, in: 0...Int64(UInt16.max)))
    }

    func optionalInt32(_ index: Int) throws(StoredValueError) -> Int32? {
        if isNull(index) { return nil }
        return Int32(try int(index, in: Int64(Int32.min)...Int64(Int32.max)))
    }

    func optionalUInt64(_ index: Int) throws(StoredValueError) -> UInt64? {
        if isNull(index) { return nil }
        return try uint64(index)
    }

    func bool(_ index: Int) throws(StoredValueError) -> Bool {
        try int(index, in: 0...1) == 1
    }
}

/// `StrictColumns` over a GRDB row (metadata, modules, chunks: rows read once or once per chunk).
struct StrictRow: StrictColumns {
    let row: Row
    let record: String

    init(_ row: Row, record: String) {
        self.row = row
        self.record = record
    }

    private func value(_ index: Int) -> DatabaseValue {
        row[index] as DatabaseValue
    }

    func fail(_ index: Int, _ expected: String) -> StoredValueError {
        StoredValueError("\(record) column \(row.columnNames[row.index(row.startIndex, offsetBy: index)]) "
                         + "is not \(expected)")
    }

    func isNull(_ index: Int) -> Bool { value(index).isNull }

    func int64(_ index: Int) throws(StoredValueError) -> Int64 {
        guard case let .int64(v) = value(index).storage else { throw fail(index, "an integer") }
        return v
    }

    func text(_ index: Int) throws(StoredValueError) -> String {
        guard case let .string(s) = value(index).storage else { throw fail(index, "text") }
        return s
    }

    func blob(_ index: Int) throws(StoredValueError) -> [UInt8] {
        guard case let .blob(data) = value(index).storage else { throw fail(index, "a blob") }
        return [UInt8](data)
    }

    func optionalBlob(_ index: Int) throws(StoredValueError) -> [UInt8]? {
        if isNull(index) { return nil }
        return try blob(index)
    }
}
