#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// The path a new trace goes to, claimed for one writer (docs/reliability.md, "Hardening, second round").
///
/// - Only a missing path or, with `overwrite`, a regular file that is a PlexLab trace may be replaced
///   (a symbolic link is followed to such a file); a directory, device, FIFO, socket or any other file is
///   refused and left untouched.
/// - The trace is written to `partialPath` (`TARGET.partial`, beside the target, so the final rename is
///   atomic) and only `commit()` renames it over the target: a run that fails (`discard()`) or is killed
///   never costs the file that was there. A live recording is read at `partialPath`.
/// - `TARGET.lock` is held with `flock` while the destination lives: a second writer of the same path is
///   refused. The kernel drops the lock when the process dies, so kill -9 never leaves it held.
public final class TraceDestination {
    /// The path as given (for messages).
    public let target: String
    /// Where the trace is written until `commit()`.
    public let partialPath: String
    /// The file `commit()` replaces: `target`, or what its symbolic link points to.
    private let resolved: String
    private let overwrite: Bool
    private let lockPath: String
    private var lockFD: Int32 = -1

    /// Checks the target, takes its lock and removes a partial file left by a writer that was killed.
    public init(path: String, overwrite: Bool) throws {
        target = path
        self.overwrite = overwrite
        resolved = try Self.replaceablePath(path, overwrite: overwrite)
        partialPath = resolved + ".partial"
        lockPath = resolved + ".lock"
        lockFD = try Self.lock(lockPath, target: path)
        do {
            // Nobody holds the lock, so a partial file here belongs to a writer that died.
            try Self.removeTrace(at: partialPath, target: path)
        } catch {
            release()
            throw error
        }
    }

    deinit { release() }

    /// Renames the partial trace (and a -wal a reader kept alive) over the target and releases the lock.
    /// The target is checked again first; if it became something else, the new trace stays at `partialPath`.
    public func commit() throws {
        guard lockFD >= 0 else { return }
        defer { release() }
        do {
            _ = try Self.replaceablePath(resolved, overwrite: overwrite)
        } catch let error as TraceStoreError {
            throw TraceStoreError.writeFailed(path: target, detail: "\(error); the new trace is kept at \(partialPath)")
        }
        // An old -wal beside the target would be applied to the new file: it goes first.
        for suffix in ["-wal", "-shm", "-journal"] { unlink(resolved + suffix) }
        if (FileCheck.fileSize(partialPath + "-wal") ?? 0) > 0, rename(partialPath + "-wal", resolved + "-wal") != 0 {
            throw TraceStoreError.writeFailed(path: target, detail: "cannot rename \(partialPath)-wal: \(Self.lastError())")
        }
        guard rename(partialPath, resolved) == 0 else {
            throw TraceStoreError.writeFailed(path: target, detail: "cannot rename \(partialPath) over it: \(Self.lastError())")
        }
        for suffix in ["-wal", "-shm", "-journal"] { unlink(partialPath + suffix) }
    }

    /// Removes the partial trace and its -wal, -shm and -journal, and releases the lock; the target is untouched.
    public func discard() {
        guard lockFD >= 0 else { return }
        for suffix in ["", "-wal", "-shm", "-journal"] { unlink(partialPath + suffix) }
        release()
    }

    private func release() {
        guard lockFD >= 0 else { return }
        // Unlinked while still held: a writer that opened the old file retries on the new one (see `lock`).
        unlink(lockPath)
        close(lockFD)
        lockFD = -1
    }

    /// The path to replace: `path` itself, or the file its symbolic link resolves to. Throws
    /// `exists` without `overwrite`, `notReplaceable` for anything but a PlexLab trace file.
    static func replaceablePath(_ path: String, overwrite: Bool) throws -> String {
        var info = stat()
        guard lstat(path, &info) == 0 else {
            if errno == ENOENT { return path }
            throw TraceStoreError.writeFailed(path: path, detail: lastError())
        }
        guard overwrite else { throw TraceStoreError.exists(path: path) }
        var resolved = path
        if info.st_mode & S_IFMT == S_IFLNK {
            guard stat(path, &info) == 0, let real = realpath(path, nil) else {
                throw TraceStoreError.notReplaceable(path: path, reason: "it is a symbolic link to nothing")
            }
            resolved = String(cString: real)
            free(real)
        }
        if let kind = FileCheck.kind(info.st_mode) {
            throw TraceStoreError.notReplaceable(path: path, reason: "it is \(kind)")
        }
        do {
            try FileCheck.checkIsTrace(resolved)
        } catch let TraceStoreError.notATrace(_, reason) {
            throw TraceStoreError.notReplaceable(path: path, reason: "it is not a PlexLab trace (\(reason))")
        }
        return resolved
    }

    /// Opens and flocks `lockPath`; a lock held by another process is `busy`.
    private static func lock(_ lockPath: String, target: String) throws -> Int32 {
        for _ in 0..<100 {
            let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0o644)
            guard fd >= 0 else {
                throw TraceStoreError.writeFailed(path: target, detail: "cannot create its lock file \(lockPath): \(lastError())")
            }
            var held = stat(), current = stat()
            guard fstat(fd, &held) == 0, held.st_mode & S_IFMT == S_IFREG else {
                close(fd)
                throw TraceStoreError.writeFailed(path: target, detail: "its lock file \(lockPath) is not a regular file")
            }
            if flock(fd, LOCK_EX | LOCK_NB) != 0 {
                let code = errno
                close(fd)
                if code == EWOULDBLOCK { throw TraceStoreError.busy(path: target, lock: lockPath) }
                throw TraceStoreError.writeFailed(path: target, detail: "cannot lock \(lockPath): \(String(cString: strerror(code)))")
            }
            // The holder may have unlinked the file between our open and our flock: lock the file now there.
            if stat(lockPath, &current) == 0, current.st_ino == held.st_ino, current.st_dev == held.st_dev { return fd }
            close(fd)
        }
        throw TraceStoreError.writeFailed(path: target, detail: "its lock file \(lockPath) keeps being replaced")
    }

    /// Removes a trace file and its -wal, -shm and -journal; anything else at the path is refused.
    private static func removeTrace(at path: String, target: String) throws {
        var info = stat()
        if lstat(path, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFREG else {
                throw TraceStoreError.notReplaceable(path: path, reason: "it is \(FileCheck.kind(info.st_mode) ?? "not a regular file")")
            }
        }
        for suffix in ["", "-wal", "-shm", "-journal"] where unlink(path + suffix) != 0 && errno != ENOENT {
            throw TraceStoreError.writeFailed(path: target, detail: "cannot remove the stale \(path + suffix): \(lastError())")
        }
    }

    private static func lastError() -> String { String(cString: strerror(errno)) }
}
