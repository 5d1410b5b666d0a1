import CostModel
import Replay
import Testing
import TraceModel

/// dbt-qemu (docs/strategies.md, "dbt-qemu"): direct exits chained only within the 4 KiB page of the block's
/// first byte, other exits through a TB lookup, the dispatcher only when the target is not translated.
@Suite struct QEMUChainingTests {
    /// The worked example of docs/strategies.md section 6, worked by hand:
    ///
    ///     B0 = 0x400000 [mov; call far_func]   BL = 0x400005 [call far_func]   F = 0x401000 [ret]
    ///     B1 = 0x40000A [dec; jnz BL]          BE = 0x40000E [mov; xor; syscall]
    ///     executed: B0 F B1 (BL F B1)^(N-1) BE
    ///
    /// - B0 starts in the dispatcher: dispatch 1.
    /// - B0 -> F: a call to page 0x401000, not B0's page: TB lookup; F is not translated yet: dispatch 1.
    /// - F -> B1: a ret, TB lookup; B1 is not translated yet: dispatch 1.
    /// - B1 -> BL (jnz taken, N-1 times): BL is on B1's page, chained: the first time dispatch 1 + link 1
    ///   (BL not translated), then free.
    /// - BL -> F (N-1 times): cross-page call, F translated: tb_lookup N-1.
    /// - F -> B1 (N-1 more times): ret, B1 translated: tb_lookup N-1.
    /// - B1 -> BE (jnz not taken, once): same page, chained: dispatch 1 + link 1.
    /// - BE ends in syscall: dispatch_syscall 1.
    /// So dispatch 5, link 2, tb_lookup 2(N-1), dispatch_syscall 1: 6 monitor entries whatever N.
    @Test(arguments: [3, 10])
    func workedExample(n: Int) throws {
        let N = UInt64(n)
        let results = try WorkedExample.script(n: n).replay(["dbt-qemu"])
        let qemu = try #require(results.strategy("dbt-qemu"))
        #expect(qemu.nonzero == [.dispatch: 5, .link: 2, .tbLookup: 2 * (N - 1), .dispatchSyscall: 1])
        #expect(qemu.traps == 6)
        #expect(qemu.translations == 5 && qemu.translated == 9)
        #expect(qemu.parameters == ["page-size": "4096", "code-cache": "0"])
        // Sites: the lookups at the call of label 1 (BL's, N-1) and at F's ret (N-1); B0's call dispatches.
        #expect(qemu.sites.first { $0.address == WorkedExample.bl }?.counts == [.tbLookup: N - 1, .dispatch: 1])
        #expect(qemu.sites.first { $0.address == WorkedExample.far }?.counts == [.tbLookup: N - 1, .dispatch: 1])
    }

    /// A two-page bounce: A = 0x400000 `jmp B`; B = 0x401000 `dec %ecx; jnz A`, falling through to
    /// X = 0x401004 `syscall`. Executed: (A B)^N X: 2N+1 blocks, 3N+1 instructions.
    static func bounce(_ n: Int) -> TraceScript {
        var script = TraceScript()
        script.place(0x400000, jmp(0x400000, 0x401000))
        script.place(0x401000, decEcx + [0x0F, 0x85] + rel32(from: 0x401002, length: 6, to: 0x400000) + syscall)
        for _ in 0..<n { script.exec([0x400000, 0x401000]) }
        script.exec(0x401008)
        return script
    }

