import Testing
import Replay
import TraceModel

/// Small hand-made traces pinning each trap cause; expected counts are worked out in the comments.
@Suite struct TrapCauseTests {
    /// 0x400FFA: mov $1,%eax ; nop — ends exactly at the page end (split); 0x401000: syscall.
    @Test func sequentialCrossingIntoTheNextPage() throws {
        var script = TraceScript()
        script.place(0x400FFA, [0xB8, 1, 0, 0, 0] + nop)
        script.place(0x401000, syscall)
        script.exec([0x400FFA, 0x401000])
        let results = try script.replay()
        #expect(results.strategy("sbe")?.nonzero == [.pageCross: 1, .syscall: 1])
        #expect(results.strategy("sbe")?.sites.first { $0.address == 0x400FFF }?.counts == [.pageCross: 1])
        #expect(results.strategy("pagefault-nx")?.nonzero == [.pfExec: 2, .syscall: 1])
        // Entry, the split edge's first traversal (then linked), the exit syscall.
        #expect(results.strategy("dbt-link")?.nonzero == [.dispatch: 2, .link: 1, .dispatchSyscall: 1])
    }

    /// 0x400FFD: mov $1,%eax straddles into the next page (a one-instruction block); 0x401002: syscall.
    @Test func instructionStraddlingThePageEnd() throws {
        var script = TraceScript()
        script.place(0x400FFD, [0xB8, 1, 0, 0, 0])
        script.place(0x401002, syscall)
        script.exec([0x400FFD, 0x401002])
        let results = try script.replay(["sbe", "pagefault-nx"])
        // The scan cannot decode the straddler: it is trapped (page_cross) and emulated, once.
        let sbe = try #require(results.strategy("sbe"))
        #expect(sbe.nonzero == [.pageCross: 1, .syscall: 1])
        #expect(sbe.scanned == 2)  // page A: nothing; page B: syscall, then the hlt filler
        #expect(results.strategy("pagefault-nx")?.nonzero == [.pfExec: 2, .pageCross: 1, .syscall: 1])
        // With 2 MiB pages nothing straddles: one page, one scan.
        let huge = try ScriptReplay(script, ["sbe"], ["page-size=2097152"]).result("sbe")
        #expect(huge.nonzero == [.syscall: 1])
    }

    /// 0x400000 J: test %eax,%eax ; jz 0x401000 | 0x400008 X: syscall | 0x401000 T: jmp 0x400000.
    /// Executed J T J X: the jcc is taken, then not taken.
    @Test func jccToAnotherPageTrapsTakenAndNotTaken() throws {
        var script = TraceScript()
        script.place(0x400000, [0x85, 0xC0, 0x0F, 0x84] + rel32(from: 0x400002, length: 6, to: 0x401000) + syscall)
        script.place(0x401000, jmp(0x401000, 0x400000))
        script.exec([0x400000, 0x401000, 0x400000, 0x400008])
        let results = try script.replay()
        #expect(results.strategy("sbe")?.nonzero == [.jcc: 2, .jmp: 1, .syscall: 1])
        #expect(results.strategy("pagefault-nx")?.nonzero == [.pfExec: 2, .syscall: 1])
        // Entry; J->T taken, T->J, J->X not taken: three edges, each dispatched once and linked.
        #expect(results.strategy("dbt-link")?.nonzero == [.dispatch: 4, .link: 3, .dispatchSyscall: 1])
        #expect(results.strategy("dbt-nolink")?.nonzero == [.dispatch: 4, .dispatchSyscall: 1])
    }

    /// A jcc whose target stays on its page but whose fall-through is the next page traps under sbe.
    /// 0x400FF0: nop ; jmp 0x400FFE | 0x400FFE: jz 0x400FF0 (the page's last instruction) | 0x401000: syscall.
    @Test func jccFallingThroughIntoTheNextPage() throws {
        var script = TraceScript()
        script.place(0x400FF0, nop + [0xEB, 0x0B])
        script.place(0x400FFE, [0x74, 0xF0])
        script.place(0x401000, syscall)
        // The jz is taken once, then not taken: it traps both times.
        script.exec([0x400FF0, 0x400FFE, 0x400FF0, 0x400FFE, 0x401000])
        let sbe = try #require(try script.replay(["sbe"]).strategy("sbe"))
        #expect(sbe.nonzero == [.jcc: 2, .syscall: 1])
    }

