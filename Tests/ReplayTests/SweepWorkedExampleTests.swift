import CostModel
import Foundation
import Replay
import Sweep
import Testing
import TraceModel
import TraceStore

extension InMemoryTrace {
    /// The trace as a .plextrace file (definitions in id order, chunks per thread, code pages).
    func write(to path: String) throws {
        let writer = try TraceWriter(path: path, metadata: metadata, options: .init(chunkBlocks: 64))
        for definition in definitions { _ = try writer.define(definition) }
        for chunk in chunks.sorted(by: { $0.sequence < $1.sequence }) {
            for block in chunk.blocks { try writer.append(thread: chunk.thread, block: block) }
        }
        for page in pages { try writer.addCodePage(page) }
        try writer.finish(exitStatus: 0, signal: nil, note: "")
    }
}

/// `plexlab sweep` through the library on the reference's worked example (docs/strategies.md section 6),
/// N = 10: every point's counts by hand where the reference gives them, and every point equal to a
/// single replay with the point's `--param` settings.
@Suite struct SweepWorkedExampleTests {
    @Test func everyPointEqualsASingleReplayAndTheReferencesCounts() throws {
        let directory = NSTemporaryDirectory() + "plexlab-sweep-worked-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/loop.plextrace"
        try WorkedExample.script(n: 10).trace.write(to: path)

        let spec = try SweepSpec(traces: [path], strategies: ["sbe", "pagefault-nx", "dbt-ibtc"],
                                 grid: ["page-size=4096,2097152", "ras-depth=16,0"], fixed: ["ibtc-size=64"],
                                 profiles: ["modern", "pentium3"], pointsPerShard: 0)
        let plan = try SweepPlan(spec: spec)
        // sbe and pagefault-nx depend on page-size only (2 points each); dbt-ibtc on both keys (4 points).
        #expect(plan.points.count == 2 + 2 + 4)
        #expect(plan.shards.count == 1)
        let store = SweepDirectory(directory + "/sweep")
        try store.create(plan)
        #expect(try SweepRunner.runAll(plan, in: store, jobs: 2) == 8)
        let results = try SweepResults(plan: plan, finished: store.finished(plan), kneeFraction: 0.05)
        #expect(results.rows.count == 8 * 2)

        func row(_ strategy: String, _ swept: [String: String]) throws -> PointResult {
            try #require(results.rows.first { $0.strategy == strategy && $0.swept == swept && $0.profile == "modern" }).result
        }
        // Hand-worked, N = 10: sbe call N + ret N + syscall 1 = 21 on 4 KiB pages, ret N + syscall 1 = 11
        // on one 2 MiB page; pagefault-nx pf_exec 2 + syscall 1, then pf_exec 1 + syscall 1; dbt-ibtc 7
        // monitor entries with the return stack (dispatch 6 + dispatch_syscall 1, ras_hit N-1 = 9).
        #expect(try row("sbe", ["page-size": "4096"]).traps == 21)
        #expect(try row("sbe", ["page-size": "2097152"]).traps == 11)
        #expect(try row("pagefault-nx", ["page-size": "4096"]).traps == 3)
        #expect(try row("pagefault-nx", ["page-size": "2097152"]).traps == 2)
        for size in ["4096", "2097152"] {
            let ibtc = try row("dbt-ibtc", ["page-size": size, "ras-depth": "16"])
            #expect(ibtc.traps == 7 && ibtc.counts[.rasHit] == 9 && ibtc.translated == 9)
        }

        // Each point, each profile: what `plexlab replay --param ...` replays alone.
        for point in plan.points {
            let alone = try ReplayEngine.run(tracePath: path, strategies: [point.strategy], parameters: point.parameters,
                                             profiles: try ProfileSelection(["modern", "pentium3"]).profiles)
            let expected = PointResult(point: point.id, result: try #require(alone.strategy(point.strategy)),
                                       profiles: ["modern", "pentium3"])
            #expect(store.finished(plan)[point.id] == expected, "\(point.strategy) \(point.swept)")
        }
        // The knee of sbe's traps against page-size: 2 MiB (21 -> 11 is far more than 5 %).
        let sbe = try #require(results.curves.first { $0.strategy == "sbe" && $0.metric == .traps })
        #expect(sbe.points.map(\.x) == [4096, 2_097_152] && sbe.points.map(\.y) == [21, 11] && sbe.knee == 1)
    }
}
