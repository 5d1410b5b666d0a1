#if canImport(Glibc)
import Glibc
#endif

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
        let child: pid_t
        do {
            child = try ChildProcess.spawn(qemu, argv, redirect: [(fds[1], Self.childPipeFD)])
        } catch {
            close(fds[1])
            close(fds[0])
            throw RecorderError.spawnFailed(detail: "\(qemu): \(error)")
        }
        close(fds[1])
        pid = child
        pipe = fds[0]
    }

    deinit { close(pipe) }

    /// Waits for the process to end.
    func wait() -> Termination { ChildProcess.wait(pid) }

    func kill(_ signal: Int32) {
        _ = Glibc.kill(pid, signal)
    }
}
