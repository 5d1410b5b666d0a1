import CLiveTrace
import Foundation
import Replay

/// INT3 traps and single steps: a trap at a site counts its causes and steps over the original instruction
/// (system calls displaced to the monitor's page); a trap on a filled byte (pagefault-nx) extends the scan.
extension Monitor {
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

    func handleBreakpoint(_ pid: pid_t) throws {
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

    func ownInt3(_ address: UInt64) -> LiveError {
        .notMonitorable("\(program) executes its own INT3 at 0x\(String(address, radix: 16)); it cannot be told from the monitor's")
    }

    func trapAtSite(_ pid: pid_t, _ address: UInt64, _ causes: [TrapCause], settles: UInt64? = nil) throws {
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
    func beginStep(_ pid: pid_t, _ step: Step) throws {
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

    func completeStep(_ pid: pid_t, _ step: Step) throws {
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
    func stepStore(_ pid: pid_t, ip: UInt64, page base: UInt64) throws {
        guard let instruction = decode(at: ip) else { throw ownInt3(ip) }
        var causes = strategy == .sbe ? LiveRules.sbeCauses(instruction, pageBase: base) : LiveRules.nxCauses(instruction)
        if instruction.fallThrough > base + Tracee.pageSize { causes = [.pageCross] }
        try trapAtSite(pid, ip, causes, settles: base)
    }
}
