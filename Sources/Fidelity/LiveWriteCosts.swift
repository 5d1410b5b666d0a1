import CostModel
import Foundation
import LiveMonitor
import Replay
import Workloads

/// Code writes under the live monitor: the probes and prices of docs/live.md section 3, "Code writes".
extension LiveProfile {
    /// A loop on its own page that stores to that page on every iteration (the writer on the page it writes,
    /// docs/strategies.md "code write"): under sbe one pf_write per iteration, under pagefault-nx one pf_write
    /// and one pf_exec, each followed by the monitor's step of the store and its rescan from the next
    /// instruction.
    static func selfWriteSource(iterations: Int) -> String {
        """
                .globl _start
                .text
        _start: mov $10, %eax               # mprotect(page, 4096, RWX): the loop stores to its own page
                lea page(%rip), %rdi
                mov $4096, %esi
                mov $7, %edx
                syscall
                jmp page
                .p2align 12
        page:   mov $\(iterations), %ecx
        1:      movb $0x90, byte(%rip)
                dec %ecx
                jnz 1b
                mov $60, %eax
                xor %edi, %edi
                syscall
        byte:   nop
                .p2align 12
        """
    }

    /// Iterations of the code-write probes (`writeProbes`).
    public static let writeIterations = 5_000

    /// Runs the code-write probes under the live monitor: "write-sbe" (the rewriting loop under sbe: a
    /// pf_write by a block on another page, then the call and ret that enter the page again), "self-sbe"
    /// and "self-nx" (the self-writing loop under each strategy).
    public static func writeProbes(directory: String, iterations: Int = writeIterations) throws -> [String: LiveProbe] {
        let programs: [(String, String, LiveStrategy)] = [
            ("write-sbe", loopSource(iterations: iterations, rewrite: true), .sbe),
            ("self-sbe", selfWriteSource(iterations: iterations), .sbe),
            ("self-nx", selfWriteSource(iterations: iterations), .pagefaultNX),
        ]
        return try run(probes: programs, directory: directory)
    }

    /// The code-write costs from the write probes, each the probe's excess over its counted causes and
    /// scans at `profile`'s prices, per pf_write (docs/live.md section 3, "Code writes").
    public static func writeCosts(probes: [String: LiveProbe], profile: CostProfile, cyclesPerNanosecond: Double) -> LiveWriteCosts {
        func extra(_ name: String) -> Double {
            guard let probe = probes[name] else { return 0 }
            return probe.secondsPerWrite(profile: profile, cyclesPerNanosecond: cyclesPerNanosecond) ?? 0
        }
        return LiveWriteCosts(sbeRewrite: extra("write-sbe"),
                              selfWrite: [.sbe: extra("self-sbe"), .pagefaultNX: extra("self-nx")])
    }

    /// Runs the write probes and solves them against `profile` (what `plexlab fidelity --profile` does).
    public static func measureWriteCosts(directory: String, profile: CostProfile, cyclesPerNanosecond: Double,
                                         iterations: Int = writeIterations) throws -> LiveWriteCosts {
        writeCosts(probes: try writeProbes(directory: directory, iterations: iterations), profile: profile,
                   cyclesPerNanosecond: cyclesPerNanosecond)
    }
}

extension LiveProbe {
    /// Seconds per pf_write left over once every counted cause (pf_write included, at trap_wp) and every
    /// decoded instruction (at scan_per_insn) is paid at `profile`'s prices: what the monitor does for a
    /// code write that no counted cause prices. Not clamped at 0: added back to the same prices, it gives
    /// the probe's measured excess whatever their own noise (a negative remainder: those prices exceed what
    /// this kind of write costs). Nil without a pf_write.
    public func secondsPerWrite(profile: CostProfile, cyclesPerNanosecond: Double) -> Double? {
        guard let writes = counts[.pfWrite], writes > 0 else { return nil }
        var cycles = Double(scanned) * profile[.scanPerInsn]
        for (cause, count) in counts { cycles += Double(count) * (cause.costKey.map { profile[$0] } ?? 0) }
        let remainder = monitoredWall - plainWall - cycles / (cyclesPerNanosecond * 1e9)
        return remainder / Double(writes)
    }
}

/// What the live monitor pays for code writes beyond the causes it counts (docs/live.md section 3, "Code
/// writes"), in seconds per write, measured by `plexlab calibrate --live`'s write probes on this host.
public struct LiveWriteCosts: Sendable, Equatable {
    /// sbe, per pf_write by a block on another page: the page is made writable for the store and must be
    /// write-protected again when control next enters it and it is rescanned (one injected mprotect).
    public var sbeRewrite: Double
    /// Per self-write (a pf_write whose writing block starts on the page it wrote; `selfWrites` of the
    /// replay), per strategy: the store stepped alone, the page rescanned from the next instruction and
    /// protected again, beyond the counted pf_write (and pagefault-nx's pf_exec).
    public var selfWrite: [LiveStrategy: Double]

    public init(sbeRewrite: Double = 0, selfWrite: [LiveStrategy: Double] = [:]) {
        self.sbeRewrite = sbeRewrite
        self.selfWrite = selfWrite
    }

    /// Seconds `strategy`'s code writes add beyond their counted causes:
    /// sbe: (pf_write - self-writes) x sbe rewrite + self-writes x self-write(sbe);
    /// pagefault-nx: self-writes x self-write(pagefault-nx) (its other writes are its probe's, trap_wp).
    public func seconds(_ strategy: LiveStrategy, pfWrite: UInt64, selfWrites: UInt64) -> Double {
        let own = Double(selfWrites) * (selfWrite[strategy] ?? 0)
        switch strategy {
        case .sbe: return Double(pfWrite - min(pfWrite, selfWrites)) * sbeRewrite + own
        case .pagefaultNX: return own
        }
    }
}
