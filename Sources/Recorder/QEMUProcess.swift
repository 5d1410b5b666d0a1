#if canImport(Glibc)
import Glibc
#endif

/// qemu-user running the guest with the plugin, writing into a pipe the recorder reads.
final class QEMUProcess {
    let pid: pid_t
    /// The read end of the plugin's pipe.
    let pipe: Int32
    /// The read end of the pipe that stands in for QEMU's stderr until the first translation (the
    /// plugin's `errfd`): QEMU's own messages about loading the program.
    let loaderMessages: Int32

    /// The descriptor the plugin finds its pipe on in the child: where the plugin would move it anyway (900 and
    /// up, out of the guest's way). Put there by the child before exec, so its descriptor table is already that
    /// large: growing it inside QEMU, which already has its RCU thread, waits for an RCU grace period (Linux's
    /// expand_fdtable with a shared table): about 12 ms at every start, measured (docs/recorder.md, "Overhead").
    static let childPipeFD: Int32 = 900
    /// The descriptor of the loader-message pipe in the child (the plugin puts it on stderr, then back).
    static let childErrFD: Int32 = 4
    /// The descriptor of the shared-memory ring in the child (the plugin maps it and closes it).
    static let childRingFD: Int32 = 5
    /// The ring the plugin writes into (the pipe then only tells when the process is gone), or nil: the
    /// stream comes through the pipe (process trees: ProcessTree reads every process's pipe).
    let ring: PluginRing?

    /// Starts `qemu -plugin PLUGIN,fd=900[,...] PROGRAM ARGS` with default signal dispositions and mask.
    /// `argv0` is the guest's argv[0] when it is not `program` (QEMU's -0); `workingDirectory` is the guest's.
    init(qemu: String, plugin: String, pluginArguments: [String], program: String, argv0: String? = nil,
         arguments: [String], workingDirectory: String? = nil, ring useRing: Bool = false) throws {
        guard !plugin.contains(",") else {
            throw RecorderError.spawnFailed(detail: "the plugin path \(plugin) contains a comma, which -plugin cannot take")
        }
        let ring = useRing ? try PluginRing() : nil
        self.ring = ring
        var fds: [Int32] = [0, 0]
        guard Glibc.pipe(&fds) == 0 else {
            throw RecorderError.spawnFailed(detail: "pipe: \(String(cString: strerror(errno)))")
        }
        // Neither end may leak into other children; the child gets the write end by dup2, which clears the flag.
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        // A larger pipe lets the guest run ahead while the recorder commits a chunk.
        _ = fcntl(fds[1], 1031 /* F_SETPIPE_SZ */, Int32(1 << 20))

        // Above the descriptors the child gets, so no dup2 into 3 or 4 overwrites another source. The write
        // end never blocks QEMU: a message longer than the pipe is cut, not waited on.
        var errFDs: [Int32] = [0, 0]
        guard Glibc.pipe(&errFDs) == 0 else {
            close(fds[0]); close(fds[1])
            throw RecorderError.spawnFailed(detail: "pipe: \(String(cString: strerror(errno)))")
        }
        let errRead = fcntl(errFDs[0], F_DUPFD_CLOEXEC, 10), errWrite = fcntl(errFDs[1], F_DUPFD_CLOEXEC, 10)
        close(errFDs[0]); close(errFDs[1])
        _ = fcntl(errRead, F_SETFL, O_NONBLOCK)
        _ = fcntl(errWrite, F_SETFL, O_NONBLOCK)

        let pluginOption = ([plugin, "fd=\(Self.childPipeFD)"] + (ring == nil ? [] : ["ring=\(Self.childRingFD)"])
                            + ["errfd=\(Self.childErrFD)"]
                             + pluginArguments)
            .joined(separator: ",")
        let argv = [qemu, "-plugin", pluginOption] + (argv0.map { ["-0", $0] } ?? []) + [program] + arguments
        let child: pid_t
        do {
            child = try ChildProcess.spawn(qemu, argv, redirect: [(fds[1], Self.childPipeFD), (errWrite, Self.childErrFD)]
                                                               + (ring.map { [($0.descriptor, Self.childRingFD)] } ?? []),
                                           workingDirectory: workingDirectory)
        } catch {
            close(fds[1]); close(fds[0]); close(errWrite); close(errRead)
            throw RecorderError.spawnFailed(detail: "\(qemu): \(error)")
        }
        close(fds[1])
        close(errWrite)
        ring?.closeDescriptor()
        pid = child
        pipe = fds[0]
        loaderMessages = errRead
    }

    deinit {
        close(pipe)
        close(loaderMessages)
    }

    /// What QEMU wrote to stderr before the guest ran (at most 4 KiB), once the process has ended.
    func loaderMessage() -> String {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while bytes.count < 4096 {
            let n = read(loaderMessages, &buffer, buffer.count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            bytes += buffer[0..<n]
        }
        return String(decoding: bytes.prefix(4096), as: UTF8.self)
    }

    /// Waits for the process to end.
    func wait() -> Termination { ChildProcess.wait(pid) }

    func kill(_ signal: Int32) {
        _ = Glibc.kill(pid, signal)
    }
}
