#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// One boot of the guest under qemu-system-x86_64 (TCG, one vCPU), optionally with the system plugin
/// streaming into a pipe, the serial console going to a file.
enum GuestBoot {
    struct Outcome {
        var termination: Termination
        var console: GuestConsole
        var pluginBytes: UInt64
        var seconds: Double
    }

    /// The kernel command line: the serial console, no reboot loop on panic, fixed addresses (the symbols
    /// of the probe boot stay true) and one page-table tree per process (docs/recorder.md).
    static let kernelCommandLine = "console=ttyS0 quiet panic=-1 nokaslr nopti"

    /// Boots `initrd`; with `pluginArguments`, loads the system plugin and hands every record it sends to
    /// `handle` (which returns false after the END record). Ctrl-C or SIGTERM stops the guest.
    static func run(host: SystemHost, initrd: String, memoryMB: Int, pluginArguments: [String]?,
                    signals: SignalWatcher, handle: (PluginRecord) throws -> Bool) throws -> Outcome {
        let consolePath = NSTemporaryDirectory() + "plexlab-console-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).txt"
        defer { try? FileManager.default.removeItem(atPath: consolePath) }
        var argv = [host.qemu, "-accel", "tcg", "-smp", "1", "-m", String(memoryMB), "-nodefaults", "-display", "none",
                    "-no-reboot", "-serial", "file:" + consolePath, "-kernel", host.kernel, "-initrd", initrd,
                    "-append", kernelCommandLine]
        var fds: [Int32] = [-1, -1]
        if let pluginArguments {
            guard !host.plugin.contains(",") else {
                throw RecorderError.spawnFailed(detail: "the plugin path \(host.plugin) contains a comma, which -plugin cannot take")
            }
            guard pipe(&fds) == 0 else { throw RecorderError.spawnFailed(detail: "pipe: \(String(cString: strerror(errno)))") }
            _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
            _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
            _ = fcntl(fds[1], 1031 /* F_SETPIPE_SZ */, Int32(1 << 20))
            argv += ["-plugin", ([host.plugin, "fd=3"] + pluginArguments).joined(separator: ",")]
        }
        let clock = ContinuousClock()
        let started = clock.now
        let pid: pid_t
        do {
            pid = try ChildProcess.spawn(host.qemu, argv, redirect: fds[1] >= 0 ? [(fds[1], Int32(3))] : [])
        } catch {
            if fds[0] >= 0 { close(fds[0]); close(fds[1]) }
            throw RecorderError.spawnFailed(detail: "\(host.qemu): \(error)")
        }
        signals.setChild(pid)
        var bytes: UInt64 = 0
        if fds[0] >= 0 {
            close(fds[1])
            defer { close(fds[0]) }
            do {
                bytes = try drain(fds[0], handle: handle)
            } catch {
                kill(pid, SIGKILL)
                _ = ChildProcess.wait(pid)
                throw error
            }
        }
        let termination = ChildProcess.wait(pid)
        let text = (try? String(contentsOfFile: consolePath, encoding: .utf8)) ?? ""
        return Outcome(termination: termination, console: GuestConsole(text: text), pluginBytes: bytes,
                       seconds: Recorder.seconds(clock.now - started))
    }

