import CLiveTrace
import Foundation
import X86Decode

/// The live monitor's own costs on this host, for `plexlab calibrate --live` (docs/live.md, "The live
/// profile"): parts of a monitor entry measured alone, and the monitor's page scan.
public enum LiveCosts {
    /// Seconds per stop-and-resume: a traced child's SIGTRAP stop waited for and resumed with PTRACE_CONT.
    public static func stopResumeSeconds(iterations: Int = 20_000) throws -> Double {
        let seconds = lt_time_stop_resume(Int32(iterations))
        if seconds < 0 { throw LiveError.ptrace("timing stop-and-resume", Int32(-seconds)) }
        return seconds
    }

    /// Seconds per mprotect(2) of one page, made in this process.
    public static func mprotectSeconds(iterations: Int = 100_000) throws -> Double {
        let seconds = lt_time_mprotect(Int32(iterations))
        if seconds < 0 { throw LiveError.ptrace("timing mprotect", Int32(-seconds)) }
        return seconds
    }

    /// Seconds per decoded instruction of the monitor's page scan (docs/live.md section 1): the replay's
    /// `PageScanner` from a page's start, then each covered instruction decoded again for its trap sites,
    /// as `Monitor.scan` does. Scans start every 256 bytes of a page, each extending the coverage. Over up to `pages` pages of this process's own x86-64 code (real compiled
    /// code, read in place); the fastest of `rounds` passes.
    public static func scanSecondsPerInstruction(pages: Int = 256, rounds: Int = 5) throws -> (seconds: Double, instructions: Int) {
        let text = Mapping.read(pid: getpid()).filter { $0.prot & Tracee.protExec != 0 && $0.name.hasPrefix("/") }
            .max { $0.end - $0.start < $1.end - $1.start }
        guard let text, let start = UnsafeRawPointer(bitPattern: UInt(text.start)) else {
            throw LiveError.notMonitorable("no executable mapping of this process to time a scan on")
        }
        let count = min(pages, Int((text.end - text.start) / Tracee.pageSize))
        let bytes = (0..<count).map { Array(UnsafeRawBufferPointer(start: start + $0 * Int(Tracee.pageSize), count: Int(Tracee.pageSize))) }
        var scanner = PageScanner(arch: .x86_64)
        let decoder = X86Decoder(arch: .x86_64)
        var best = Double.infinity, decoded = 0
        for _ in 0..<rounds {
            decoded = 0
            var sites = 0
            let begin = lt_now()
            for (index, page) in bytes.enumerated() {
                let base = text.start + UInt64(index) * Tracee.pageSize
                var coverage = InstructionStarts(pageBase: base, pageSize: Int(Tracee.pageSize))
                // An entry every 256 bytes: a page's first scan and its extensions, as control lands in it.
                for entry in stride(from: 0, to: Int(Tracee.pageSize), by: 256) {
                    decoded += page.withUnsafeBytes { scanner.scan(entry: base + UInt64(entry), code: $0, coverage: &coverage) }
                }
                for address in coverage.addresses {
                    let offset = Int(address - base)
                    if let instruction = page[offset...].withUnsafeBytes({ decoder.decode($0, at: address) }) {
                        sites += LiveRules.sbeCauses(instruction, pageBase: base).count
                    }
                }
            }
            best = min(best, lt_now() - begin)
            if sites < 0 { print(sites) }  // keeps the site computation from being optimized away
        }
        guard decoded > 0 else { throw LiveError.notMonitorable("the scan timing decoded no instruction") }
        return (best / Double(decoded), decoded)
    }
}
