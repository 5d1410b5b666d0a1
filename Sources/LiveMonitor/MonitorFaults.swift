import CLiveTrace
import Foundation
import Replay

/// Page-protection faults: pf_write on a write-protected scanned or translated page (both strategies),
/// pf_exec on an untranslated page (pagefault-nx), and the stale faults of a second thread.
extension Monitor {
    /// A SEGV_ACCERR fault: true when the monitor's protection caused it (and it was handled).
    func handleFault(_ pid: pid_t, address: UInt64, duringStep: Bool) throws -> Bool {
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
    func isStale(_ pid: pid_t, address: UInt64, page base: UInt64, intent: Int32) throws -> Bool {
        let fetch = try tracee.registers(pid).ip == address
        let translated = pages[base]?.valid == true
        if fetch && intent & Tracee.protWrite == 0 {
            return strategy == .pagefaultNX && translated && intent & Tracee.protExec != 0
        }
        return !fetch && !translated && intended[base] != nil && intent & Tracee.protWrite != 0
    }

    func writeFault(_ pid: pid_t, page base: UInt64, intent: Int32, duringStep: Bool) throws {
        count(pid, [.pfWrite])
        try discard(base)
        let ip = duringStep ? nil : try tracee.registers(pid).ip
        let writerOnPage = ip.map { $0 >= base && $0 < base + Tracee.pageSize } ?? false
        switch strategy {
        case .sbe: try tracee.protect(pid, page: base, intent)
        case .pagefaultNX where writerOnPage:
            // The writer resumes on the page it wrote (docs/strategies.md, code writes): the fetch fault is
            // counted at once, and the page is made writable and executable in one mprotect for the step.
            count(pid, [.pfExec])
            try tracee.protect(pid, page: base, intent | Tracee.protExec)
        case .pagefaultNX: try tracee.protect(pid, page: base, intent & ~Tracee.protExec)
        }
        guard let ip, writerOnPage else { return duringStep ? () : try resume(pid) }
        selfWrites += 1
        // Both strategies step the store, then rescan from the instruction after it.
        try stepStore(pid, ip: ip, page: base)
    }

    func discard(_ base: UInt64) throws {
        guard var page = pages[base] else { return }
        if page.patched { try tracee.write(base, page.original[...]) }
        page.patched = false
        page.valid = false
        page.scanPending = false
        page.clearScan()
        pages[base] = page
    }

    /// pagefault-nx: the first fetch from an untranslated page faulted at `entry`.
    func translate(_ pid: pid_t, page base: UInt64, from entry: UInt64) throws {
        pages[base] = LivePage(base: base, original: tracee.read(base, Int(Tracee.pageSize)))
        try scan(base, from: entry)
        try render(base)
        let intent = intended[base] ?? protection(of: base)
        try tracee.protect(pid, page: base, (intent & ~Tracee.protWrite) | Tracee.protExec)
    }

    /// After a writer's store to the page it runs on: pagefault-nx translates the page again
    /// with an empty scan (the fault counted with the write). The scan is the free extension from the next
    /// block on the page (docs/strategies.md): when the step landed on the page, that block starts where it
    /// landed and is scanned now; otherwise at the page's next entry (`scanPending`, no trap counted).
    func settle(_ pid: pid_t, page base: UInt64) throws {
        guard strategy == .pagefaultNX, var page = pages[base], let intent = intended[base] else { return }
        page.original = tracee.read(base, Int(Tracee.pageSize))
        page.clearScan()
        page.valid = true
        page.scanPending = true
        pages[base] = page
        let landing = try tracee.registers(pid).ip
        if page.contains(landing) && !isStraddler(landing) {
            pages[base]!.scanPending = false
            try scan(base, from: landing)
        }
        try render(base)
        try tracee.protect(pid, page: base, (intent & ~Tracee.protWrite) | Tracee.protExec)
    }
}
