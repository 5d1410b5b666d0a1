import Replay
import Testing
import TraceModel

/// The dbt variants of one replay share a code cache, link slots and one per-block loop
/// (`BinaryTranslationFamily`): whichever of them run, in whatever order and among whatever other
/// strategies, each must count exactly what it counts alone.
@Suite struct BinaryTranslationFamilyTests {
    static let variants = ["dbt-nolink", "dbt-link", "dbt-ibtc"]

    /// Every ordered selection of the dbt variants, some with other strategies between them.
    static var selections: [[String]] {
        var result: [[String]] = []
        func extend(_ chosen: [String]) {
            if !chosen.isEmpty { result.append(chosen) }
            for name in variants where !chosen.contains(name) { extend(chosen + [name]) }
        }
        extend([])
        result.append(["dbt-ibtc", "sbe", "dbt-nolink", "hw", "dbt-link"])
        result.append(["native", "dbt-link", "pagefault-nx", "dbt-ibtc"])
        return result
    }

    /// Traces that exercise every path the variants share: code writes (also to the writer's own page),
    /// flushes, IBTC conflicts, return-stack overflow, and two threads taking turns.
    static var scripts: [(name: String, script: TraceScript, parameters: [String])] {
        let writes = WorkedExample.script(n: 3) { script, index in
            if [2, 3, 5].contains(index) { script.codeWrite(WorkedExample.far + 0x10, size: 4) }
            if index == 8 { script.codeWrite(0x400100, size: 1) }
        }
        var threads = TraceScript()
        threads.place(0x400000, call(0x400000, 0x401100) + decEcx + [0x75, 0xF7] + syscall)
        threads.place(0x401100, call(0x401100, 0x402000) + ret)
        threads.place(0x402000, jmpRax)
        threads.place(0x400100, ret)
        threads.place(0x400200, ret)
        for round in 0..<6 {
            let thread = UInt32(round % 2)
            threads.exec([0x400000, 0x401100, 0x402000], thread: thread)
            if round == 3 { threads.codeWrite(0x402000, size: 2, thread: thread) }
            threads.exec([round % 3 == 0 ? 0x400200 : 0x400100, 0x401105, 0x400005], thread: thread)
        }
        threads.exec(0x400009, thread: 0)
        threads.exec(0x400009, thread: 1)
        return [
            ("writes", writes, []),
            ("flushes", WorkedExample.script(n: 5), ["code-cache=4"]),
            ("threads", threads, ["ibtc-size=256", "ras-depth=1", "code-cache=9"]),
            ("threads, defaults", threads, []),
        ]
    }

    @Test func eachVariantCountsWhatItCountsAlone() throws {
        for (name, script, parameters) in Self.scripts {
            var alone: [String: StrategyResult] = [:]
            for variant in Self.variants {
                let results = try script.replay([variant], parameters)
                let result = try #require(results.strategy(variant))
                alone[variant] = result
            }
            for selection in Self.selections {
                let results = try script.replay(selection, parameters)
                for variant in selection where Self.variants.contains(variant) {
                    let together = try #require(results.strategy(variant))
                    let expected = try #require(alone[variant])
                    #expect(together.counts == expected.counts, "\(name), \(variant) among \(selection)")
                    #expect(together.sites == expected.sites, "\(name), \(variant) among \(selection)")
                    #expect(together.pages == expected.pages, "\(name), \(variant) among \(selection)")
                    #expect(together.translated == expected.translated && together.translations == expected.translations,
                            "\(name), \(variant) among \(selection)")
                }
            }
        }
    }

    /// The two-thread script worked by hand, so sharing cannot hide a mistake all variants would make.
    /// L = 0x400000 `call f` | J = 0x400005 `dec %ecx; jnz L` | X = 0x400009 `syscall`;
    /// f = 0x401100 `call g` | F5 = 0x401105 `ret`; g = 0x402000 `jmp *%rax`; T1 = 0x400100 and
    /// T2 = 0x400200 `ret`. Rounds 0-5 alternate between thread 0 and thread 1; a round is L f g T F5 J with
    /// T2 in rounds 0 and 3, else T1; in round 3 g stores to its own page. Each thread then runs X.
    @Test func twoThreadsSharingOneCodeCache() throws {
        let results = try Self.scripts[3].script.replay(Self.variants)
        let nolink = try #require(results.strategy("dbt-nolink"))
        // 38 blocks: 2 thread entries, 36 exits to the dispatcher, 2 syscall exits; g's store hits its own
        // translated page.
        #expect(nolink.nonzero == [.dispatch: 2 + 36, .dispatchSyscall: 2, .pfWrite: 1])
        // L f g T2 F5 J T1 X, and g again in round 4 (its store discarded it).
        #expect(nolink.translations == 9)
        let link = try #require(results.strategy("dbt-link"))
        // Direct edges, dispatched and linked once (links serve both threads): L->f, f->g, J->L, J->X, and
        // f->g again in round 4 (g's translation was discarded). g, T and F5 exit indirectly: 18 dispatches.
        #expect(link.nonzero == [.dispatch: 2 + 5 + 18, .link: 5, .dispatchSyscall: 2, .pfWrite: 1])
        let ibtc = try #require(results.strategy("dbt-ibtc"))
        // Round 0 (thread 0): g->T2, T2->F5 and F5->J find nothing translated yet: 3 dispatches.
        // Round 1 (thread 1): g->T1 misses the IBTC; both returns hit the thread's own return stack.
        // Round 3: g discarded itself, so its exit dispatches. g->T1 hits the IBTC in rounds 2, 4 and 5.
        // Every return after round 0 is predicted: 2 per round in rounds 1-5.
        #expect(ibtc.nonzero == [.dispatch: 2 + 5 + 3 + 1 + 1, .link: 5, .ibtcHit: 3, .rasHit: 10,
                                 .dispatchSyscall: 2, .pfWrite: 1])
    }
}
