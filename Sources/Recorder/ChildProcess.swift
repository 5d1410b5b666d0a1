#if canImport(Glibc)
import Glibc
#endif

/// How a process ended.
public enum Termination: Sendable, Equatable {
    case exited(Int32)
    case signaled(Int32)

    init(waitStatus status: Int32) {
        let low = status & 0x7f
        self = low == 0 ? .exited((status >> 8) & 0xff) : .signaled(low)
    }

    public var description: String {
        switch self {
        case .exited(let code): "exited with status \(code)"
        case .signaled(let signal): "died of signal \(signal)"
        }
    }
}

/// Starting and reaping child processes with posix_spawn (Foundation's `Process` polls for the child's
/// end every 50 ms, which every recording would wait out).
enum ChildProcess {
    struct SpawnError: Error, Equatable, CustomStringConvertible {
        let code: Int32
        var description: String { String(cString: strerror(code)) }
    }

    /// Starts `path` with `argv`, default signal dispositions and an empty signal mask (the recorder blocks
    /// SIGINT and SIGTERM in its own threads), after `dup2(from, to)` for each of `redirect`, in
    /// `workingDirectory` when given (the recorder's own directory stays as it is).
    static func spawn(_ path: String, _ argv: [String], redirect: [(from: Int32, to: Int32)],
                      workingDirectory: String? = nil) throws(SpawnError) -> pid_t {
        var cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for arg in cArgs { free(arg) } }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for (from, to) in redirect { posix_spawn_file_actions_adddup2(&actions, from, to) }
        if let workingDirectory {
            let result = Self.addChdir.map { $0(&actions, workingDirectory) } ?? ENOSYS
            guard result == 0 else { throw SpawnError(code: result) }
        }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGINT, SIGTERM, SIGPIPE, SIGQUIT, SIGHUP] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        var child: pid_t = 0
        let result = posix_spawn(&child, path, &actions, &attributes, &cArgs, environ)
        guard result == 0 else { throw SpawnError(code: result) }
        return child
    }

    /// glibc's posix_spawn_file_actions_addchdir_np (2.29+), looked up at run time: Swift's Glibc module
    /// does not declare it (it is behind _GNU_SOURCE).
    private static let addChdir: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32)? = {
        guard let symbol = dlsym(nil, "posix_spawn_file_actions_addchdir_np") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32).self)
    }()

    /// Waits for `pid` to end.
    static func wait(_ pid: pid_t) -> Termination {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return .signaled(SIGKILL) }
        }
        return Termination(waitStatus: status)
    }

    /// Runs `path` with `argv` to its end; its standard output (standard error discarded), or nil if it
    /// could not start.
    static func output(of path: String, _ argv: [String]) -> [UInt8]? {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { return nil }
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        let null = open("/dev/null", O_WRONLY | O_CLOEXEC)
        defer { if null >= 0 { close(null) } }
        var redirect = [(from: fds[1], to: Int32(1))]
        if null >= 0 { redirect.append((null, 2)) }
        let child = try? spawn(path, argv, redirect: redirect)
        close(fds[1])
        defer { close(fds[0]) }
        guard let child else { return nil }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(fds[0], &buffer, buffer.count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            bytes += buffer[0..<n]
        }
        _ = wait(child)
        return bytes
    }
}

extension ChildProcess {
    /// How `pid` ended if it has (reaping it), nil while it runs.
    static func poll(_ pid: pid_t) -> Termination? {
        var status: Int32 = 0
        while true {
            let reaped = waitpid(pid, &status, WNOHANG)
            if reaped == pid { return Termination(waitStatus: status) }
            if reaped < 0 && errno == EINTR { continue }
            return reaped < 0 ? .signaled(SIGKILL) : nil
        }
    }
}