    /// Every exit of the bounce but the last crosses a page.
    /// - dbt-qemu: entry dispatch 1; A -> B: the first time B is untranslated (dispatch), then tb_lookup N-1;
    ///   B -> A (jnz taken, N-1 times): A is translated from the start, tb_lookup N-1; B -> X falls through on
    ///   B's page: chained, dispatch 1 + link 1; X's syscall: dispatch_syscall 1.
    /// - dbt-link: entry 1; A -> B, B -> A, B -> X each dispatch and link once.
    /// - dbt-nolink: entry 1 + every one of the 2N exits; the syscall.
    /// - sbe: A's jmp leaves the page (jmp N), B's jcc has its target off the page (jcc N), the syscall.
    @Test(arguments: [4, 1000])
    func twoPageBounce(n: Int) throws {
        let N = UInt64(n)
        let results = try Self.bounce(n).replay(["sbe", "dbt-nolink", "dbt-link", "dbt-qemu"])
        #expect(results.summary.blocks == 2 * N + 1 && results.summary.instructions == 3 * N + 1)
        let qemu = try #require(results.strategy("dbt-qemu"))
        #expect(qemu.nonzero == [.dispatch: 3, .link: 1, .tbLookup: 2 * (N - 1), .dispatchSyscall: 1])
        #expect(try #require(results.strategy("dbt-link")).nonzero == [.dispatch: 4, .link: 3, .dispatchSyscall: 1])
        #expect(try #require(results.strategy("dbt-nolink")).nonzero == [.dispatch: 2 * N + 1, .dispatchSyscall: 1])
        #expect(try #require(results.strategy("sbe")).nonzero == [.jmp: N, .jcc: N, .syscall: 1])
    }

    /// The cost formula of docs/strategies.md section 4 on the bounce (N = 4: 13 instructions, 9 blocks,
    /// 4 translated instructions), each translator kind at its own keys.
    @Test func translatedCodeIsChargedAtTheStrategysTranslatorKind() throws {
        let profile = CostProfile(name: "p", description: "", costs: [
            .cpi: 2, .dispatch: 50, .link: 7, .translatePerInsn: 20, .ibtcHit: 3,
            .tcSameISA: 1.5, .blockSameISA: 4, .tcCrossISA: 3, .blockCrossISA: 5, .tbLookup: 11])
        let results = try ReplayEngine.run(source: Self.bounce(4).trace, path: "b",
                                           strategies: ["native", "sbe", "dbt-link", "dbt-qemu"], profiles: [profile])
        let native = 13.0 * 2
        #expect(results.strategy("native")?.estimate("p")?.cycles == native)
        // sbe runs the guest's own code: no factor, no block cost; its traps cost trap_int3 = 0 here.
        #expect(results.strategy("sbe")?.estimate("p")?.cycles == native)
        // dbt-link: 13 x 2 x 1.5 + 9 x 4 + (4 + 1) dispatches x 50 + 3 links x 7 + 4 translated x 20.
        let link = try #require(results.strategy("dbt-link")?.estimate("p"))
        #expect(link.cycles == 39 + 36 + 250 + 21 + 80)
        // dbt-qemu: 13 x 2 x 3 + 9 x 5 + (3 + 1) x 50 + 1 x 7 + 6 tb_lookup x 11 + 4 x 20.
        let qemu = try #require(results.strategy("dbt-qemu")?.estimate("p"))
        #expect(qemu.cycles == 78 + 45 + 200 + 7 + 66 + 80)
        #expect(qemu.slowdown == qemu.cycles / native)
    }

    /// dbt-qemu joins the dbt family: alongside the other variants it counts what it counts alone, on the
    /// family's scripts (code writes, flushes, two threads).
    @Test func countsAloneEqualCountsTogether() throws {
        for (name, script, parameters) in BinaryTranslationFamilyTests.scripts {
            let alone = try #require(try script.replay(["dbt-qemu"], parameters).strategy("dbt-qemu"))
            for selection in [["dbt-link", "dbt-qemu"], ["dbt-ibtc", "dbt-qemu", "dbt-nolink"], ["all"]] {
                let together = try #require(try script.replay(selection, parameters).strategy("dbt-qemu"))
                #expect(together.counts == alone.counts, "\(name) among \(selection)")
                #expect(together.sites == alone.sites, "\(name) among \(selection)")
            }
        }
    }
}
