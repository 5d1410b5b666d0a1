#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization

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

/// qemu-user running the guest with the plugin, writing into a pipe the recorder reads.
final class QEMUProcess {
    let pid: pid_t
    /// The read end of the plugin's pipe.
    let pipe: Int32

    /// The descriptor the plugin finds its pipe on in the child (it moves it higher itself).
    static let childPipeFD: Int32 = 3

    /// Starts `qemu -plugin PLUGIN,fd=3[,...] PROGRAM ARGS` with default signal dispositions and mask.
    init(qemu: String, plugin: String, pluginArguments: [String], program: String, arguments: [String]) throws {
        guard !plugin.contains(",") else {
            throw RecorderError.spawnFailed(detail: "the plugin path \(plugin) contains a comma, which -plugin cannot take")
        }
        var fds: [Int32] = [0, 0]
        guard Glibc.pipe(&fds) == 0 else {
            throw RecorderError.spawnFailed(detail: "pipe: \(String(cString: strerror(errno)))")
        }
        // Neither end may leak into other children; the child gets the write end by dup2, which clears the flag.
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        // A larger pipe lets the guest run ahead while the recorder commits a chunk.
        _ = fcntl(fds[1], 1031 /* F_SETPIPE_SZ */, Int32(1 << 20))

        let pluginOption = ([plugin, "fd=\(Self.childPipeFD)"] + pluginArguments).joined(separator: ",")
        let argv = [qemu, "-plugin", pluginOption, program] + arguments
        var cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for arg in cArgs { free(arg) } }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, fds[1], Self.childPipeFD)

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
        let result = posix_spawn(&child, qemu, &actions, &attributes, &cArgs, environ)
        close(fds[1])
        guard result == 0 else {
            close(fds[0])
            throw RecorderError.spawnFailed(detail: "\(qemu): \(String(cString: strerror(result)))")
        }
        pid = child
        pipe = fds[0]
    }

    deinit { close(pipe) }

    /// Waits for the process to end.
    func wait() -> Termination {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return .signaled(SIGKILL) }
        }
        return Termination(waitStatus: status)
    }

    func kill(_ signal: Int32) {
        _ = Glibc.kill(pid, signal)
    }
}

/// Watches SIGINT and SIGTERM while a guest runs: the recorder keeps running to flush the trace, the
/// guest is stopped. A terminal's Ctrl-C already reaches the guest (same process group), so only
/// signals sent to the recorder alone are forwarded; a second one kills the guest.
final class SignalWatcher: Sendable {
    private struct State {
        var child: pid_t = 0
        var received: Int32 = 0
        var count = 0
        var stop = false
    }

    private let state = Mutex(State())
    private let done = Mutex(false)
    private let watched: [Int32] = [SIGINT, SIGTERM]
    private let previousMask: sigset_t

    /// Blocks the watched signals in the calling thread (threads it starts inherit that) and starts watching.
    init() {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in watched { sigaddset(&set, signal) }
        var previous = sigset_t()
        pthread_sigmask(SIG_BLOCK, &set, &previous)
        previousMask = previous
        let watchedSet = set
        let thread = Thread { [self] in self.watch(watchedSet) }
        thread.start()
    }

    /// The signal that interrupted the recording, if any.
    var interruption: Int32? {
        let received = state.withLock { $0.received }
        return received == 0 ? nil : received
    }

    func setChild(_ pid: pid_t) {
        state.withLock { $0.child = pid }
    }

    /// Stops watching and restores the calling thread's signal mask. A signal that arrived meanwhile
    /// stays pending in the watcher's set and is delivered by the restored mask (after the trace is safe).
    func stop() {
        state.withLock { $0.stop = true }
        while !done.withLock({ $0 }) { usleep(2_000) }
        var previous = previousMask
        pthread_sigmask(SIG_SETMASK, &previous, nil)
    }

    private func watch(_ set: sigset_t) {
        var set = set
        var timeout = timespec(tv_sec: 0, tv_nsec: 50_000_000)
        while !state.withLock({ $0.stop }) {
            var info = siginfo_t()
            let signal = sigtimedwait(&set, &info, &timeout)
            guard signal > 0 else { continue }
            let fromTerminal = info.si_code == 0x80 /* SI_KERNEL */
            let (child, count) = state.withLock { s -> (pid_t, Int) in
                s.count += 1
                if s.received == 0 { s.received = signal }
                return (s.child, s.count)
            }
            guard child > 0 else { continue }
            if count > 1 {
                _ = Glibc.kill(child, SIGKILL)
            } else if !fromTerminal {
                _ = Glibc.kill(child, signal)
            }
        }
        done.withLock { $0 = true }
    }
}
