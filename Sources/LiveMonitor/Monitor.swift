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
    /// A thread's pending single step over an original instruction.
    struct Step {
        var site: UInt64
        /// A store to its own page: the page to settle after it (pagefault-nx: translated again, scan deferred).
        var settles: UInt64?
        /// A system call being stepped over: its number and arguments, for the memory bookkeeping.
        var syscall: (number: UInt64, args: [UInt64])?
        /// A page made executable only for this step (pagefault-nx: a straddling instruction's tail).
        var temporaryExec: UInt64?
        /// A system call run from the monitor's page (the copy at this address) instead of in place: the
        /// program's bytes stay patched, so other threads keep running (the call may block: futex, read).
        var displacedFrom: UInt64?
        var length = 0
    }

    struct ThreadState {
        var counts: [TrapCause: UInt64] = [:]
        var step: Step?
        /// Resumed by the monitor and not stopped since.
        var running = false
        /// Stopped by the monitor while another thread steps; resumed when that step ends.
        var parked = false
        /// SIGSTOPs the monitor sent that have not arrived yet (each is swallowed).
        var pendingStops = 0
        /// A new thread whose first stop (its SIGSTOP) has not arrived yet.
        var newborn = false
        /// A new thread stopped on the monitor's page before its creator's clone event said where it returns.
        var waitingForReturn = false
        var exited = false
    }

    let strategy: LiveStrategy
    let program: String
    private var tracee: Tracee
    private let decoder: X86Decoder
    private var scanner: PageScanner
    private var pages: [UInt64: LivePage] = [:]
    private var lengths: [UInt64: [UInt64: Int]] = [:]
    /// The program's own protection of every page whose protection the monitor changed or watches.
    private var intended: [UInt64: Int32] = [:]
    private var mappings: [Mapping]? = nil
    private var threads: [pid_t: ThreadState] = [:]
    /// The thread stepping over an original instruction (every other thread is parked meanwhile).
    private var stepper: pid_t? = nil
    /// Stops collected while parking threads, handled once the step is over.
    private var deferred: [lt_stop] = []
    /// New threads' return addresses: a clone run from the monitor's page returns there in the child too.
    private var childReturn: [pid_t: UInt64] = [:]
    private var end: RunEnd? = nil
    private var endCPU = 0.0
    private var scanned: UInt64 = 0, scans: UInt64 = 0

    private static let sigtrap: Int32 = 5, sigsegv: Int32 = 11, sigstop: Int32 = 19
    private static let siKernel: Int32 = 0x80, segvAccerr: Int32 = 2

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
        let startWall = lt_now(), startCPU = lt_self_cpu()
        do {
            let (end, cpu) = try monitor.monitor()
            let times = RunTimes(wall: lt_now() - startWall, cpu: cpu, monitorCPU: lt_self_cpu() - startCPU)
            return monitor.result(times: times, end: end)
        } catch {
            monitor.killAll()
            throw error
        }
    }

    private func result(times: RunTimes, end: RunEnd) -> LiveStrategyResult {
        let perThread = threads.keys.sorted().map { threads[$0]!.counts }
        var counts = Dictionary(uniqueKeysWithValues: strategy.causes.map { ($0, UInt64(0)) })
        for thread in perThread { for (cause, count) in thread { counts[cause, default: 0] += count } }
        return LiveStrategyResult(strategy: strategy, counts: counts, threads: perThread, scanned: scanned,
                                  scans: scans, times: times, end: end)
    }

    // MARK: - The event loop

    private func monitor() throws -> (RunEnd, Double) {
        let main = tracee.pid
        threads[main] = ThreadState()
        try hideVDSO(main)
        try tracee.mapSyscallPage(main)
        switch strategy {
        case .sbe: try ensureCovered(main, ip: try tracee.registers(main).ip)
        case .pagefaultNX: try removeExecute(main)
        }
        try resume(main)
        while true {
            if lt_interrupted() != 0 { throw LiveError.interrupted }
            var stop = lt_stop()
            if stepper == nil && !deferred.isEmpty {
                stop = deferred.removeFirst()
            } else {
                let waited = stepper.map { lt_wait_thread($0, &stop) } ?? lt_wait(tracee.pid, &stop)
                if waited == -EINTR { continue }
                if waited == -ECHILD {
                    if stepper != nil { stepper = nil; continue }
                    break
                }
                try tracee.check(waited, "waiting for the program")
            }
            try process(stop)
        }
        guard let end else { throw LiveError.notMonitorable("\(program) vanished without an exit status") }
        return (end, endCPU)
    }

    private func process(_ stop: lt_stop) throws {
        let pid = stop.pid
        if threads[pid] == nil {
            // A new thread can report its first stop before its creator's clone event.
            guard lt_thread_group(pid) == tracee.pid || stop.kind != Int32(LT_STOP_SIGNAL) else {
                throw LiveError.notMonitorable("\(program) forks a child process; the live monitor follows one process (docs/live.md)")
            }
            threads[pid] = ThreadState(newborn: true)
        }
        threads[pid]!.running = false
        switch stop.kind {
        case Int32(LT_STOP_EXITED), Int32(LT_STOP_KILLED):
            threads[pid]!.exited = true
            if pid == tracee.pid {
                end = stop.kind == Int32(LT_STOP_EXITED) ? .exited(stop.signal) : .killed(signal: stop.signal)
                endCPU = stop.user_cpu + stop.system_cpu
            }
            if stepper == pid {
                stepper = nil
                try resumeParked()
            }
        case Int32(LT_STOP_EVENT):
            try handleEvent(stop.event, pid: pid)
        case Int32(LT_STOP_GROUP):
            try tracee.check(lt_cont(pid, 0), "resuming after a group stop")
            threads[pid]!.running = true
        default:
            if stop.signal == Monitor.sigstop, threads[pid]!.newborn {
                threads[pid]!.newborn = false
                let ip = try tracee.registers(pid).ip
                if ip >= tracee.scratchPage && ip < tracee.scratchPage + Tracee.pageSize && childReturn[pid] == nil {
                    threads[pid]!.waitingForReturn = true  // its creator's clone event comes next
                    return
                }
                return try startThread(pid)
            }
            if stop.signal == Monitor.sigstop, threads[pid]!.pendingStops > 0 {
                threads[pid]!.pendingStops -= 1
                return try resumeThread(pid)
            }
            try handleSignal(pid, stop)
        }
    }

    private func handleEvent(_ event: Int32, pid: pid_t) throws {
        var message: UInt = 0
        _ = lt_event_message(pid, &message)
        let child = pid_t(truncatingIfNeeded: message)
        guard event == 3, lt_thread_group(child) == tracee.pid else {
            if message > 0 { lt_kill(child) }
            throw refusal(event: event)
        }
        if let step = threads[pid]!.step, step.displacedFrom != nil {
            childReturn[child] = step.site + UInt64(step.length)
        }
        if threads[child] == nil { threads[child] = ThreadState(newborn: true) }
        if threads[child]!.waitingForReturn {
            threads[child]!.waitingForReturn = false
            try startThread(child)
        }
        try resumeThread(pid)
    }

    /// A new thread's first resume: back from the monitor's page to after its creator's clone, then
    /// (sbe) its start checked like any landing.
    private func startThread(_ pid: pid_t) throws {
        if let back = childReturn.removeValue(forKey: pid), try tracee.registers(pid).ip == tracee.scratchPage + 2 ||
            (try tracee.registers(pid).ip) == tracee.scratchPage + 6 {
            try tracee.check(lt_set_syscall_return(pid, back, tracee.is32Bit ? 0 : 1), "starting a thread")
        }
        if strategy == .sbe { try ensureCovered(pid, ip: try tracee.registers(pid).ip) }
        try resumeThread(pid)
    }

    /// Resumes a thread the way it was going (stepping or running), unless another thread is stepping:
    /// then it stays parked until that step ends.
    private func resumeThread(_ pid: pid_t) throws {
        if let stepper, stepper != pid {
            threads[pid]!.parked = true
            return
        }
        let stepping = threads[pid]!.step != nil
        try tracee.check(stepping ? lt_step(pid, 0) : lt_cont(pid, 0), "resuming a thread")
        threads[pid]!.running = true
    }

    /// Stops every other running thread before `pid` restores original bytes for a step.
    private func parkOthers(_ pid: pid_t) throws {
        for (other, state) in threads where other != pid && state.running && !state.exited {
            guard lt_tgkill(tracee.pid, other, Monitor.sigstop) == 0 else { continue }
            threads[other]!.pendingStops += 1
            var stop = lt_stop()
            while true {
                let waited = lt_wait_thread(other, &stop)
                if waited == -EINTR {
                    if lt_interrupted() != 0 { throw LiveError.interrupted }
                    continue
                }
                break
            }
            threads[other]!.running = false
            threads[other]!.parked = true
            if stop.kind == Int32(LT_STOP_SIGNAL) && stop.signal == Monitor.sigstop && !state.newborn {
                threads[other]!.pendingStops -= 1
            } else {
                deferred.append(stop)
            }
        }
    }

    private func resumeParked() throws {
        for (pid, state) in threads where state.parked && !state.exited {
            threads[pid]!.parked = false
            if deferred.contains(where: { $0.pid == pid }) { continue }
            try resumeThread(pid)
        }
    }

    private func refusal(event: Int32) -> LiveError {
        switch event {
        case 4: .notMonitorable("\(program) calls execve; the live monitor follows one program image")
        default: .notMonitorable("\(program) forks a child process; the live monitor follows one process (docs/live.md)")
        }
    }

    private func resume(_ pid: pid_t) throws { try resumeThread(pid) }

    private func count(_ pid: pid_t, _ causes: [TrapCause]) {
        for cause in causes { threads[pid, default: ThreadState()].counts[cause, default: 0] += 1 }
    }

    private func handleSignal(_ pid: pid_t, _ stop: lt_stop) throws {
        let signal = stop.signal
        if let step = threads[pid]?.step {
            if signal == Monitor.sigtrap { return try completeStep(pid, step) }
            if signal == Monitor.sigsegv && stop.si_code == Monitor.segvAccerr,
               try handleFault(pid, address: stop.fault_address, duringStep: true) {
                // The stepped instruction did not complete: step it again (already counted).
                threads[pid]!.step = nil
                return try beginStep(pid, step)
            }
            return try deliver(pid, signal, stepping: true)
        }
        if threads[pid]?.pendingStops ?? 0 > 0 && signal == Monitor.sigstop {
            threads[pid]!.pendingStops -= 1
            return try resumeThread(pid)
        }
        if signal == Monitor.sigtrap && stop.si_code == Monitor.siKernel { return try handleBreakpoint(pid) }
        if signal == Monitor.sigsegv && stop.si_code == Monitor.segvAccerr,
           try handleFault(pid, address: stop.fault_address, duringStep: false) { return }
        try deliver(pid, signal, stepping: false)
    }

    /// A signal the program gets: passed on unless the program handles it itself (its handler would run
    /// code the monitor never sees entered), which makes the run refuse.
    private func deliver(_ pid: pid_t, _ signal: Int32, stepping: Bool) throws {
        if Monitor.caughtSignals(pid) & (UInt64(1) << UInt64(signal - 1)) != 0 {
            throw LiveError.notMonitorable("\(program) handles signal \(signal) itself; the monitor cannot follow its handler exactly")
        }
        try tracee.check(stepping ? lt_step(pid, signal) : lt_cont(pid, signal), "delivering signal \(signal)")
        threads[pid]!.running = true
    }

    static func caughtSignals(_ pid: pid_t) -> UInt64 {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("SigCgt:") }) else { return 0 }
        return UInt64(line.dropFirst("SigCgt:".count).trimmingCharacters(in: .whitespaces), radix: 16) ?? 0
    }

    // MARK: - Breakpoints and steps

    private func handleBreakpoint(_ pid: pid_t) throws {
        let address = try tracee.registers(pid).ip &- 1
        let base = address & ~(Tracee.pageSize - 1)
        guard var page = pages[base], page.valid, page.patched else { throw ownInt3(address) }
        if let causes = page.sites[address] { return try trapAtSite(pid, address, causes) }
        guard strategy == .pagefaultNX, page.original[Int(address - base)] != 0xCC else { throw ownInt3(address) }
        // Control landed on a filled byte.
        if isStraddler(address) {
            page.sites[address] = [.pageCross]
            pages[base] = page
            try render(base)
            return try trapAtSite(pid, address, [.pageCross])
        }
        if page.scanPending {
            pages[base]!.scanPending = false
        } else {
            count(pid, [.int3Fill])
        }
        try scan(base, from: address)
        try render(base)
        try tracee.setIP(pid, address)
        try resume(pid)
    }

    private func ownInt3(_ address: UInt64) -> LiveError {
        .notMonitorable("\(program) executes its own INT3 at 0x\(String(address, radix: 16)); it cannot be told from the monitor's")
    }

    private func trapAtSite(_ pid: pid_t, _ address: UInt64, _ causes: [TrapCause], settles: UInt64? = nil) throws {
        count(pid, causes)
        var step = Step(site: address, settles: settles)
        if causes.contains(.syscall) {
            guard let instruction = decode(at: address) else { throw ownInt3(address) }
            if ["int3", "int1", "into"].contains(instruction.mnemonic) { throw ownInt3(address) }
            let regs = try tracee.registers(pid)
            let number = regs.ax & (tracee.is32Bit ? 0xFFFF_FFFF : UInt64.max)
            if Syscalls.isExec(number, is32Bit: tracee.is32Bit) {
                throw LiveError.notMonitorable("\(program) calls execve; the live monitor follows one program image")
            }
            step.syscall = (number, withUnsafeBytes(of: regs.arg) { Array($0.bindMemory(to: UInt64.self)) })
            let bytes = originalBytes(address, count: 2)
            step.length = instruction.length
            if bytes == [0x0F, 0x05] { step.displacedFrom = tracee.scratchPage }
            if bytes == [0xCD, 0x80] { step.displacedFrom = tracee.scratchPage + 4 }
        }
        try beginStep(pid, step)
    }

    /// Puts the original bytes back under the instruction and single-steps it.
    private func beginStep(_ pid: pid_t, _ step: Step) throws {
        var step = step
        if let copy = step.displacedFrom {
            try tracee.setIP(pid, copy)
            threads[pid]!.step = step
            try tracee.check(lt_step(pid, 0), "single-stepping a system call")
            threads[pid]!.running = true
            return
        }
        if stepper != pid {
            try parkOthers(pid)
            stepper = pid
        }
        try tracee.setIP(pid, step.site)
        try writeOriginal(step.site, count: 16)
        if strategy == .pagefaultNX, let instruction = decode(at: step.site) {
            let next = (step.site & ~(Tracee.pageSize - 1)) + Tracee.pageSize
            if instruction.fallThrough > next, pages[next]?.valid != true, let intent = intended[next],
               intent & Tracee.protExec != 0 {
                try tracee.protect(pid, page: next, intent)
                step.temporaryExec = next
            }
        }
        threads[pid]!.step = step
        try tracee.check(lt_step(pid, 0), "single-stepping")
        threads[pid]!.running = true
    }

    private func completeStep(_ pid: pid_t, _ step: Step) throws {
        threads[pid]!.step = nil
        if let copy = step.displacedFrom {
            if try tracee.registers(pid).ip == copy + 2 {
                try tracee.check(lt_set_syscall_return(pid, step.site + UInt64(step.length), copy == tracee.scratchPage ? 1 : 0),
                                 "returning from a system call")
            }
        } else {
            try writeRendered(step.site, count: 16)
        }
        // Settled before the parked threads resume: none may run the page's unpatched bytes.
        if let page = step.settles { try settle(pid, page: page) }
        if stepper == pid {
            stepper = nil
            try resumeParked()
        }
        if let page = step.temporaryExec, let intent = intended[page], pages[page]?.valid != true {
            try tracee.protect(pid, page: page, intent & ~Tracee.protExec)
        }
        if let call = step.syscall {
            let result = try tracee.registers(pid).ax
            try afterSyscall(pid, number: call.number, args: call.args, result: result)
        }
        if strategy == .sbe { try ensureCovered(pid, ip: try tracee.registers(pid).ip) }
        try resume(pid)
    }

    /// A store to its own page faulted at `ip`: the store is stepped over alone, counting what it counts as
    /// the last instruction of a block. The trace's next block starts after it (QEMU ends a block at a store
    /// to its own page, docs/strategies.md "code write"), and so does the rescan: sbe checks the landing as
    /// after any step, pagefault-nx translates the page again with its scan deferred (`settle`).
    private func stepStore(_ pid: pid_t, ip: UInt64, page base: UInt64) throws {
        guard let instruction = decode(at: ip) else { throw ownInt3(ip) }
        var causes = strategy == .sbe ? LiveRules.sbeCauses(instruction, pageBase: base) : LiveRules.nxCauses(instruction)
        if instruction.fallThrough > base + Tracee.pageSize { causes = [.pageCross] }
        try trapAtSite(pid, ip, causes, settles: base)
    }

    /// After a writer's store to the page it runs on: pagefault-nx translates the page again
    /// with an empty scan (the fault counted with the write), deferring the scan to the next entry.
    private func settle(_ pid: pid_t, page base: UInt64) throws {
        guard strategy == .pagefaultNX, var page = pages[base], let intent = intended[base] else { return }
        page.original = tracee.read(base, Int(Tracee.pageSize))
        page.coverage.removeAll()
        page.sites = [:]
        page.valid = true
        page.scanPending = true
        pages[base] = page
        lengths[base] = [:]
        try render(base)
        try tracee.protect(pid, page: base, (intent & ~Tracee.protWrite) | Tracee.protExec)
    }

    // MARK: - Faults

    /// A SEGV_ACCERR fault: true when the monitor's protection caused it (and it was handled).
    private func handleFault(_ pid: pid_t, address: UInt64, duringStep: Bool) throws -> Bool {
        let base = address & ~(Tracee.pageSize - 1)
        let intent = intended[base] ?? 0
        if try isStale(pid, address: address, page: base, intent: intent) {
            // Two threads faulted on the same page; the first one's fault already gave the page the
            // access the second needs (translated and executable, or writable again). Run the faulting
            // instruction again, counting nothing: one fault per page, as in the replay.
            try resume(pid)
            return true
        }
        if pages[base]?.valid == true && intent & Tracee.protWrite != 0 {
            try writeFault(pid, page: base, intent: intent, duringStep: duringStep)
            return true
        }
        if strategy == .pagefaultNX && pages[base]?.valid != true && intent & Tracee.protExec != 0 {
            let ip = try tracee.registers(pid).ip
            guard ip == address else {
                throw LiveError.notMonitorable("an instruction at 0x\(String(ip, radix: 16)) fetched from the untranslated page 0x\(String(base, radix: 16)) unexpectedly")
            }
            count(pid, [.pfExec])
            try translate(pid, page: base, from: address)
            try resume(pid)
            return true
        }
        return false
    }

    /// Whether a fault was already handled for another thread: the page now allows the access.
    /// A fetch (ip at the faulting address) of a page translated since (pagefault-nx; only a page the
    /// program cannot write, where a fault at ip can be nothing but the fetch); a store to a page whose
    /// scan was discarded since (the monitor gave its write permission back).
    private func isStale(_ pid: pid_t, address: UInt64, page base: UInt64, intent: Int32) throws -> Bool {
        let fetch = try tracee.registers(pid).ip == address
        let translated = pages[base]?.valid == true
        if fetch && intent & Tracee.protWrite == 0 {
            return strategy == .pagefaultNX && translated && intent & Tracee.protExec != 0
        }
        return !fetch && !translated && intended[base] != nil && intent & Tracee.protWrite != 0
    }

    private func writeFault(_ pid: pid_t, page base: UInt64, intent: Int32, duringStep: Bool) throws {
        count(pid, [.pfWrite])
        try discard(base)
        switch strategy {
        case .sbe: try tracee.protect(pid, page: base, intent)
        case .pagefaultNX: try tracee.protect(pid, page: base, intent & ~Tracee.protExec)
        }
        if duringStep { return }
        let ip = try tracee.registers(pid).ip
        guard ip >= base && ip < base + Tracee.pageSize else { return try resume(pid) }
        // The writer resumes on the page it wrote (docs/strategies.md, code writes): pagefault-nx counts the
        // fetch fault at once; both step the store, then rescan from the instruction after it.
        if strategy == .pagefaultNX {
            count(pid, [.pfExec])
            try tracee.protect(pid, page: base, intent | Tracee.protExec)
        }
        try stepStore(pid, ip: ip, page: base)
    }

    private func discard(_ base: UInt64) throws {
        guard var page = pages[base] else { return }
        if page.patched { try tracee.write(base, page.original[...]) }
        page.patched = false
        page.valid = false
        page.scanPending = false
        page.sites = [:]
        page.coverage.removeAll()
        pages[base] = page
        lengths[base] = [:]
    }

    // MARK: - Scans

    /// sbe: control is at `ip`; scans (or extends the scan of) its page unless the scan covers it.
    private func ensureCovered(_ pid: pid_t, ip: UInt64) throws {
        let base = ip & ~(Tracee.pageSize - 1)
        if let page = pages[base], page.valid, page.coverage.contains(ip) || page.sites[ip] != nil { return }
        let wasValid = pages[base]?.valid == true
        if !wasValid { pages[base] = LivePage(base: base, original: tracee.read(base, Int(Tracee.pageSize))) }
        try scan(base, from: ip)
        if !(pages[base]!.coverage.contains(ip)) && isStraddler(ip) { pages[base]!.sites[ip] = [.pageCross] }
        try render(base)
        if !wasValid {
            let intent = intended[base] ?? protection(of: base)
            intended[base] = intent
            if intent & Tracee.protWrite != 0 { try tracee.protect(pid, page: base, intent & ~Tracee.protWrite) }
        }
    }

    /// pagefault-nx: the first fetch from an untranslated page faulted at `entry`.
    private func translate(_ pid: pid_t, page base: UInt64, from entry: UInt64) throws {
        pages[base] = LivePage(base: base, original: tracee.read(base, Int(Tracee.pageSize)))
        lengths[base] = [:]
        try scan(base, from: entry)
        try render(base)
        let intent = intended[base] ?? protection(of: base)
        try tracee.protect(pid, page: base, (intent & ~Tracee.protWrite) | Tracee.protExec)
    }

    /// Scans the page from `entry` (the scan of docs/strategies.md section 2, on the page's original
    /// bytes) and recomputes its sites.
    private func scan(_ base: UInt64, from entry: UInt64) throws {
        var page = pages[base]!
        if !page.valid { page.coverage.removeAll() }
        var coverage = page.coverage
        let decoded = page.original.withUnsafeBytes { scanner.scan(entry: entry, code: $0, coverage: &coverage) }
        scanned += UInt64(decoded)
        scans += 1
        page.coverage = coverage
        page.valid = true
        var sites = page.sites.filter { $0.value == [.pageCross] && !coverage.contains($0.key) }
        var sizes: [UInt64: Int] = [:]
        for address in coverage.addresses {
            let offset = Int(address - base)
            guard let instruction = page.original[offset...].withUnsafeBytes({ decoder.decode($0, at: address) }) else { continue }
            sizes[address] = instruction.length
            let causes = strategy == .sbe ? LiveRules.sbeCauses(instruction, pageBase: base) : LiveRules.nxCauses(instruction)
            if !causes.isEmpty { sites[address] = causes }
            let next = instruction.fallThrough
            if next < page.end, !coverage.contains(next), !instruction.endsScan, instruction.controlTransfer != .jmp {
                pages[base] = page
                if isStraddler(next) { sites[next] = [.pageCross] }
            }
        }
        page.sites = sites
        pages[base] = page
        lengths[base] = sizes
    }

    /// Whether the instruction at `address` runs past its page's end (never decoded by a scan).
    private func isStraddler(_ address: UInt64) -> Bool {
        let end = (address & ~(Tracee.pageSize - 1)) + Tracee.pageSize
        guard end - address < 15 else { return false }
        let bytes = originalBytes(address, count: 15)
        guard let instruction = bytes.withUnsafeBytes({ decoder.decode($0, at: address) }) else { return false }
        return instruction.fallThrough > end
    }

    // MARK: - Bytes

    private func render(_ base: UInt64) throws {
        guard var page = pages[base] else { return }
        let bytes = page.render(fill: strategy == .pagefaultNX, lengths: lengths[base] ?? [:])
        try tracee.write(base, bytes[...])
        page.patched = true
        pages[base] = page
    }

    /// The program's bytes (without the monitor's INT3s) from `address`.
    private func originalBytes(_ address: UInt64, count: Int) -> [UInt8] {
        var result: [UInt8] = []
        var at = address
        while result.count < count {
            let base = at & ~(Tracee.pageSize - 1)
            let take = min(count - result.count, Int(base + Tracee.pageSize - at))
            if let page = pages[base], page.patched {
                result += page.original[Int(at - base)..<Int(at - base) + take]
            } else {
                let bytes = tracee.read(at, take)
                result += bytes
                if bytes.count < take { break }
            }
            at += UInt64(take)
        }
        return result
    }

    private func decode(at address: UInt64) -> DecodedInstruction? {
        originalBytes(address, count: 15).withUnsafeBytes { decoder.decode($0, at: address) }
    }

    private func writeOriginal(_ address: UInt64, count: Int) throws {
        try forEachPatchedPart(address, count) { page, range in try tracee.write(page.base + UInt64(range.lowerBound), page.original[range]) }
    }

    private func writeRendered(_ address: UInt64, count: Int) throws {
        try forEachPatchedPart(address, count) { page, range in
            let bytes = page.render(fill: strategy == .pagefaultNX, lengths: lengths[page.base] ?? [:])
            try tracee.write(page.base + UInt64(range.lowerBound), bytes[range])
        }
    }

    private func forEachPatchedPart(_ address: UInt64, _ count: Int, _ body: (LivePage, Range<Int>) throws -> Void) throws {
        var at = address
        let end = address + UInt64(count)
        while at < end {
            let base = at & ~(Tracee.pageSize - 1)
            let stop = min(end, base + Tracee.pageSize)
            if let page = pages[base], page.patched { try body(page, Int(at - base)..<Int(stop - base)) }
            at = stop
        }
    }

    // MARK: - Memory map

    private func protection(of base: UInt64) -> Int32 {
        if mappings == nil { mappings = Mapping.read(pid: tracee.pid) }
        if let mapping = mappings!.first(where: { base >= $0.start && base < $0.end }) { return mapping.prot }
        mappings = Mapping.read(pid: tracee.pid)
        return mappings!.first(where: { base >= $0.start && base < $0.end })?.prot ?? Tracee.protRead | Tracee.protExec
    }

    /// pagefault-nx start: every executable mapping but the monitor's page loses execute permission.
    private func removeExecute(_ pid: pid_t) throws {
        // An i386 program without PT_GNU_STACK runs with READ_IMPLIES_EXEC, which would put PROT_EXEC
        // back on every readable page: clear it (personality(2) in the tracee) before protecting.
        let personality = is32PersonalityCall
        let current = try tracee.syscall(pid, personality, [0xFFFF_FFFF])
        let readImpliesExec = 0x0400000
        if current >= 0 && current & readImpliesExec != 0 {
            _ = try tracee.syscall(pid, personality, [UInt64(current & ~readImpliesExec)])
        }
        for mapping in Mapping.read(pid: pid) where mapping.prot & Tracee.protExec != 0 {
            guard mapping.name != "[vsyscall]", !(mapping.start <= tracee.syscallSite && tracee.syscallSite < mapping.end) else { continue }
            try markExecutable(pid, start: mapping.start, end: mapping.end, prot: mapping.prot)
        }
        for mapping in Mapping.read(pid: pid) where mapping.prot & Tracee.protExec != 0 && intended[mapping.start] != nil {
            throw LiveError.notMonitorable("the page 0x\(String(mapping.start, radix: 16)) stays executable after mprotect; pagefault-nx needs NX")
        }
    }

    private var is32PersonalityCall: Int { tracee.is32Bit ? 136 : 135 }

    private func markExecutable(_ pid: pid_t, start: UInt64, end: UInt64, prot: Int32) throws {
        var page = start
        while page < end { intended[page] = prot; page += Tracee.pageSize }
        try tracee.protect(pid, page: start, count: (end - start) / Tracee.pageSize, prot & ~Tracee.protExec)
    }

    private func forget(start: UInt64, end: UInt64) {
        var page = start & ~(Tracee.pageSize - 1)
        while page < end {
            pages.removeValue(forKey: page)
            lengths.removeValue(forKey: page)
            intended.removeValue(forKey: page)
            page += Tracee.pageSize
        }
    }

    /// Keeps the monitor's bookkeeping true after the program mapped, unmapped or re-protected memory.
    private func afterSyscall(_ pid: pid_t, number: UInt64, args: [UInt64], result raw: UInt64) throws {
        let is32 = tracee.is32Bit
        let result = is32 ? UInt64(UInt32(truncatingIfNeeded: raw)) : raw
        let failed = is32 ? Int32(bitPattern: UInt32(result)) < 0 && Int32(bitPattern: UInt32(result)) > -4096
                          : Int64(bitPattern: result) < 0 && Int64(bitPattern: result) > -4096
        guard !failed, let call = Syscalls.Memory(number: number, is32Bit: is32) else { return }
        mappings = nil
        func pagesEnd(_ start: UInt64, _ length: UInt64) -> UInt64 { (start + length + Tracee.pageSize - 1) & ~(Tracee.pageSize - 1) }
        switch call {
        case .mmap, .oldMmap:
            var (length, prot) = (args[1], Int32(truncatingIfNeeded: args[2]))
            if call == .oldMmap {
                let words = tracee.read(args[0], 24).withUnsafeBytes { Array($0.bindMemory(to: UInt32.self)) }
                guard words.count == 6 else { return }
                (length, prot) = (UInt64(words[1]), Int32(bitPattern: words[2]))
            }
            forget(start: result, end: pagesEnd(result, length))
            if strategy == .pagefaultNX && prot & Tracee.protExec != 0 {
                try markExecutable(pid, start: result, end: pagesEnd(result, length), prot: prot)
            }
        case .munmap:
            forget(start: args[0], end: pagesEnd(args[0], args[1]))
        case .mremap:
            forget(start: args[0], end: pagesEnd(args[0], args[1]))
            let prot = protection(of: result)
            forget(start: result, end: pagesEnd(result, args[2]))
            if strategy == .pagefaultNX && prot & Tracee.protExec != 0 {
                try markExecutable(pid, start: result, end: pagesEnd(result, args[2]), prot: prot)
            }
        case .mprotect:
            try reprotect(pid, start: args[0] & ~(Tracee.pageSize - 1), end: pagesEnd(args[0], args[1]),
                          prot: Int32(truncatingIfNeeded: args[2]))
        }
    }

    private func reprotect(_ pid: pid_t, start: UInt64, end: UInt64, prot: Int32) throws {
        if strategy == .pagefaultNX && prot & Tracee.protExec != 0 {
            try markExecutable(pid, start: start, end: end, prot: prot)
        }
        var base = start
        while base < end {
            defer { base += Tracee.pageSize }
            let translated = pages[base]?.valid == true
            switch strategy {
            case .sbe:
                guard translated else { intended.removeValue(forKey: base); continue }
                intended[base] = prot
                if prot & Tracee.protWrite != 0 { try tracee.protect(pid, page: base, prot & ~Tracee.protWrite) }
            case .pagefaultNX:
                if prot & Tracee.protExec == 0 {
                    if translated { try discard(base) }
                    intended.removeValue(forKey: base)
                } else if translated {
                    try tracee.protect(pid, page: base, prot & ~Tracee.protWrite)
                }
            }
        }
    }

    /// Makes glibc see no vDSO, as under qemu-user 7.2 (docs/live.md): AT_SYSINFO_EHDR and AT_SYSINFO
    /// become AT_IGNORE in the auxiliary vector on the new program's stack.
    private func hideVDSO(_ pid: pid_t) throws {
        let sp = try tracee.registers(pid).sp
        let word = tracee.is32Bit ? 4 : 8
        let bytes = tracee.read(sp, 65536)
        func value(_ index: Int) -> UInt64? {
            let offset = index * word
            guard offset + word <= bytes.count else { return nil }
            return bytes[offset..<offset + word].reversed().reduce(0) { $0 << 8 | UInt64($1) }
        }
        guard let argc = value(0) else { return }
        var index = Int(argc) + 2
        while let entry = value(index), entry != 0 { index += 1 }
        index += 1
        while let type = value(index), type != 0 {
            if type == 32 || type == 33 {
                var ignore = [UInt8](repeating: 0, count: word)
                ignore[0] = 1
                try tracee.write(sp + UInt64(index * word), ignore[...])
            }
            index += 2
        }
    }

    // MARK: - Ending

    private func killAll() {
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

/// The memory system calls the monitor follows, by number.
enum Syscalls {
    enum Memory: Equatable {
        case mmap, oldMmap, mprotect, munmap, mremap

        init?(number: UInt64, is32Bit: Bool) {
            switch (is32Bit, number) {
            case (false, 9), (true, 192): self = .mmap
            case (true, 90): self = .oldMmap
            case (false, 10), (false, 329), (true, 125), (true, 380): self = .mprotect
            case (false, 11), (true, 91): self = .munmap
            case (false, 25), (true, 163): self = .mremap
            default: return nil
            }
        }
    }

    static func isExec(_ number: UInt64, is32Bit: Bool) -> Bool {
        is32Bit ? number == 11 || number == 358 : number == 59 || number == 322
    }
}

/// Calls `body` with a NULL-terminated C array of the strings.
func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { for pointer in pointers { free(pointer) } }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}
