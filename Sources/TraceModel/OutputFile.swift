#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Why `OutputFile.write` refused or failed: one line naming the path.
public struct OutputFileError: Error, LocalizedError, CustomStringConvertible, Equatable {
    public var path: String
    public var reason: String
    public var description: String { "cannot write \(path): \(reason)" }
    public var errorDescription: String? { reason }
}

/// Small text outputs (report files, baselines, profiles, Markdown summaries) written without destroying
/// what the path names: a missing or regular file is replaced atomically (a temporary file beside it,
/// renamed), a symbolic link is followed, a FIFO or device (`/dev/stdout`) is written into, never replaced
/// by a regular file, and a directory or socket is refused.
public enum OutputFile {
    public static func write(_ data: Data, to path: String) throws {
        var info = stat()
        guard stat(path, &info) == 0 else {
            // Missing (or a dangling link): a new file.
            try atomicWrite(data, to: path)
            return
        }
        switch info.st_mode & S_IFMT {
        case S_IFREG:
            // Through a link, the file it points to is replaced and the link stays.
            let real = realpath(path, nil)
            defer { free(real) }
            try atomicWrite(data, to: real.map { String(cString: $0) } ?? path)
        case S_IFIFO, S_IFCHR, S_IFBLK:
            try writeInto(data, path)
        case S_IFDIR:
            throw OutputFileError(path: path, reason: "it is a directory")
        default:
            throw OutputFileError(path: path, reason: "it is not a regular file, FIFO or device")
        }
    }

    public static func write(_ text: String, to path: String) throws { try write(Data(text.utf8), to: path) }

    private static func atomicWrite(_ data: Data, to path: String) throws {
        do {
            try data.write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw OutputFileError(path: path, reason: (error as NSError).localizedFailureReason ?? error.localizedDescription)
        }
    }

    /// Appends `text` to `path` (created if missing), as `>>` would: a FIFO or device is written into.
    public static func append(_ text: String, to path: String) throws {
        try writeInto(Data(text.utf8), path, flags: O_APPEND | O_CREAT)
    }

    /// A FIFO without a reader is an error, not a hang (O_NONBLOCK open fails with ENXIO).
    private static func writeInto(_ data: Data, _ path: String, flags: Int32 = 0) throws {
        let fd = open(path, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC | flags, 0o644)
        guard fd >= 0 else {
            let reason = errno == ENXIO ? "a FIFO with no reader" : String(cString: strerror(errno))
            throw OutputFileError(path: path, reason: reason)
        }
        defer { close(fd) }
        var info = stat()
        if fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFDIR { throw OutputFileError(path: path, reason: "it is a directory") }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        try data.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) in
            var offset = 0
            while offset < buffer.count {
                let n = Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { throw OutputFileError(path: path, reason: String(cString: strerror(errno))) }
                offset += n
            }
        }
    }
}
