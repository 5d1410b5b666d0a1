import Foundation

/// Looks at a file's first 100 bytes (the SQLite header) before SQLite parses anything.
enum FileCheck {
    static let sqliteMagic = Array("SQLite format 3\0".utf8)

    static func fileSize(_ path: String) -> UInt64? {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path) else { return nil }
        return (attributes[.size] as? NSNumber)?.uint64Value
    }

    /// Throws a one-line error for a missing, non-SQLite, foreign or visibly truncated file.
    static func precheck(_ path: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw TraceStoreError.notATrace(path: path, reason: "no such file")
        }
        if isDirectory.boolValue { throw TraceStoreError.notATrace(path: path, reason: "a directory") }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw TraceStoreError.notATrace(path: path, reason: "cannot open it for reading")
        }
        defer { try? handle.close() }
        let header = [UInt8]((try? handle.read(upToCount: 100)) ?? Data())
        let size = fileSize(path) ?? UInt64(header.count)
        if header.isEmpty { throw TraceStoreError.notATrace(path: path, reason: "empty file") }
        let magicLength = min(header.count, sqliteMagic.count)
        guard header.prefix(magicLength).elementsEqual(sqliteMagic.prefix(magicLength)) else {
            throw TraceStoreError.notATrace(path: path, reason: "not an SQLite database")
        }
        guard header.count == 100 else {
            throw TraceStoreError.truncated(path: path, detail: "\(size) bytes, shorter than an SQLite header")
        }
        let applicationID = Int32(bitPattern: bigEndian32(header, 68))
        guard applicationID == TraceSchema.applicationID else {
            throw TraceStoreError.notATrace(path: path, reason: "an SQLite database with application id "
                                            + "\(applicationID), not PlexLab's \(TraceSchema.applicationID)")
        }
        // With a non-empty -wal file the main file may legitimately lag; SQLite checks that case itself.
        if (fileSize(path + "-wal") ?? 0) == 0 {
            let rawPageSize = UInt64(header[16]) << 8 | UInt64(header[17])
            let pageSize = rawPageSize == 1 ? 65536 : rawPageSize
            let pageCount = UInt64(bigEndian32(header, 28))
            let headerCountValid = bigEndian32(header, 24) == bigEndian32(header, 92)
            if headerCountValid && pageCount > 0 && pageSize >= 512 && pageCount * pageSize > size {
                throw TraceStoreError.truncated(path: path, detail: "\(size) bytes, its header says "
                                                + "\(pageCount * pageSize)")
            }
        }
    }

    private static func bigEndian32(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
        bytes[offset..<offset + 4].reduce(0) { $0 << 8 | UInt32($1) }
    }
}
