import CostModel
import Fidelity
import Foundation
import LiveMonitor
import Replay
import Reports
import Testing
import Workloads

/// The fidelity comparison catches a replay that counts by the wrong rule.
@Suite(.serialized) struct FidelityTests {
    @Test func aWrongReplayRuleIsCaught() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let command = try WorkloadCatalog.crossPageCall(iterations: 10, arch: .x86_64).prepare(in: scratch.path)
        let result = try Fidelity.run(program: command.program, arguments: [], directory: scratch.path)
        #expect(result.mismatches.isEmpty)
        #expect(result.rows.filter { $0.replay != 0 } == [
            FidelityRow(strategy: .sbe, cause: .call, replay: 10, live: 10),
            FidelityRow(strategy: .sbe, cause: .ret, replay: 10, live: 10),
            FidelityRow(strategy: .sbe, cause: .syscall, replay: 1, live: 1),
            FidelityRow(strategy: .pagefaultNX, cause: .syscall, replay: 1, live: 1),
            FidelityRow(strategy: .pagefaultNX, cause: .pfExec, replay: 2, live: 2),
        ])

        // `plexlab fidelity --json` read back by `plexlab report --fidelity`: the same rows and slowdowns.
        let report = try ReportFidelity.parse(Data(try Fidelity.json(result).utf8), path: "fidelity.json")
        #expect(report.command == command.program)
        #expect(report.rows.filter { $0.replay != 0 } == result.rows.filter { $0.replay != 0 }.map {
            ReportFidelity.Row(strategy: $0.strategy.rawValue, cause: $0.cause.rawValue, replay: $0.replay, live: $0.live)
        })
        #expect(report.slowdowns == [LiveStrategy.sbe, .pagefaultNX].map {
            ReportFidelity.Slowdown(strategy: $0.rawValue, predicted: result.predictedSlowdown($0), measured: result.live.slowdown($0))
        })
        #expect(report.profile == result.profile)

        // A replay configured with a rule the live monitor does not follow: 2 MiB pages make the call
        // stay on its page (no call traps) and both code pages one (one pf_exec).
        let trace = scratch.path + "/fidelity.plextrace"
        let hugePages = try ReplayEngine.run(tracePath: trace, strategies: ["sbe", "pagefault-nx"],
                                             parameters: ReplayParameters(arguments: ["page-size=2097152"]))
        let wrong = Fidelity.compare(replay: hugePages, live: result.live, profile: "modern")
        #expect(wrong.mismatches == [
            FidelityRow(strategy: .sbe, cause: .call, replay: 0, live: 10),
            FidelityRow(strategy: .pagefaultNX, cause: .pfExec, replay: 1, live: 2),
        ])

        // A forged rule: a replay that miscounts one cause by one.
        var forged = result.replay
        let index = try #require(forged.strategies.firstIndex { $0.name == "sbe" })
        forged.strategies[index].counts[.ret]! += 1
        let caught = Fidelity.compare(replay: forged, live: result.live, profile: "modern")
        #expect(caught.mismatches == [FidelityRow(strategy: .sbe, cause: .ret, replay: 11, live: 10)])
    }

    /// The prediction prices an int3_fill at trap_int3_fill, not at trap_int3 (docs/live.md section 3).
    /// HandWorkedTests' jump table under pagefault-nx: pf_exec 2, int3_fill 3, syscall 1. At trap_pf 2,000,
    /// trap_int3_fill 250, trap_int3 1,000 cycles and a free scan: 2 x 2,000 + 3 x 250 + 1,000 = 5,750 cycles
    /// (8,000 if the fills were priced as site traps).
    @Test func fillsArePricedAtTheirOwnKey() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let program = try scratch.assemble("jumptable", HandWorkedTests.jumpTable, arch: .x86_64)
        var costs = try #require(CostProfile.named("modern")).costs
        costs[.trapInt3] = 1_000; costs[.trapInt3Fill] = 250; costs[.trapPF] = 2_000; costs[.scanPerInsn] = 0
        let profile = CostProfile(name: "hand", description: "hand-set prices", costs: costs)
        let result = try Fidelity.run(program: program, arguments: [], strategies: [.pagefaultNX], profile: profile,
                                      directory: scratch.path, timing: false)
        #expect(result.mismatches.isEmpty)
        #expect(result.replay.strategy("pagefault-nx")?.counts.filter { $0.value != 0 } == [.pfExec: 2, .int3Fill: 3, .syscall: 1])
        let clock = try #require(result.cyclesPerNanosecond)
        let overhead = try #require(result.predictedOverhead(.pagefaultNX))
        #expect(abs(overhead - 5_750 / (clock * 1e9)) < 1e-15, "\(overhead * clock * 1e9) cycles")
        #expect(result.profileCosts.contains { $0.key == .trapInt3Fill && $0.cycles == 250 })
    }
}
