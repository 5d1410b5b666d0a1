import Calibrate
import CostModel
import Foundation
import LiveMonitor
import Replay
import Workloads

/// One probe program run plainly and under the live monitor: its counts and both wall times.
public struct LiveProbe: Sendable, Equatable {
    public var strategy: LiveStrategy
    /// Live counts by cause.
    public var counts: [TrapCause: UInt64]
    public var monitoredWall: Double
    public var plainWall: Double
    /// Instructions the monitor's scans decoded.
    public var scanned: UInt64

    public init(strategy: LiveStrategy, counts: [TrapCause: UInt64], monitoredWall: Double, plainWall: Double,
                scanned: UInt64 = 0) {
        self.strategy = strategy
        self.counts = counts
        self.monitoredWall = monitoredWall
        self.plainWall = plainWall
        self.scanned = scanned
    }

    /// Monitor entries of every cause.
    public var traps: UInt64 { counts.values.reduce(0, +) }

    /// Seconds per entry of the `measured` causes: the monitored excess over the plain run, less what the
    /// entries of the other causes cost at `known` seconds each, over the measured entries. Nil without
    /// such entries, a price for another cause, or an excess left over.
    public func secondsPerTrap(of measured: Set<TrapCause>, known: [TrapCause: Double] = [:]) -> Double? {
        var excess = monitoredWall - plainWall
        var entries: UInt64 = 0
        for (cause, count) in counts where count > 0 {
            if measured.contains(cause) { entries += count; continue }
            guard let seconds = known[cause] else { return nil }
            excess -= Double(count) * seconds
        }
        guard entries > 0, excess > 0 else { return nil }
        return excess / Double(entries)
    }
}

/// What `plexlab calibrate --live` measures (docs/live.md, "The live profile"), and the profile it makes.
public struct LiveCalibration: Sendable {
    public var probes: [String: LiveProbe]
    /// Seconds per stop-and-resume of a traced thread, per mprotect(2), per decoded instruction of the scan.
    public var stopResume: Double
    public var mprotect: Double
    public var scanPerInstruction: Double
    public var cyclesPerNanosecond: Double
    public var profile: CostProfile
    /// What code writes cost beyond their counted causes, solved against `profile` (`LiveWriteCosts`).
    public var writeCosts: LiveWriteCosts

    /// The profile in `plexlab calibrate --out`'s file format, named `name`.
    public func file(name: String) -> CalibratedProfile {
        CalibratedProfile(name: name, description: profile.description,
                          costs: Dictionary(uniqueKeysWithValues: CostKey.allCases.map { ($0.rawValue, profile[$0]) }),
                          sources: Dictionary(uniqueKeysWithValues: profile.sources.map { ($0.key.rawValue, $0.value) }))
    }

    /// Human-readable lines: each measured key in microseconds and cycles.
    public func summary() -> String {
        func line(_ name: String, _ seconds: Double) -> String {
            "  " + name.padding(toLength: 16, withPad: " ", startingAt: 0)
                + String(format: "%10.3f us %12.0f cycles\n", seconds * 1e6, seconds * 1e9 * cyclesPerNanosecond)
        }
        var out = String(format: "live monitor round trips (%.4f cycles/ns):\n", cyclesPerNanosecond)
        for key: CostKey in [.trapInt3, .trapInt3Fill, .trapPF, .trapWP, .scanPerInsn] {
            var text = line(key.rawValue, profile[key] / 1e9 / cyclesPerNanosecond)
            if profile.sources[key]?.hasPrefix("measured") != true { text = String(text.dropLast()) + "  (not measured: kept)\n" }
            out += text
        }
        out += line("stop-and-resume", stopResume)
        out += line("mprotect", mprotect)
        out += line("sbe rewrite", writeCosts.sbeRewrite)
        for strategy in LiveStrategy.allCases { out += line("\(strategy.rawValue) self-write", writeCosts.selfWrite[strategy] ?? 0) }
        return out
    }
}

/// The "live" cost profile: the trap and scan keys priced at what this host's ptrace monitor pays.
public enum LiveProfile {
    /// Iterations of the int3 and write probes, and pages of the fault probe: enough entries that process
    /// start-up is noise.
    public static let iterations = 20_000
    public static let faultPages = 2_000

