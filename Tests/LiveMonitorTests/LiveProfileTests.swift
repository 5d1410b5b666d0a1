import CostModel
import Fidelity
import Foundation
import LiveMonitor
import Testing
import Workloads

/// The live profile: cost per monitor entry from timings, and the profile fidelity measures and uses.
@Suite(.serialized) struct LiveProfileTests {
    @Test func eachKeyIsSolvedFromItsProbe() throws {
        // int3: 60,000 INT3 entries made a 1 ms program take 301 ms: 300 ms / 60,000 = 5 us; at 2 cycles/ns
        // that is 10,000 cycles.
        let int3 = LiveProbe(strategy: .sbe, counts: [.call: 30_000, .ret: 29_997, .syscall: 3], monitoredWall: 0.301, plainWall: 0.001)
        #expect(abs(try #require(int3.secondsPerTrap(of: [.call, .ret, .syscall])) - 5e-6) < 1e-15)
        // fault: 2,000 pf_exec and 3 syscalls added 20.015 ms: 20 ms after the syscalls at 5 us, 10 us each.
        let fault = LiveProbe(strategy: .pagefaultNX, counts: [.pfExec: 2_000, .syscall: 3], monitoredWall: 0.022015, plainWall: 0.002)
        // write: 1,000 pf_write, 1,001 pf_exec, 2 syscalls added 18.02 ms: less 10.01 ms and 10 us, 8 us each.
        let write = LiveProbe(strategy: .pagefaultNX, counts: [.pfWrite: 1_000, .pfExec: 1_001, .syscall: 2],
                              monitoredWall: 0.01902, plainWall: 0.001)
        // fill: 2,550 int3_fill, 11 pf_exec and 3 syscalls added 6.5 ms: less 110 us and 15 us, 6.375 ms
        // over 2,550 fills, 2.5 us each: half a site trap (one stop where a site trap makes two).
        let fill = LiveProbe(strategy: .pagefaultNX, counts: [.int3Fill: 2_550, .pfExec: 11, .syscall: 3],
                             monitoredWall: 0.0075, plainWall: 0.001)
        let modern = try #require(CostProfile.named("modern"))
        let live = LiveProfile.profile(probes: ["int3": int3, "fault": fault, "fill": fill, "write": write], scanPerInstruction: 25e-9,
                                       cyclesPerNanosecond: 2, base: modern)
        #expect(live.name == "live")
        #expect(abs(live[.trapInt3] - 10_000) < 1e-6)
        #expect(abs(live[.trapInt3Fill] - 5_000) < 1e-6)
        #expect(live.sources[.trapInt3Fill]?.hasPrefix("measured: (monitored 0.0075 s - plain 0.0010 s - 3 syscall, 11 pf_exec at their measured prices) / 2550 entries = 2.50 us") == true)
        #expect(abs(live[.trapPF] - 20_000) < 1e-6)
        #expect(abs(live[.trapWP] - 16_000) < 1e-6)
        #expect(abs(live[.scanPerInsn] - 50) < 1e-9)
        #expect(live[.cpi] == modern[.cpi])
        #expect(live.sources[.trapInt3]?.hasPrefix("measured: (monitored 0.3010 s - plain 0.0010 s) / 60000 entries = 5.00 us") == true)
        #expect(live.sources[.trapPF]?.hasPrefix("measured: (monitored 0.0220 s - plain 0.0020 s - 3 syscall at their measured prices) / 2000 entries = 10.00 us") == true)

        // Nothing measurable (no entries, not slower, or a cause without a price): the key keeps the base's.
        #expect(LiveProbe(strategy: .sbe, counts: [:], monitoredWall: 1, plainWall: 0).secondsPerTrap(of: [.call]) == nil)
        let slower = LiveProbe(strategy: .sbe, counts: [.call: 10], monitoredWall: 0.001, plainWall: 0.002)
        #expect(slower.secondsPerTrap(of: [.call]) == nil)
        #expect(fault.secondsPerTrap(of: [.pfExec]) == nil, "its syscalls have no price")
        let alone = LiveProfile.profile(probes: ["int3": slower, "fault": fault], cyclesPerNanosecond: 2, base: modern)
        #expect(alone[.trapInt3] == modern[.trapInt3] && alone[.trapPF] == modern[.trapPF] && alone[.scanPerInsn] == modern[.scanPerInsn])
        // Without a fill measure a fill is priced as a site trap: the live trap_int3, not the base's figure.
        let noFill = LiveProfile.profile(probes: ["int3": int3, "fault": fault], cyclesPerNanosecond: 2, base: modern)
        #expect(abs(noFill[.trapInt3Fill] - 10_000) < 1e-6)
        #expect(noFill.sources[.trapInt3Fill]?.hasPrefix("not measured: the fill probe") == true)
        #expect(alone[.trapInt3Fill] == modern[.trapInt3])
    }