    /// Reads the plugin's stream to its end; the byte count.
    private static func drain(_ fd: Int32, handle: (PluginRecord) throws -> Bool) throws -> UInt64 {
        let parser = PluginStreamParser()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var total: UInt64 = 0
        var ended = false
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            total += UInt64(n)
            if ended { continue } // after END: QEMU still runs to power-off; nothing more is expected
            ended = try buffer.withUnsafeBytes { raw in
                try parser.feed(UnsafeRawBufferPointer(rebasing: raw[..<n]), handle)
            }
        }
        return total
    }

    /// The kernel's addresses for the plugin: cached per kernel file, else found by a probe boot.
    static func symbols(host: SystemHost, image: GuestImage, memoryMB: Int, signals: SignalWatcher,
                        status: ((String) -> Void)? = nil) throws -> KernelSymbols {
        let attributes = try? FileManager.default.attributesOfItem(atPath: host.kernel)
        let size = (attributes?[.size] as? NSNumber)?.uint64Value ?? 0
        let stamp = UInt64((attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0)
        let name = "symbols-\((host.kernel as NSString).lastPathComponent)-\(size)-\(stamp).txt"
        let cache = (image.directory as NSString).appendingPathComponent(name)
        if let text = try? String(contentsOfFile: cache, encoding: .utf8), let symbols = KernelSymbols(kallsyms: text) {
            return symbols
        }
        status?("probing \(host.kernel) for its entry points (one boot, cached in \(image.directory))")
        let initrd = try image.temporaryInitrd(command: KernelSymbols.probeCommand, files: [])
        defer { try? FileManager.default.removeItem(atPath: initrd) }
        let outcome = try run(host: host, initrd: initrd, memoryMB: memoryMB, pluginArguments: nil, signals: signals) { _ in true }
        if let signal = signals.interruption {
            throw RecorderError.interruptedBeforeRecording(signal: Recorder.signalName(signal), path: "(the kernel probe)")
        }
        guard let symbols = KernelSymbols(kallsyms: outcome.console.output) else {
            throw RecorderError.guestFailed(detail: "the probe boot of \(host.kernel) did not list entry_SYSCALL_64, "
                                            + "idt_table and page_offset_base from /proc/kallsyms ("
                                            + outcome.console.failureSummary(termination: outcome.termination) + ")")
        }
        try? outcome.console.output.write(toFile: cache, atomically: true, encoding: .utf8)
        return symbols
    }
}

extension GuestImage {
    /// `initrd(command:files:at:)` into a fresh temporary file; its path.
    func temporaryInitrd(command: [String], files: [GuestFile]) throws -> String {
        let path = NSTemporaryDirectory() + "plexlab-initrd-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).cpio"
        try initrd(command: command, files: files.map { ($0.name, $0.bytes) }, at: path)
        return path
    }
}

/// What the guest's init printed on the serial console (GuestSources.initProgram).
public struct GuestConsole: Sendable, Equatable {
    public var text: String
    /// The command's output: the lines between PLEXLAB-READY and PLEXLAB-PGFAULT.
    public var output: String
    /// The guest kernel's pgfault counter (/proc/vmstat) just before and just after the window.
    public var pageFaultsBefore: Int?
    public var pageFaultsAfter: Int?
    public var exitStatus: Int32?

    public init(text: String) {
        self.text = text
        var output: [Substring] = []
        var inside = false
        // The serial console ends lines with "\r\n" (one Character in Swift: split on isNewline).
        for line in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            if line == "PLEXLAB-READY" { inside = true; continue }
            let fields = line.split(separator: " ")
            if fields.first == "PLEXLAB-PGFAULT", fields.count == 3 {
                pageFaultsBefore = Int(fields[1])
                pageFaultsAfter = Int(fields[2])
                inside = false
            } else if fields.first == "PLEXLAB-STATUS", fields.count == 2 {
                exitStatus = Int32(fields[1])
            } else if inside {
                output.append(line)
            }
        }
        self.output = output.map { $0 + "\n" }.joined()
    }

    /// The guest kernel's count of page faults in the window.
    public var pageFaults: Int? {
        guard let before = pageFaultsBefore, let after = pageFaultsAfter else { return nil }
        return after - before
    }

    /// The trace's note: the command's status and the guest's own page-fault count.
    func note(window: SystemWindow) -> String {
        var parts = ["window: \(window.rawValue)"]
        if let exitStatus { parts.append("command exited with status \(exitStatus)") }
        if let pageFaults { parts.append("guest pgfault +\(pageFaults)") }
        return parts.joined(separator: "; ")
    }

    /// For an error line: how QEMU ended and the console's last line.
    func failureSummary(termination: Termination) -> String {
        let last = text.split(whereSeparator: \.isNewline).last.map(String.init) ?? "no console output"
        return "qemu-system-x86_64 \(termination.description); console: \(last)"
    }
}
