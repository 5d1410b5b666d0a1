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
        let modern = try #require(CostProfile.named("modern"))
        let live = LiveProfile.profile(probes: ["int3": int3, "fault": fault, "write": write], scanPerInstruction: 25e-9,
                                       cyclesPerNanosecond: 2, base: modern)
        #expect(live.name == "live")
        #expect(abs(live[.trapInt3] - 10_000) < 1e-6)
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
        // The rewriting loop: pf_exec for _start's page and the first call, then pf_write and pf_exec in
        // each of the other 1,999 iterations, plus the two syscalls.
        #expect(probes["write"]?.counts == [.pfExec: 2_001, .pfWrite: 1_999, .syscall: 2])
        let live = LiveProfile.profile(probes: probes, cyclesPerNanosecond: 1, base: CostProfile.named("modern")!)
        for key: CostKey in [.trapInt3, .trapPF] {
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