    /// A loop that calls a function on the next page `iterations` times. With `rewrite`, each iteration first
    /// stores the function's own `ret` byte back over itself, so the page is written before it is entered:
    /// under pagefault-nx every iteration pays pf_write then pf_exec.
    static func loopSource(iterations: Int, rewrite: Bool) -> String {
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

    /// Maps `pages` fresh pages, writes a `ret` every 4096 / `entries` bytes of each (at its start alone by
    /// default), makes them read+execute and calls each `ret` once, in address order. Under pagefault-nx the
    /// first call into a page is its pf_exec, whose scan covers that `ret` alone (a scan stops at ret); each
    /// later one lands on a filled byte: int3_fill, the scan extended by one `ret`. So `pages` pf_exec and
    /// `pages` x (`entries` - 1) int3_fill, and nothing else but the three system calls.
    static func faultSource(pages: Int, entries: Int = 1) -> String {
        let stride = 4096 / entries
        return """
                .globl _start
                .text
        _start: mov $9, %eax                # mmap(0, pages * 4096, RW, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)
                xor %edi, %edi
                mov $\(pages * 4096), %esi
                mov $3, %edx
                mov $0x22, %r10d
                mov $-1, %r8
                xor %r9d, %r9d
                syscall
                mov %rax, %rbx
                mov %rax, %rdi
                mov $\(pages * entries), %ecx
        1:      movb $0xc3, (%rdi)
                add $\(stride), %rdi
                dec %ecx
                jnz 1b
                mov $10, %eax               # mprotect(base, pages * 4096, R|X)
                mov %rbx, %rdi
                mov $\(pages * 4096), %esi
                mov $5, %edx
                syscall
                mov $\(pages * entries), %r12d
        2:      call *%rbx
                add $\(stride), %rbx
                dec %r12d
                jnz 2b
                mov $60, %eax
                xor %edi, %edi
                syscall
        """
    }

    /// Entries per page of the fill probe: a `ret` every 16 bytes.
    public static let fillEntriesPerPage = 256

    /// Runs the four probes under the live monitor: "int3" (sbe on the call loop: call, ret and system
    /// calls, every entry an INT3 round trip at a site), "fault" (pagefault-nx on fresh pages: pf_exec),
    /// "fill" (pagefault-nx on fresh pages of 256 `ret`s each: int3_fill, about `iterations` of them, and a
    /// pf_exec per page) and "write" (pagefault-nx on the rewriting loop: pf_write and pf_exec per iteration).
    public static func probes(directory: String, iterations: Int = iterations, faultPages: Int = faultPages) throws -> [String: LiveProbe] {
        let fillPages = max(1, (iterations + fillEntriesPerPage - 2) / (fillEntriesPerPage - 1))
        let programs: [(String, String, LiveStrategy)] = [
            ("int3", loopSource(iterations: iterations, rewrite: false), .sbe),
            ("fault", faultSource(pages: faultPages), .pagefaultNX),
            ("fill", faultSource(pages: fillPages, entries: fillEntriesPerPage), .pagefaultNX),
            ("write", loopSource(iterations: iterations, rewrite: true), .pagefaultNX),
        ]
        return try run(probes: programs, directory: directory)
    }

    /// Assembles each (name, x86-64 source, strategy) and runs it plainly and under the monitor.
    static func run(probes programs: [(String, String, LiveStrategy)], directory: String) throws -> [String: LiveProbe] {
        var probes: [String: LiveProbe] = [:]
        for (name, source, strategy) in programs {
            let program = try WorkloadBuilder.assemble(source: source, arch: .x86_64, name: "live-probe-\(name)", in: directory)
            let result = try LiveRunner.run(program: program, arguments: [], strategies: [strategy])
            guard let run = result.strategy(strategy) else { continue }
            probes[name] = LiveProbe(strategy: strategy, counts: run.counts.filter { $0.value > 0 },
                                     monitoredWall: run.times.wall, plainWall: result.native.wall, scanned: run.scanned)
        }
        return probes
    }

    /// `base` with the trap keys from the probes, each solved in turn (trap_int3 from the int3 probe; trap_pf
    /// from the fault probe less its system calls at trap_int3; trap_int3_fill from the fill probe less its
    /// pf_exec at trap_pf and system calls at trap_int3; trap_wp from the write probe less its pf_exec at
    /// trap_pf and system calls at trap_int3), and scan_per_insn when given; seconds turned into cycles at
    /// `cyclesPerNanosecond`. A key whose probe measured nothing keeps `base`'s, but trap_int3_fill then
    /// keeps the profile's trap_int3 (a fill priced as a site trap, the model before the fill probe).
    public static func profile(probes: [String: LiveProbe], scanPerInstruction: Double? = nil,
                               cyclesPerNanosecond: Double, base: CostProfile) -> CostProfile {
        var costs = base.costs
        var sources = base.sources
        var known: [TrapCause: Double] = [:]
        let int3Causes: Set<TrapCause> = [.call, .jcc, .jmp, .ret, .jmpInd, .callInd, .syscall, .far, .sensitive, .pageCross]
        @discardableResult
        func set(_ key: CostKey, probe name: String, causes: Set<TrapCause>, what: String) -> Bool {
            guard let probe = probes[name], let seconds = probe.secondsPerTrap(of: causes, known: known) else {
                // Said, never silent: a busy machine can leave the probe no excess over its other causes.
                sources[key] = "not measured: the \(name) probe left no time over its other causes at their measured "
                    + "prices (a busy machine; run again); \(base.name)'s figure: " + (base.sources[key] ?? "")
                return false
            }
            for cause in causes { known[cause] = seconds }
            costs[key] = seconds * 1e9 * cyclesPerNanosecond
            let entries = probe.counts.filter { causes.contains($0.key) }.values.reduce(0, +)
            let others = probe.counts.filter { !causes.contains($0.key) }.sorted { $0.key < $1.key }
                .map { "\($0.value) \($0.key.rawValue)" }.joined(separator: ", ")
            sources[key] = String(format: "measured: (monitored %.4f s - plain %.4f s%@) / %llu entries = %.2f us per entry of the "
                                  + "ptrace monitor (%@), x %.4f cycles/ns", probe.monitoredWall, probe.plainWall,
                                  others.isEmpty ? "" : " - \(others) at their measured prices", entries, seconds * 1e6,
                                  what, cyclesPerNanosecond)
            return true
        }
        set(.trapInt3, probe: "int3", causes: int3Causes, what: "sbe on a call/ret loop: stop, registers, step over, resume")
        set(.trapPF, probe: "fault", causes: [.pfExec],
            what: "pagefault-nx entering fresh pages: SIGSEGV stop, scan, 4 KiB render, injected mprotect, resume")
        if !set(.trapInt3Fill, probe: "fill", causes: [.int3Fill],
                what: "pagefault-nx landing on filled bytes of translated pages: SIGTRAP stop, scan extension, 4 KiB render, resume") {
            // The model before the fill probe: a fill priced as a site trap.
            costs[.trapInt3Fill] = costs[.trapInt3]
            sources[.trapInt3Fill] = "not measured: the fill probe left no time over its other causes at their measured prices "
                + "(a busy machine; run again); = trap_int3: " + (sources[.trapInt3] ?? "")
        }
        set(.trapWP, probe: "write", causes: [.pfWrite],
            what: "pagefault-nx on a loop that stores to a translated page: SIGSEGV stop, 4 KiB restore, injected mprotect, resume")
        if let scanPerInstruction {
            costs[.scanPerInsn] = scanPerInstruction * 1e9 * cyclesPerNanosecond
            sources[.scanPerInsn] = String(format: "measured: %.1f ns per instruction of the monitor's scan (PageScanner, then a "
                                           + "decode per covered instruction for its sites) over this process's own code, x %.4f cycles/ns",
                                           scanPerInstruction * 1e9, cyclesPerNanosecond)
        }
        return CostProfile(name: "live", description: "this host's ptrace monitor round trips (plexlab calibrate --live, "
                           + "docs/live.md); other keys from \(base.name)", costs: costs, sources: sources)
    }

    /// Measures everything in a scratch directory: the probes, stop-and-resume, mprotect and the scan.
    public static func calibrate(base: CostProfile = CostProfile.named("modern")!, directory: String,
                                 iterations: Int = iterations, faultPages: Int = faultPages) throws -> LiveCalibration {
        let clock = try Calibrator.clock()
        let probes = try probes(directory: directory, iterations: iterations, faultPages: faultPages)
        let scan = try LiveCosts.scanSecondsPerInstruction()
        let profile = profile(probes: probes, scanPerInstruction: scan.seconds, cyclesPerNanosecond: clock.cyclesPerNanosecond, base: base)
        let writeProbes = try writeProbes(directory: directory, iterations: max(1, iterations / 4))
        let writeCosts = writeCosts(probes: writeProbes, profile: profile, cyclesPerNanosecond: clock.cyclesPerNanosecond)
        return LiveCalibration(probes: probes.merging(writeProbes) { first, _ in first },
                               stopResume: try LiveCosts.stopResumeSeconds(), mprotect: try LiveCosts.mprotectSeconds(),
                               scanPerInstruction: scan.seconds, cyclesPerNanosecond: clock.cyclesPerNanosecond, profile: profile,
                               writeCosts: writeCosts)
    }

    /// The monitor-start probe: a program that only exits, built for `arch` (an i386 program's start under
    /// pagefault-nx injects more: personality(2) and the protection of every mapping READ_IMPLIES_EXEC made
    /// executable). `LiveRunner.run(startProbe:)` runs it in the rounds of the program it prices, and
    /// `ShortRunEstimate.start` turns its runs into the monitor's start (docs/live.md section 3).
    public static func startProbe(directory: String, arch: WorkloadArch) throws -> String {
        try WorkloadBuilder.assemble(source: """
                    .globl _start
                    .text
            _start:
            #ifdef __x86_64__
                    mov $60, %eax
                    xor %edi, %edi
                    syscall
            #else
                    mov $1, %eax
                    xor %ebx, %ebx
                    int $0x80
            #endif
            """, arch: arch, name: "live-probe-exit-\(arch.rawValue)", in: directory)
    }

    /// Seconds `counts` cost at the profile's prices (each cause at its key; causes without a key are free).
    public static func trapSeconds(_ counts: [TrapCause: UInt64], profile: CostProfile, cyclesPerNanosecond: Double) -> Double {
        counts.reduce(0.0) { $0 + Double($1.value) * ($1.key.costKey.map { profile[$0] } ?? 0) } / (cyclesPerNanosecond * 1e9)
    }
}
