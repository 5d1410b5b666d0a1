import CostModel
import Foundation
import Replay
import Testing

/// The committed recording of the corpus workload shaped like plex86's 2001 testbed (micro-xpage-bounce-32,
/// Sources/Workloads/CorpusMicro.swift): counts worked by hand, and the pentium3 predictions that
/// docs/strategies.md section 4 and docs/reproductions.md set next to the testbed's 76:1 and 7:1.
@Suite struct TestbedBounceTests {
    static let trace = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Traces/micro-xpage-bounce-32.plextrace").standardized.path

    /// `_start` [mov; jmp a0] on its own page; page A: a0..a7, each `jmp b_i`; page B: b0..b6, each
    /// `jmp a_i+1`, and b7 [dec; jnz a0], then the exit [mov; xor; int $0x80] on page B.
    /// 12,500 passes of 16 blocks and 17 instructions, plus `_start` and the exit:
    /// 200,002 blocks, 2 + 212,500 + 3 = 212,505 instructions.
    @Test func countsWorkedByHand() throws {
        let results = try ReplayEngine.run(tracePath: Self.trace, strategies: ["sbe", "dbt-nolink", "dbt-link", "dbt-qemu"])
        #expect(results.summary.blocks == 200_002 && results.summary.instructions == 212_505)
        // sbe: every jmp leaves its page (100,000 on A, 87,500 on B, _start's), b7's jcc targets page A.
        #expect(try #require(results.strategy("sbe")).nonzero == [.jmp: 187_501, .jcc: 12_500, .syscall: 1])
        // dbt-nolink: the entry and every one of the 200,001 exits but the final int $0x80.
        #expect(try #require(results.strategy("dbt-nolink")).nonzero == [.dispatch: 200_002, .dispatchSyscall: 1])
        // dbt-link: 18 distinct direct edges (_start->a0, 8 a_i->b_i, 7 b_i->a_i+1, b7->a0, b7->exit), each
        // dispatched and linked once, plus the entry.
        #expect(try #require(results.strategy("dbt-link")).nonzero == [.dispatch: 19, .link: 18, .dispatchSyscall: 1])
        // dbt-qemu: only b7->exit stays on its page (chained: dispatch + link once). The other 17 edges'
        // first uses find their target untranslated (dispatch); the remaining 200,001 - 17 - 1 exits are lookups.
        #expect(try #require(results.strategy("dbt-qemu")).nonzero == [.dispatch: 18, .link: 1, .tbLookup: 199_984,
                                                                          .dispatchSyscall: 1])
    }

    /// On pentium3 the two translators land within 2x of the testbed's ratios (76:1 every branch through a
    /// handler, 7.25:1 with backpatched direct branches) from the profile's sources alone:
    /// dbt-nolink per block cpi 1 + block_same_isa 4 + dispatch 80, dbt-link cpi 1 + block_same_isa 4.
    @Test func pentium3PredictionsLandWithinTwiceTheTestbed() throws {
        let results = try ReplayEngine.run(tracePath: Self.trace, strategies: ["dbt-nolink", "dbt-link"],
                                           profiles: [CostProfile.pentium3])
        let nolink = try #require(results.strategy("dbt-nolink")?.estimate("pentium3")?.slowdown)
        let link = try #require(results.strategy("dbt-link")?.estimate("pentium3")?.slowdown)
        // dbt-nolink: 212,505 + 200,002 x 4 + (200,002 + 1) x 80 + 22 translated x 300, over 212,505.
        #expect(abs(nolink - (212_505 + 800_008 + 16_000_240 + 6_600) / 212_505) < 1e-9)
        // dbt-link: 212,505 + 800,008 + 20 x 80 + 18 x 150 + 6,600, over 212,505.
        #expect(abs(link - (212_505 + 800_008 + 1_600 + 2_700 + 6_600) / 212_505) < 1e-9)
        #expect(nolink / (54.68 / 0.72) > 0.5 && nolink / (54.68 / 0.72) < 2)
        #expect(link / (5.22 / 0.72) > 0.5 && link / (5.22 / 0.72) < 2)
    }
}
