import CLiveTrace
import Foundation
import Replay
import TraceModel
import X86Decode

/// Runs one program under one live strategy and counts every trap exactly (docs/live.md).
///
/// Threads are each monitored; while one thread steps over an original instruction every other thread
/// is parked (SIGSTOP), so none runs through the restored bytes. A child process (fork), execve, a
/// signal handler that runs or the program's own INT3 make the run refuse (one line), so a count is never
/// printed for code the monitor did not watch. Every exit path kills what it started.
final class Monitor {
    let strategy: LiveStrategy
    let program: String
    var tracee: Tracee
    let decoder: X86Decoder
    var scanner: PageScanner
    var pages: [UInt64: LivePage] = [:]
    /// The program's own protection of every page whose protection the monitor changed or watches.
    var intended: [UInt64: Int32] = [:]
    var mappings: [Mapping]? = nil
    var threads: [pid_t: ThreadState] = [:]
    /// The thread stepping over an original instruction (every other thread is parked meanwhile).
    var stepper: pid_t? = nil
    /// Stops collected while parking threads, handled once the step is over.
    var deferred: [lt_stop] = []
    /// New threads' return addresses: a clone run from the monitor's page returns there in the child too.
    var childReturn: [pid_t: UInt64] = [:]
    var end: RunEnd? = nil
    var endCPU = 0.0
    var scanned: UInt64 = 0, scans: UInt64 = 0, selfWrites: UInt64 = 0

    static let sigtrap: Int32 = 5, sigsegv: Int32 = 11, sigstop: Int32 = 19
    static let siKernel: Int32 = 0x80, segvAccerr: Int32 = 2

    private init(strategy: LiveStrategy, program: String, tracee: Tracee) {
        self.strategy = strategy
        self.program = program
        self.tracee = tracee
        decoder = X86Decoder(arch: tracee.is32Bit ? .i386 : .x86_64)
        scanner = PageScanner(arch: tracee.is32Bit ? .i386 : .x86_64)
    }

    /// Spawns `program`, monitors it to its end, and returns the counts.
    static func run(strategy: LiveStrategy, program: String, arguments: [String],
                    environment: [String]) throws -> LiveStrategyResult {
        var pid: pid_t = 0
        let argv = [program] + arguments
        // From before the fork, as the plain run's wall (lt_run_plain): both include fork, exec and exit.
        let startWall = lt_now(), startCPU = lt_self_cpu()
        let status = withCStrings(argv) { argvPointer in
            withCStrings(environment) { envPointer in lt_spawn(program, argvPointer, envPointer, &pid) }
        }
        if status != 0 { throw LiveError.cannotRun(program, String(cString: strerror(-status))) }
        let memory = lt_open_mem(pid)
        if memory < 0 { lt_kill(pid); reapAll(group: pid); throw LiveError.ptrace("opening /proc/\(pid)/mem", -memory) }
        defer { close(memory) }
        var regs = lt_regs()
        _ = lt_get_regs(pid, &regs)
        let monitor = Monitor(strategy: strategy, program: program,
                              tracee: Tracee(pid: pid, memory: memory, is32Bit: regs.cs == 0x23))
        do {
            let (end, cpu) = try monitor.monitor()
            let times = RunTimes(wall: lt_now() - startWall, cpu: cpu, monitorCPU: lt_self_cpu() - startCPU)
            return monitor.result(times: times, end: end)
        } catch {
            monitor.killAll()
            throw error
        }
    }

    func result(times: RunTimes, end: RunEnd) -> LiveStrategyResult {
        let perThread = threads.keys.sorted().map { threads[$0]!.counts }
        var counts = Dictionary(uniqueKeysWithValues: strategy.causes.map { ($0, UInt64(0)) })
        for thread in perThread { for (cause, count) in thread { counts[cause, default: 0] += count } }
        return LiveStrategyResult(strategy: strategy, counts: counts, threads: perThread, scanned: scanned,
                                  scans: scans, selfWrites: selfWrites, times: times, end: end)
    }

    func killAll() {
        for pid in threads.keys { lt_kill(pid) }
        lt_kill(tracee.pid)
        Monitor.reapAll(group: tracee.pid)
    }

    static func reapAll(group: pid_t) {
        var stop = lt_stop()
        while true {
            let result = lt_wait(group, &stop)
            if result == -ECHILD { return }
            if result == 0 && stop.kind != Int32(LT_STOP_EXITED) && stop.kind != Int32(LT_STOP_KILLED) { lt_kill(stop.pid) }
        }
    }
}

/// Calls `body` with a NULL-terminated C array of the strings.
func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { for pointer in pointers { free(pointer) } }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}
