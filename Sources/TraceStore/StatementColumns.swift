import CSQLiteHardening
import GRDB
import TraceModel

/// `StrictColumns` read straight from the statement's current row with SQLite's column functions.
///
/// For the tables read once per distinct block or page (blocks, code_pages): going through GRDB's `Row`
/// and `DatabaseValue` costs microseconds per row in generic decoding, more than the rest of a replay's
/// setup. Same rules: no implicit conversion, no trap on a wrong type, errors name the record and column.
struct StatementColumns: StrictColumns {
    let statement: SQLiteStatement
    let record: String

    init(_ statement: Statement, record: String) {
        self.statement = statement.sqliteStatement
        self.record = record
    }

    func fail(_ index: Int, _ expected: String) -> StoredValueError {
        let name = sqlite3_column_name(statement, Int32(index)).map { String(cString: $0) } ?? "\(index)"
        return StoredValueError("\(record) column \(name) is not \(expected)")
    }

    func isNull(_ index: Int) -> Bool { sqlite3_column_type(statement, Int32(index)) == SQLITE_NULL }

    func int64(_ index: Int) throws(StoredValueError) -> Int64 {
        guard sqlite3_column_type(statement, Int32(index)) == SQLITE_INTEGER else { throw fail(index, "an integer") }
        return sqlite3_column_int64(statement, Int32(index))
    }

    func blob(_ index: Int) throws(StoredValueError) -> [UInt8] {
        try withBlob(index) { [UInt8]($0) }
    }

    /// Calls `body` with the blob's bytes, valid only during the call (no copy).
    func withBlob<T>(_ index: Int, _ body: (UnsafeRawBufferPointer) throws -> T) throws(StoredValueError) -> T {
        guard sqlite3_column_type(statement, Int32(index)) == SQLITE_BLOB else { throw fail(index, "a blob") }
        // The pointer first, then the length (SQLite's documented order).
        let base = sqlite3_column_blob(statement, Int32(index))
        let count = Int(sqlite3_column_bytes(statement, Int32(index)))
        do {
            return try body(UnsafeRawBufferPointer(start: count > 0 ? base : nil, count: count))
        } catch let error as StoredValueError {
            throw error
        } catch {
            throw StoredValueError("\(error)")
        }
    }
}