    /// 0x400000 X: mov $0x400100,%eax ; jmp *%rax | 0x400100 Y: syscall — Y lies beyond the scan's reach.
    @Test func indirectTargetOutsideCoverage() throws {
        var script = TraceScript()
        script.place(0x400000, [0xB8, 0x00, 0x01, 0x40, 0x00] + jmpRax)
        script.place(0x400100, syscall)
        script.exec([0x400000, 0x400100])
        let results = try script.replay()
        let sbe = try #require(results.strategy("sbe"))
        #expect(sbe.nonzero == [.jmpInd: 1, .syscall: 1])
        // Scan from X: mov, jmp; extension from Y: syscall, then the hlt filler.
        #expect(sbe.scans == 2 && sbe.scanned == 4)
        let nx = try #require(results.strategy("pagefault-nx"))
        #expect(nx.nonzero == [.pfExec: 1, .int3Fill: 1, .syscall: 1])
        #expect(nx.scans == 2 && nx.scanned == 4)
        // Y is one instruction: its start (int3_fill) and its exit (syscall) are the same site.
        #expect(nx.sites.first { $0.address == 0x400100 }?.counts == [.int3Fill: 1, .syscall: 1])
        #expect(results.strategy("dbt-ibtc")?.nonzero == [.dispatch: 2, .dispatchSyscall: 1])
        #expect(results.strategy("hw")?.nonzero == [:])
    }

    /// Worked example, N=3, with stores to far_func's page: after block 2 (page B scanned/translated:
    /// pf_write), after block 3 (page B already discarded: no trap), after block 5 (B again: pf_write).
    @Test func storesToScannedTranslatedAndUntranslatedPages() throws {
        let script = WorkedExample.script(n: 3) { script, index in
            if [2, 3, 5].contains(index) { script.codeWrite(WorkedExample.far + 0x10, size: 4) }
        }
        let results = try script.replay()
        let sbe = try #require(results.strategy("sbe"))
        #expect(sbe.nonzero == [.call: 3, .ret: 3, .syscall: 1, .pfWrite: 2])
        // Page B is rescanned at blocks 4 and 7.
        #expect(sbe.scans == 4 && sbe.scanned == 11)
        #expect(sbe.sites.first { $0.address == WorkedExample.b1 }?.counts == [.pfWrite: 2])
        let nx = try #require(results.strategy("pagefault-nx"))
        #expect(nx.nonzero == [.pfExec: 4, .pfWrite: 2, .syscall: 1])
        // F is invalidated twice and retranslated; the BL->F link goes stale once and is relinked.
        let link = try #require(results.strategy("dbt-link"))
        #expect(link.nonzero == [.dispatch: 9, .link: 5, .pfWrite: 2, .dispatchSyscall: 1])
        #expect(link.translations == 7)
        let ibtc = try #require(results.strategy("dbt-ibtc"))
        #expect(ibtc.nonzero == [.dispatch: 7, .link: 5, .rasHit: 2, .pfWrite: 2, .dispatchSyscall: 1])
    }

    /// A block storing to its own page: B1 (on page A) writes page A in the last iteration.
    @Test func storeToTheWritersOwnPage() throws {
        let script = WorkedExample.script(n: 3) { script, index in
            if index == 8 { script.codeWrite(0x400100, size: 1) }
        }
        let results = try script.replay()
        let sbe = try #require(results.strategy("sbe"))
        #expect(sbe.nonzero == [.call: 3, .ret: 3, .syscall: 1, .pfWrite: 1])
        // BE rescans page A from 0x40000E: mov xor syscall hlt.
        #expect(sbe.scans == 3 && sbe.scanned == 13)
        let nx = try #require(results.strategy("pagefault-nx"))
        // The writer resumes on the page it made untranslated: one more pf_exec, BE's scan is then free.
        #expect(nx.nonzero == [.pfExec: 3, .pfWrite: 1, .syscall: 1])
        #expect(nx.scanned == 13)
        // B1's translation is discarded while it runs: its exit to BE goes to the dispatcher, unlinked.
        let link = try #require(results.strategy("dbt-link"))
        #expect(link.nonzero == [.dispatch: 8, .link: 3, .pfWrite: 1, .dispatchSyscall: 1])
    }

