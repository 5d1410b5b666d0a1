import Calibrate
import CostModel
import Foundation
import LiveMonitor
import Workloads

/// What one monitored probe cost per monitor entry (docs/live.md, "The live profile").
public struct LiveProbe: Sendable, Equatable {
    public var strategy: LiveStrategy
    /// Monitor entries (traps of every cause) the live run counted.
    public var traps: UInt64
    public var monitoredWall: Double
    public var plainWall: Double

    public init(strategy: LiveStrategy, traps: UInt64, monitoredWall: Double, plainWall: Double) {
        self.strategy = strategy
        self.traps = traps
        self.monitoredWall = monitoredWall
        self.plainWall = plainWall
    }

    /// Seconds per monitor entry: (monitored wall - plain wall) / traps; nil without traps or when the
    /// monitored run was not slower (nothing measurable).
    public var secondsPerTrap: Double? {
        guard traps > 0, monitoredWall > plainWall else { return nil }
        return (monitoredWall - plainWall) / Double(traps)
    }
}

/// The "live" cost profile: the trap keys priced at what this host's ptrace monitor pays per entry.
public enum LiveProfile {
    /// Iterations of each probe loop: enough traps (~3 per iteration) that process start-up is noise.
    public static let iterations = 20_000

    /// A loop that calls a function on the next page `iterations` times. With `rewrite`, each iteration first
    /// stores the function's own `ret` byte back over itself, so the page is written before it is entered:
    /// under pagefault-nx every iteration pays pf_write then pf_exec.
    static func probeSource(iterations: Int, rewrite: Bool) -> String {
        """
                .globl _start
                .text
        _start: mov $10, %eax               # mprotect(page, 4096, RWX): the loop may store to it
                lea page(%rip), %rdi
                mov $4096, %esi
                mov $7, %edx
                syscall
                mov $\(iterations), %ecx
        1:      \(rewrite ? "movb $0xc3, page(%rip)" : "nop")
                call page
                dec %ecx
                jnz 1b
                mov $60, %eax
                xor %edi, %edi
                syscall
                .p2align 12
        page:   ret
                .p2align 12
        """
    }

    /// Runs the probes under the live monitor: sbe on the plain call loop (call, ret, jcc: every trap an
    /// INT3 round trip), pagefault-nx on the rewriting loop (every trap a fault round trip with mprotect).
    public static func probes(directory: String, iterations: Int = iterations) throws -> [LiveProbe] {
        let int3 = try WorkloadBuilder.assemble(source: probeSource(iterations: iterations, rewrite: false),
                                                arch: .x86_64, name: "live-probe-int3", in: directory)
        let fault = try WorkloadBuilder.assemble(source: probeSource(iterations: iterations, rewrite: true),
                                                 arch: .x86_64, name: "live-probe-fault", in: directory)
        var probes: [LiveProbe] = []
        for (program, strategy) in [(int3, LiveStrategy.sbe), (fault, .pagefaultNX)] {
            let result = try LiveRunner.run(program: program, arguments: [], strategies: [strategy])
            guard let run = result.strategy(strategy) else { continue }
            probes.append(LiveProbe(strategy: strategy, traps: run.traps, monitoredWall: run.times.wall,
                                    plainWall: result.native.wall))
        }
        return probes
    }

    /// `base` with trap_int3 from the sbe probe and trap_pf, trap_wp from the pagefault-nx probe, seconds
    /// turned into profile cycles at `cyclesPerNanosecond`. A key whose probe measured nothing keeps `base`'s.
    public static func profile(probes: [LiveProbe], cyclesPerNanosecond: Double, base: CostProfile) -> CostProfile {
        var costs = base.costs
        var sources = base.sources
        func set(_ keys: [CostKey], from strategy: LiveStrategy, what: String) {
            guard let probe = probes.first(where: { $0.strategy == strategy }), let seconds = probe.secondsPerTrap else { return }
            for key in keys {
                costs[key] = seconds * 1e9 * cyclesPerNanosecond
                sources[key] = String(format: "measured: (monitored %.4f s - plain %.4f s) / %llu traps = %.2f us per "
                                      + "trap of the ptrace monitor (%@), x %.4f cycles/ns",
                                      probe.monitoredWall, probe.plainWall, probe.traps, seconds * 1e6, what,
                                      cyclesPerNanosecond)
            }
        }
        set([.trapInt3], from: .sbe, what: "sbe on a call/ret/jcc loop: stop, GETREGS, emulate, resume")
        set([.trapPF, .trapWP], from: .pagefaultNX,
            what: "pagefault-nx on a loop that rewrites then calls a page: SIGSEGV stop, injected mprotect, resume")
        return CostProfile(name: "live", description: "this host's ptrace monitor round trips (plexlab fidelity, "
                           + "docs/live.md); other keys from \(base.name)", costs: costs, sources: sources)
    }

    /// Measures the probes in a scratch directory and returns the live profile over `base`.
    public static func measure(base: CostProfile = CostProfile.named("modern")!, directory: String) throws -> CostProfile {
        let clock = try Calibrator.clock()
        return profile(probes: try probes(directory: directory), cyclesPerNanosecond: clock.cyclesPerNanosecond, base: base)
    }
}