    @Test func codeWritesArePricedFromTheirProbes() throws {
        // Prices at 2 cycles/ns: trap_int3 10,000 cycles = 5 us, trap_pf 20,000 = 10 us, trap_wp 16,000 = 8 us,
        // scan_per_insn 50 = 25 ns.
        var costs = try #require(CostProfile.named("modern")).costs
        costs[.trapInt3] = 10_000; costs[.trapPF] = 20_000; costs[.trapWP] = 16_000; costs[.scanPerInsn] = 50
        let profile = CostProfile(name: "test", description: "hand-set prices", costs: costs)
        // write-sbe: 999 pf_write x 8 us = 7.992 ms, 2,002 call, ret and syscall x 5 us = 10.01 ms, 4,000
        // instructions scanned x 25 ns = 0.1 ms: 18.102 ms of an excess of 25.095 ms; 6.993 ms left, 7 us a write.
        let rewrite = LiveProbe(strategy: .sbe, counts: [.call: 1_000, .ret: 1_000, .pfWrite: 999, .syscall: 2],
                                monitoredWall: 0.026095, plainWall: 0.001, scanned: 4_000)
        // self-sbe: 1,000 pf_write = 8 ms, jmp and 2 syscalls = 0.015 ms, 6,000 scanned = 0.15 ms: 8.165 ms of
        // 38.165 ms; 30 ms left, 30 us a write.
        let selfSBE = LiveProbe(strategy: .sbe, counts: [.jmp: 1, .pfWrite: 1_000, .syscall: 2],
                                monitoredWall: 0.039165, plainWall: 0.001, scanned: 6_000)
        // self-nx: 1,000 pf_write = 8 ms, 1,002 pf_exec = 10.02 ms, 2 syscalls = 0.01 ms, 7,000 scanned =
        // 0.175 ms: 18.205 ms of 30.205 ms; 12 ms left, 12 us a write.
        let selfNX = LiveProbe(strategy: .pagefaultNX, counts: [.pfWrite: 1_000, .pfExec: 1_002, .syscall: 2],
                               monitoredWall: 0.031205, plainWall: 0.001, scanned: 7_000)
        #expect(abs(try #require(rewrite.secondsPerWrite(profile: profile, cyclesPerNanosecond: 2)) - 7e-6) < 1e-12)
        #expect(abs(try #require(selfSBE.secondsPerWrite(profile: profile, cyclesPerNanosecond: 2)) - 30e-6) < 1e-12)
        #expect(abs(try #require(selfNX.secondsPerWrite(profile: profile, cyclesPerNanosecond: 2)) - 12e-6) < 1e-12)
        // Counted causes dearer than the excess: 10 pf_write at 8 us in 50 us leave -3 us a write, kept
        // negative so that the prices plus it give the measured excess back. No pf_write: nothing to solve.
        let cheap = LiveProbe(strategy: .pagefaultNX, counts: [.pfWrite: 10], monitoredWall: 0.00105, plainWall: 0.001)
        #expect(abs(try #require(cheap.secondsPerWrite(profile: profile, cyclesPerNanosecond: 2)) + 3e-6) < 1e-12)
        #expect(LiveProbe(strategy: .sbe, counts: [.call: 5], monitoredWall: 1, plainWall: 0)
            .secondsPerWrite(profile: profile, cyclesPerNanosecond: 2) == nil)

