import CLiveTrace
import Foundation

/// The ptrace event loop: every stop of every thread (exits, clone events, group stops, signals) is taken
/// here and sent to the handler of its kind (docs/live.md section 1).
extension Monitor {
    func monitor() throws -> (RunEnd, Double) {
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

    func process(_ stop: lt_stop) throws {
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

    func handleEvent(_ event: Int32, pid: pid_t) throws {
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

    func refusal(event: Int32) -> LiveError {
        switch event {
        case 4: .notMonitorable("\(program) calls execve; the live monitor follows one program image")
        default: .notMonitorable("\(program) forks a child process; the live monitor follows one process (docs/live.md)")
        }
    }

    func handleSignal(_ pid: pid_t, _ stop: lt_stop) throws {
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
    func deliver(_ pid: pid_t, _ signal: Int32, stepping: Bool) throws {
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
}
