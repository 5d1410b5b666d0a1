import Foundation
import Replay
import X86Decode

/// Page scans (the replay's PageScanner on the original bytes), trap sites, and the bytes the tracee holds:
/// original under a step, rendered (INT3s) otherwise.
extension Monitor {
    /// sbe: control is at `ip`; scans (or extends the scan of) its page unless the scan covers it.
    func ensureCovered(_ pid: pid_t, ip: UInt64) throws {
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

    /// Scans the page from `entry` (the scan of docs/strategies.md section 2, on the page's original
    /// bytes) and adds the sites of the instructions it newly covers. Only those are decoded again: the
    /// sites of instructions covered before do not change (their causes depend on the instruction and its
    /// page alone), so an extension costs what it decodes, as `scan_per_insn` prices it (docs/live.md).
    func scan(_ base: UInt64, from entry: UInt64) throws {
        var page = pages[base]!
        // An invalid page's scan was cleared when it was discarded (`clearScan`) or never made.
        if !page.valid { page.coverage.removeAll() }
        let before = page.coverage
        var coverage = page.coverage
        let decoded = page.original.withUnsafeBytes { scanner.scan(entry: entry, code: $0, coverage: &coverage) }
        scanned += UInt64(decoded)
        scans += 1
        page.coverage = coverage
        let wasValid = page.valid
        page.valid = true
        // A straddler found earlier stays a site until a scan covers its address; a fresh scan keeps
        // nothing else.
        var sites = wasValid ? page.sites.filter { before.contains($0.key) || !coverage.contains($0.key) }
                             : page.sites.filter { $0.value == [.pageCross] && !coverage.contains($0.key) }
        for address in coverage.addresses where !before.contains(address) {
            let offset = Int(address - base)
            guard let instruction = page.original[offset...].withUnsafeBytes({ decoder.decode($0, at: address) }) else { continue }
            page.lengths[offset] = UInt8(instruction.length)
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
    }

    /// Whether the instruction at `address` runs past its page's end (never decoded by a scan).
    func isStraddler(_ address: UInt64) -> Bool {
        let end = (address & ~(Tracee.pageSize - 1)) + Tracee.pageSize
        guard end - address < 15 else { return false }
        let bytes = originalBytes(address, count: 15)
        guard let instruction = bytes.withUnsafeBytes({ decoder.decode($0, at: address) }) else { return false }
        return instruction.fallThrough > end
    }

    /// Renders the page's bytes (`LivePage.render`) once, keeps them, and writes them to the tracee: a
    /// step's restore (`writeRendered`) copies from the kept bytes, so a trap costs the same on a page
    /// of one site as on a page of hundreds (the probes' pages hold one or two).
    func render(_ base: UInt64) throws {
        guard var page = pages[base] else { return }
        page.rendered = page.render(fill: strategy == .pagefaultNX)
        try tracee.write(base, page.rendered[...])
        page.patched = true
        pages[base] = page
    }

    /// The program's bytes (without the monitor's INT3s) from `address`.
    func originalBytes(_ address: UInt64, count: Int) -> [UInt8] {
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

    func decode(at address: UInt64) -> DecodedInstruction? {
        originalBytes(address, count: 15).withUnsafeBytes { decoder.decode($0, at: address) }
    }

    func writeOriginal(_ address: UInt64, count: Int) throws {
        try forEachPatchedPart(address, count) { page, range in try tracee.write(page.base + UInt64(range.lowerBound), page.original[range]) }
    }

    func writeRendered(_ address: UInt64, count: Int) throws {
        try forEachPatchedPart(address, count) { page, range in try tracee.write(page.base + UInt64(range.lowerBound), page.rendered[range]) }
    }

    func forEachPatchedPart(_ address: UInt64, _ count: Int, _ body: (LivePage, Range<Int>) throws -> Void) throws {
        var at = address
        let end = address + UInt64(count)
        while at < end {
            let base = at & ~(Tracee.pageSize - 1)
            let stop = min(end, base + Tracee.pageSize)
            if let page = pages[base], page.patched { try body(page, Int(at - base)..<Int(stop - base)) }
            at = stop
        }
    }
}
