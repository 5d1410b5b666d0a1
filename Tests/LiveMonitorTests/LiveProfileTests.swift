import CostModel
import Fidelity
import Foundation
import LiveMonitor
import Testing
import Workloads

/// The live profile: cost per monitor entry from timings, and the profile fidelity measures and uses.
@Suite(.serialized) struct LiveProfileTests {
    @Test func costPerTrapIsTheMonitoredExcessOverTraps() throws {
        // 60,000 traps made a 1 ms program take 301 ms: 300 ms / 60,000 = 5 us per trap; at 2 cycles/ns
        // that is 10,000 cycles.
        let int3 = LiveProbe(strategy: .sbe, traps: 60_000, monitoredWall: 0.301, plainWall: 0.001)
        #expect(abs(try #require(int3.secondsPerTrap) - 5e-6) < 1e-15)
        // 40,000 faults added 0.4 s: 10 us each, 20,000 cycles.
        let fault = LiveProbe(strategy: .pagefaultNX, traps: 40_000, monitoredWall: 0.402, plainWall: 0.002)
        let modern = try #require(CostProfile.named("modern"))
        let live = LiveProfile.profile(probes: [int3, fault], cyclesPerNanosecond: 2, base: modern)
        #expect(live.name == "live")
        #expect(abs(live[.trapInt3] - 10_000) < 1e-6)
        #expect(abs(live[.trapPF] - 20_000) < 1e-6)
        #expect(abs(live[.trapWP] - 20_000) < 1e-6)
        #expect(live[.cpi] == modern[.cpi])
        #expect(live[.scanPerInsn] == modern[.scanPerInsn])
        #expect(live.sources[.trapInt3]?.hasPrefix("measured: (monitored 0.3010 s - plain 0.0010 s) / 60000 traps") == true)

        // Nothing measurable (no traps, or not slower): the key keeps the base's figure.
        #expect(LiveProbe(strategy: .sbe, traps: 0, monitoredWall: 1, plainWall: 0).secondsPerTrap == nil)
        let slower = LiveProbe(strategy: .sbe, traps: 10, monitoredWall: 0.001, plainWall: 0.002)
        #expect(slower.secondsPerTrap == nil)
        #expect(LiveProfile.profile(probes: [slower], cyclesPerNanosecond: 2, base: modern)[.trapInt3] == modern[.trapInt3])
    }

    @Test func fidelityMeasuresAndReportsTheLiveProfile() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let probes = try LiveProfile.probes(directory: scratch.path, iterations: 2_000)
        // The int3 loop: the cross-page call and the ret per iteration (the jcc stays on its scanned page),
        // plus the mprotect and exit syscalls.
        let int3 = try #require(probes.first { $0.strategy == .sbe })
        #expect(int3.traps == 2 * 2_000 + 2)
        // The rewriting loop: pf_exec for _start's page and the first call, then pf_write and pf_exec in
        // each of the other 1,999 iterations, plus the two syscalls: 2 + 3,998 + 2.
        let fault = try #require(probes.first { $0.strategy == .pagefaultNX })
        #expect(fault.traps == 2 * 2_000 + 2)
        let live = LiveProfile.profile(probes: probes, cyclesPerNanosecond: 1, base: CostProfile.named("modern")!)
        for key: CostKey in [.trapInt3, .trapPF, .trapWP, .scanPerInsn] { #expect(live[key] > 0, "\(key)") }
        #expect(live.sources[.trapInt3]?.hasPrefix("measured:") == true)
        #expect(live.sources[.trapPF]?.hasPrefix("measured:") == true)

        let command = try WorkloadCatalog.crossPageCall(iterations: 10, arch: .x86_64).prepare(in: scratch.path + "/bin")
        let result = try Fidelity.run(program: command.program, arguments: [], directory: scratch.path)
        #expect(result.profile == "live")
        #expect(Fidelity.render(result).contains("replay predicted under live"))
        #expect(Fidelity.render(result).contains("profile live: cpi "))
    }
}
