#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// The Unix socket forked children and exec'd programs connect to for their own stream, in a private
/// directory (mode 0700) that is removed with it.
final class ProcessSocket {
    let path: String
    let fd: Int32
    private let directory: String

    init() throws {
        let base = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        var template = Array("\(base)/plexlab-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else {
            throw RecorderError.spawnFailed(detail: "cannot make a directory for the process socket in \(base): \(String(cString: strerror(errno)))")
        }
        directory = String(cString: made)
        path = directory + "/s"
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path), !path.contains(",") else {
            rmdir(directory)
            throw RecorderError.spawnFailed(detail: "the process socket path \(path) is too long or has a comma (set TMPDIR)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in bytes.enumerated() { raw[i] = byte }
        }
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard fd >= 0, bound == 0, listen(fd, 128) == 0 else {
            let detail = String(cString: strerror(errno))
            if fd >= 0 { close(fd) }
            unlink(path)
            rmdir(directory)
            throw RecorderError.spawnFailed(detail: "cannot listen on \(path): \(detail)")
        }
        _ = fcntl(fd, F_SETFL, O_NONBLOCK)
    }

    deinit {
        close(fd)
        unlink(path)
        rmdir(directory)
    }
}
