import CLiveTrace
import Foundation
import Replay

/// Thread bookkeeping: per-thread counts and state, new threads, and parking every other thread while one
/// steps over an original instruction (docs/live.md, "System calls, threads, signals").
extension Monitor {
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

    /// A new thread's first resume: back from the monitor's page to after its creator's clone, then
    /// (sbe) its start checked like any landing.
    func startThread(_ pid: pid_t) throws {
        if let back = childReturn.removeValue(forKey: pid), try tracee.registers(pid).ip == tracee.scratchPage + 2 ||
            (try tracee.registers(pid).ip) == tracee.scratchPage + 6 {
            try tracee.check(lt_set_syscall_return(pid, back, tracee.is32Bit ? 0 : 1), "starting a thread")
        }
        if strategy == .sbe { try ensureCovered(pid, ip: try tracee.registers(pid).ip) }
        try resumeThread(pid)
    }

    /// Resumes a thread the way it was going (stepping or running), unless another thread is stepping:
    /// then it stays parked until that step ends.
    func resumeThread(_ pid: pid_t) throws {
        if let stepper, stepper != pid {
            threads[pid]!.parked = true
            return
        }
        let stepping = threads[pid]!.step != nil
        try tracee.check(stepping ? lt_step(pid, 0) : lt_cont(pid, 0), "resuming a thread")
        threads[pid]!.running = true
    }

    /// Stops every other running thread before `pid` restores original bytes for a step.
    func parkOthers(_ pid: pid_t) throws {
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

    func resumeParked() throws {
        for (pid, state) in threads where state.parked && !state.exited {
            threads[pid]!.parked = false
            if deferred.contains(where: { $0.pid == pid }) { continue }
            try resumeThread(pid)
        }
    }

    func resume(_ pid: pid_t) throws { try resumeThread(pid) }

    func count(_ pid: pid_t, _ causes: [TrapCause]) {
        for cause in causes { threads[pid, default: ThreadState()].counts[cause, default: 0] += 1 }
    }
}
