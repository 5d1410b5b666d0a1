#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Looks at a file's first 100 bytes (the SQLite header) before SQLite parses anything.
enum FileCheck {
    static let sqliteMagic = Array("SQLite format 3\0".utf8)

    static func fileSize(_ path: String) -> UInt64? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return UInt64(info.st_size)
    }

    /// What a non-regular file is, in words ("a FIFO"); nil for a regular file.
    static func kind(_ mode: mode_t) -> String? {
        switch mode & S_IFMT {
        case S_IFREG: nil
        case S_IFDIR: "a directory"
        case S_IFIFO: "a FIFO"
        case S_IFSOCK: "a socket"
        case S_IFCHR, S_IFBLK: "a device"
        case S_IFLNK: "a symbolic link"
        default: "not a regular file"
        }
    }

    /// Up to `count` bytes from the start of `path`, which must be a regular file (after symbolic links).
    /// A FIFO, device, socket or directory is refused before and after opening: `stat` first, so a device
    /// is never opened, then `O_NONBLOCK` and `fstat` on the open descriptor, so a FIFO swapped in between
    /// can neither block the open nor be read.
    static func head(_ path: String, count: Int) throws -> (bytes: [UInt8], size: UInt64) {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw TraceStoreError.notATrace(path: path, reason: errno == ENOENT ? "no such file" : String(cString: strerror(errno)))
        }
        if let kind = kind(info.st_mode) { throw TraceStoreError.notATrace(path: path, reason: kind) }
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)
        guard fd >= 0 else { throw TraceStoreError.notATrace(path: path, reason: "cannot open it for reading") }
        defer { close(fd) }
        guard fstat(fd, &info) == 0 else { throw TraceStoreError.notATrace(path: path, reason: "cannot open it for reading") }
        if let kind = kind(info.st_mode) { throw TraceStoreError.notATrace(path: path, reason: kind) }
        var bytes = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + filled, count - filled) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            filled += n
        }
        return (Array(bytes.prefix(filled)), UInt64(info.st_size))
    }

    /// Throws unless `path` is a regular file that starts like a PlexLab trace (SQLite magic, PlexLab's
    /// application id): what `--force` may replace.
    static func checkIsTrace(_ path: String) throws {
        let (header, _) = try head(path, count: 100)
        if header.isEmpty { throw TraceStoreError.notATrace(path: path, reason: "empty file") }
        guard header.count == 100, header.prefix(sqliteMagic.count).elementsEqual(sqliteMagic) else {
            throw TraceStoreError.notATrace(path: path, reason: "not an SQLite database")
        }
        guard Int32(bitPattern: bigEndian32(header, 68)) == TraceSchema.applicationID else {
            throw TraceStoreError.notATrace(path: path, reason: "an SQLite database of another application")
        }
    }

    /// Throws a one-line error for a missing, non-regular, non-SQLite, foreign or visibly truncated file.
    static func precheck(_ path: String) throws {
        let (header, size) = try head(path, count: 100)
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