        let writes = LiveProfile.writeCosts(probes: ["write-sbe": rewrite, "self-sbe": selfSBE, "self-nx": selfNX],
                                            profile: profile, cyclesPerNanosecond: 2)
        #expect(abs(writes.sbeRewrite - 7e-6) < 1e-12)
        // 10 pf_write of which 4 by a block on the page it wrote: sbe 6 x 7 us + 4 x 30 us = 162 us;
        // pagefault-nx 4 x 12 us = 48 us (its other writes are trap_wp's own probe's kind).
        #expect(abs(writes.seconds(.sbe, pfWrite: 10, selfWrites: 4) - 162e-6) < 1e-12)
        #expect(abs(writes.seconds(.pagefaultNX, pfWrite: 10, selfWrites: 4) - 48e-6) < 1e-12)
        #expect(writes.seconds(.sbe, pfWrite: 0, selfWrites: 0) == 0)
        // A probe missing (not run): its writes cost nothing beyond their causes.
        #expect(LiveProfile.writeCosts(probes: [:], profile: profile, cyclesPerNanosecond: 2) == LiveWriteCosts(sbeRewrite: 0, selfWrite: [.sbe: 0, .pagefaultNX: 0]))
    }

    @Test func writeProbesCountWhatTheyAreBuiltFor() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let probes = try LiveProfile.writeProbes(directory: scratch.path, iterations: 500)
        // The rewriting loop under sbe: the cross-page call and ret every iteration; the store faults from the
        // second iteration on (the page is scanned when the first call enters it); mprotect and exit.
        #expect(probes["write-sbe"]?.counts == [.call: 500, .ret: 500, .pfWrite: 499, .syscall: 2])
        // The self-writing loop: sbe traps the jmp onto its page, then each store; pagefault-nx faults on
        // _start's page and the loop's, then each store is a pf_write and its pf_exec at once.
        #expect(probes["self-sbe"]?.counts == [.jmp: 1, .pfWrite: 500, .syscall: 2])
        #expect(probes["self-nx"]?.counts == [.pfExec: 502, .pfWrite: 500, .syscall: 2])
        // Each store stepped, then its page rescanned from the instruction after it (dec, jnz, the exit's
        // three and the nop: 6 instructions), on top of the first scans.
        for name in ["self-sbe", "self-nx"] { #expect((probes[name]?.scanned ?? 0) >= 500 * 6, "\(name)") }
    }

    @Test func monitorStartIsMeasuredInTheWorkloadsModeAndRounds() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        // An i386 program (the exit probe itself, built with -m32: int $0x80) repeated 3 rounds under both
        // strategies, with the start probe asked for by its mode and run in the same rounds.
        let program = try LiveProfile.startProbe(directory: scratch.path + "/program", arch: .i386)
        var askedFor32Bit: Bool? = nil
        let repeated = try LiveRunner.run(program: program, arguments: [], strategies: LiveStrategy.allCases,
                                          shortRunRepetitions: 3, shortRun: .infinity, startProbe: {
            askedFor32Bit = $0
            return try LiveProfile.startProbe(directory: scratch.path + "/start", arch: $0 ? .i386 : .x86_64)
        })
        #expect(askedFor32Bit == true)
        #expect(repeated.is32Bit)
        #expect(FileManager.default.fileExists(atPath: scratch.path + "/start/live-probe-exit-i386"))
        // Each run kept is one of its runs, with that run's exact counts; every round is kept.
        #expect(repeated.strategy(.sbe)?.nonzero == [.syscall: 1])
        #expect(repeated.strategy(.pagefaultNX)?.nonzero == [.syscall: 1, .pfExec: 1])
        let probe = try #require(repeated.startProbe)
        #expect(probe.program == scratch.path + "/start/live-probe-exit-i386")
        #expect(probe.strategy(.pagefaultNX)?.nonzero == [.syscall: 1, .pfExec: 1])
        for strategy in LiveStrategy.allCases {
            #expect(repeated.rounds[strategy]?.count == 3)
            #expect(probe.rounds[strategy]?.count == 3)
            // The kept run is the median of the rounds' monitored walls.
            let walls = try #require(repeated.rounds[strategy]).map(\.monitored).sorted()
            #expect(repeated.strategy(strategy)?.times.wall == walls[1])
        }
        // Without repetitions: one round per strategy, the baseline the fastest of three plain runs, no probe.
        let once = try LiveRunner.run(program: program, arguments: [], strategies: [.sbe])
        #expect(once.rounds[.sbe]?.count == 1)
        #expect(once.startProbe == nil)
    }

    @Test func monitorPartsAreMeasured() throws {
        let stop = try LiveCosts.stopResumeSeconds(iterations: 2_000)
        let mprotect = try LiveCosts.mprotectSeconds(iterations: 2_000)
        let scan = try LiveCosts.scanSecondsPerInstruction(pages: 16, rounds: 1)
        // Bounds that only a broken timer misses: a ptrace stop is a context switch or two, a scan step a decode.
        #expect(stop > 1e-7 && stop < 1e-2, "\(stop)")
        #expect(mprotect > 1e-9 && mprotect < 1e-3, "\(mprotect)")
        #expect(scan.instructions > 16 * 16, "scans from 16 entries a page decode at least one instruction each")
        #expect(scan.seconds > 1e-10 && scan.seconds < 1e-4, "\(scan.seconds)")
    }

    @Test func fidelityMeasuresAndReportsTheLiveProfile() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let probes = try LiveProfile.probes(directory: scratch.path, iterations: 2_000, faultPages: 300)
        // The int3 loop: the cross-page call and the ret per iteration (the jcc stays on its scanned page),
        // plus the mprotect and exit syscalls.
        #expect(probes["int3"]?.counts == [.call: 2_000, .ret: 2_000, .syscall: 2])
        // The fault probe: pf_exec for _start's page and each of the 300 fresh pages; mmap, mprotect, exit.
        #expect(probes["fault"]?.counts == [.pfExec: 301, .syscall: 3])
        // The fill probe: 8 pages of 256 rets for 2,000 iterations (8 x 255 = 2,040 fills, the fewest pages
        // that give 2,000): pf_exec for _start's page and at the first ret of each page, int3_fill at the
        // 255 others; each fill's scan extension decodes its ret alone (2,048 rets and _start's page).
        #expect(probes["fill"]?.counts == [.pfExec: 9, .int3Fill: 2_040, .syscall: 3])
        #expect((probes["fill"]?.scanned ?? 0) > 2_048 && (probes["fill"]?.scanned ?? 0) < 2_048 + 2_048,
                "the rets, and at most a page of two-byte instructions of _start's page")
        // The rewriting loop: pf_exec for _start's page and the first call, then pf_write and pf_exec in
        // each of the other 1,999 iterations, plus the two syscalls.
        #expect(probes["write"]?.counts == [.pfExec: 2_001, .pfWrite: 1_999, .syscall: 2])
        let live = LiveProfile.profile(probes: probes, cyclesPerNanosecond: 1, base: CostProfile.named("modern")!)
        for key: CostKey in [.trapInt3, .trapPF, .trapInt3Fill] {
            #expect(live.sources[key]?.hasPrefix("measured:") == true, "\(key): \(live.sources[key] ?? "")")
        }
        // trap_wp is what is left of the write probe after its 2,001 pf_exec at trap_pf: on a loaded machine
        // that difference of two timings can come out negative, and then the key keeps modern's figure.
        #expect(live.sources[.trapWP]?.hasPrefix("measured:") == true || live[.trapWP] == CostProfile.named("modern")![.trapWP])

        let command = try WorkloadCatalog.crossPageCall(iterations: 10, arch: .x86_64).prepare(in: scratch.path + "/bin")
        let result = try Fidelity.run(program: command.program, arguments: [], directory: scratch.path)
        #expect(result.profile == "live")
        #expect(Fidelity.render(result).contains("(predicted under live: native + monitor start"))
        #expect(Fidelity.render(result).contains("profile live: cpi "))
        // The prediction: measured native + monitor start + the replay's cycles beyond native at the clock.
        let clock = try #require(result.cyclesPerNanosecond)
        let sbe = try #require(result.replay.strategy("sbe")?.estimate("live"))
        let overhead = (sbe.cycles - sbe.cycles / sbe.slowdown) / (clock * 1e9)
        #expect(abs(try #require(result.predictedOverhead(.sbe)) - overhead) < 1e-12)
        let start = try #require(result.monitorStart[.sbe])
        #expect(start >= 0)
        let native = result.live.native.wall
        #expect(abs(try #require(result.predictedSlowdown(.sbe)) - (native + start + overhead) / native) < 1e-9)
        #expect(result.replaySlowdown(.sbe) == sbe.slowdown)
    }
}