    /// Worked example, N=3, with data touches: after B0, page 0x600000 (2 reads, 1 write) and far_func's
    /// page before it ever ran (1 read); after B1, 0x600000 again (1 read).
    static func dataScript() -> TraceScript {
        WorkedExample.script(n: 3) { script, index in
            if index == 0 {
                script.dataTouch(0x600000, reads: 2, writes: 1)
                script.dataTouch(WorkedExample.far, reads: 1, writes: 0)
            }
            if index == 2 { script.dataTouch(0x600000, reads: 1, writes: 0) }
            if index == 1 { script.dataTouch(WorkedExample.far, reads: 1, writes: 0) }
        }
    }

    @Test func dataTouchesUnderNotPresent() throws {
        let legacy = try #require(try Self.dataScript().replay(["pagefault-legacy"]).strategy("pagefault-legacy"))
        // 3 + 1 (far_func's page, untranslated) + 1; the touch while F runs hits a translated page.
        #expect(legacy.nonzero == [.pfData: 5, .pfExec: 2, .syscall: 1])
        #expect(legacy.parameters == ["page-size": "4096", "legacy-policy": "not-present"])
        #expect(legacy.pages.first { $0.page == 0x600000 }?.counts == [.pfData: 4])
    }

    @Test func dataTouchesUnderMapData() throws {
        let legacy = try #require(try Self.dataScript().replay(["pagefault-legacy"], ["legacy-policy=map-data"])
            .strategy("pagefault-legacy"))
        // Two pages mapped on first touch; far_func's page was mapped for data before it ran, so every
        // entry into it (3) escapes and it is never translated.
        #expect(legacy.nonzero == [.dataMap: 2, .escapes: 3, .pfExec: 1, .syscall: 1])
        #expect(legacy.traps == 4)
        #expect(legacy.scanned == 8)
        // pagefault-nx ignores data touches.
        #expect(try Self.dataScript().replay(["pagefault-nx"]).strategy("pagefault-nx")?.nonzero == [.pfExec: 2, .syscall: 1])
    }

    /// 0x400000 X: jmp *%rax, alternating between T1 = 0x400100 and T2 = 0x400200 (each jmp 0x400000).
    @Test(arguments: [(4096, 2, 3), (256, 5, 0)])
    func ibtcConflicts(size: Int, misses: UInt64, hits: UInt64) throws {
        var script = TraceScript()
        script.place(0x400000, jmpRax)
        script.place(0x400100, jmp(0x400100, 0x400000))
        script.place(0x400200, jmp(0x400200, 0x400000))
        script.exec([0x400000, 0x400100, 0x400000, 0x400200, 0x400000, 0x400100, 0x400000, 0x400200, 0x400000, 0x400100])
        let ibtc = try #require(try script.replay(["dbt-ibtc", "sbe"], ["ibtc-size=\(size)"]).strategy("dbt-ibtc"))
        // Entry + misses + the first traversal of T1->X and T2->X (then linked). With 256 entries both
        // targets map to index 0 and evict each other.
        var expected: [TrapCause: UInt64] = [.dispatch: 1 + misses + 2, .link: 2]
        if hits > 0 { expected[.ibtcHit] = hits }
        #expect(ibtc.nonzero == expected)
        #expect(ibtc.parameters["ibtc-size"] == "\(size)")
    }

    /// 0x400000 L: call f1 | 0x400005 J: dec %ecx ; jnz L | 0x400009 X: syscall
    /// f1 = 0x400100: call f2 ; ret | f2 = 0x400200: call f3 ; ret | f3 = 0x400300: ret. Two iterations.
    @Test(arguments: [(16, 3, 0), (2, 2, 1)])
    func returnStackOverflowDropsTheOldest(depth: Int, rasHits: UInt64, ibtcHits: UInt64) throws {
        var script = TraceScript()
        script.place(0x400000, call(0x400000, 0x400100) + decEcx + [0x75, 0xF7] + syscall)
        script.place(0x400100, call(0x400100, 0x400200) + ret)
        script.place(0x400200, call(0x400200, 0x400300) + ret)
        script.place(0x400300, ret)
        let round: [UInt64] = [0x400000, 0x400100, 0x400200, 0x400300, 0x400205, 0x400105, 0x400005]
        script.exec(round + round + [0x400009])
        let ibtc = try #require(try script.replay(["dbt-ibtc"], ["ras-depth=\(depth)"]).strategy("dbt-ibtc"))
        // Entry, 5 direct edges (3 calls, jnz taken, jnz not taken), 3 first-round returns to untranslated code.
        // Second round: depth 16 predicts all 3 returns; depth 2 lost the oldest (J), whose return then
        // hits the IBTC entry the first round filled.
        var expected: [TrapCause: UInt64] = [.dispatch: 9, .link: 5, .rasHit: rasHits, .dispatchSyscall: 1]
        if ibtcHits > 0 { expected[.ibtcHit] = ibtcHits }
        #expect(ibtc.nonzero == expected)
    }

    /// Worked example, N=3, code cache of 4 instructions: B0(2) F(1) fill 3; B1(2) flushes; B1 BL F fill 4;
    /// BE(3) flushes again.
    @Test func codeCacheFlush() throws {
        let results = try WorkedExample.script(n: 3).replay(["dbt-nolink", "dbt-link"], ["code-cache=4"])
        let nolink = try #require(results.strategy("dbt-nolink"))
        #expect(nolink.nonzero == [.dispatch: 10, .flush: 2, .dispatchSyscall: 1])
        #expect(nolink.translations == 6 && nolink.translated == 10)
        let link = try #require(results.strategy("dbt-link"))
        // B0->F, B1->BL, BL->F linked; B1->BE's source is flushed by BE's own translation: not linked.
        #expect(link.nonzero == [.dispatch: 8, .link: 3, .flush: 2, .dispatchSyscall: 1])
        #expect(link.parameters == ["page-size": "4096", "code-cache": "4"])
    }

    /// cpuid (0F A2) and pushf (9C) are sensitive; only cpuid exits under hardware assist.
    @Test func sensitiveInstructionsAndCPUID() throws {
        var script = TraceScript()
        script.place(0x400000, [0x0F, 0xA2, 0x9C] + syscall)
        script.exec([0x400000, 0x400000])
        let results = try script.replay()
        #expect(results.strategy("hw")?.nonzero == [.vmexit: 2])
        #expect(results.strategy("sbe")?.nonzero == [.sensitive: 4, .syscall: 2])
        #expect(results.strategy("pagefault-nx")?.nonzero == [.pfExec: 1, .sensitive: 4, .syscall: 2])
        #expect(results.strategy("dbt-nolink")?.nonzero == [.dispatch: 1, .dispatchSyscall: 2])
    }

    /// Two threads share pages and caches; each has its own return stack and previous block.
    @Test func threadsShareCachesButNotState() throws {
        var script = TraceScript()
        script.place(0x400000, call(0x400000, 0x401000) + syscall)
        script.place(0x401000, ret)
        script.exec([0x400000, 0x401000], thread: 1)
        script.exec([0x400000], thread: 2)
        script.exec([0x400005], thread: 1)
        script.exec([0x401000, 0x400005], thread: 2)
        let results = try script.replay()
        #expect(results.summary.threads == 2)
        // Pages translated by thread 1 are translated for thread 2.
        #expect(results.strategy("pagefault-nx")?.nonzero == [.pfExec: 2, .syscall: 2])
        // Two entries, B->F linked once, thread 1's ret dispatches (return point untranslated), thread 2's
        // ret hits its own return stack.
        #expect(results.strategy("dbt-ibtc")?.nonzero == [.dispatch: 4, .link: 1, .rasHit: 1, .dispatchSyscall: 2])
    }
}

/// Replays a script and returns one strategy's result.
struct ScriptReplay {
    let results: TraceResults
    init(_ script: TraceScript, _ strategies: [String], _ parameters: [String] = []) throws {
        results = try script.replay(strategies, parameters)
    }
    func result(_ name: String) throws -> StrategyResult { try #require(results.strategy(name)) }
}
