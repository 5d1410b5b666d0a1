import Foundation
import Replay
import Testing

/// Several variants (strategies under their own parameters) in one pass count what each counts alone
/// (the pass `plexlab sweep` runs; docs/sweep.md).
@Suite struct VariantPassTests {
    static let strategies = ["sbe", "pagefault-nx", "dbt-nolink", "dbt-link", "dbt-ibtc", "dbt-qemu"]
    static let settings: [[String]] = [
        [], ["page-size=2097152"], ["code-cache=4"], ["code-cache=9", "ibtc-size=1", "ras-depth=0"],
        ["ras-depth=1", "page-size=2097152"],
    ]

    @Test(arguments: [3, 10])
    func variantsInOnePassEqualSeparateReplays(n: Int) throws {
        let trace = WorkedExample.script(n: n).trace
        let variants = try Self.settings.map { ReplayVariant(strategies: Self.strategies, parameters: try ReplayParameters(arguments: $0)) }
        let together = try ReplayEngine.run(source: trace, path: "script", variants: variants)
        #expect(together.count == variants.count)
        for (variant, result) in zip(variants, together) {
            let alone = try ReplayEngine.run(source: trace, path: "script", strategies: variant.strategies,
                                             parameters: variant.parameters)
            #expect(result.parameters == variant.parameters)
            #expect(result.summary.codePages == alone.summary.codePages)
            #expect(result.summary.instructions == alone.summary.instructions)
            for name in Self.strategies {
                let a = try #require(alone.strategy(name)), t = try #require(result.strategy(name))
                #expect(t.counts == a.counts && t.scanned == a.scanned && t.translated == a.translated, "\(name) \(variant.parameters.all)")
                #expect(t.estimates == a.estimates)
                #expect(t.sites == a.sites)
            }
        }
        // The reference's numbers (docs/strategies.md section 6): sbe 2N+1 traps on 4 KiB pages, N+1 on one
        // 2 MiB page; pagefault-nx 3 and 2.
        let N = UInt64(n)
        #expect(together[0].strategy("sbe")?.traps == 2 * N + 1)
        #expect(together[1].strategy("sbe")?.traps == N + 1)
        #expect(together[0].strategy("pagefault-nx")?.traps == 3)
        #expect(together[1].strategy("pagefault-nx")?.traps == 2)
        #expect(together[0].summary.codePages == 2 && together[1].summary.codePages == 1)
    }
}
