import Testing
import TraceModel
@testable import Replay

/// docs/strategies.md section 6: every process is its own address space; a fork starts from a copy of
/// its parent's state at the fork point, an execve from nothing.
@Suite struct ProcessTreeReplayTests {
    static let a: UInt64 = 0x401000, b: UInt64 = 0x402000

    /// A at 0x401000 jumps to B on the next page, B jumps back. P0 runs A B A B; P1, forked after P0's
    /// first A B, runs A B; P2, started by P1's execve, runs A B.
    private func script() -> TraceScript {
        var script = TraceScript()
        script.place(Self.a, jmp(Self.a, Self.b))
        script.place(Self.b, jmp(Self.b, Self.a))
        script.exec([Self.a, Self.b, Self.a, Self.b], thread: 0)
        script.exec([Self.a, Self.b], thread: 1)
        script.exec([Self.a, Self.b], thread: 2)
        return script
    }

    private let tree = [
        TraceProcess(id: 0, pid: 10, parent: nil, origin: .start, program: "p", argv: ["p"], threads: [0], exitStatus: 0),
        TraceProcess(id: 1, pid: 11, parent: 0, origin: .fork, program: "p", argv: ["p"], threads: [1], note: "called execve",
                     forkPoint: .init(thread: 0, eventIndex: 2)),
        TraceProcess(id: 2, pid: 11, parent: 1, origin: .exec, program: "q", argv: ["q"], threads: [2], exitStatus: 0),
    ]

    @Test func eachProcessTranslatesAndScansItsOwnCode() throws {
        var trace = script().trace
        trace.processList = tree
        let results = try ReplayEngine.run(source: trace, path: "tree", strategies: ["dbt-nolink", "sbe"])
        // dbt-nolink translates A and B in P0, nothing in P1 (its parent's code cache at the fork), A and B
        // again in P2 (execve starts empty): 4. sbe scans A's and B's pages in P0 and in P2: 4.
        #expect(results.strategy("dbt-nolink")?.translations == 4)
        #expect(results.strategy("sbe")?.scans == 4)
        #expect(results.processes.map { $0.strategies[0].translations } == [2, 0, 2])
        #expect(results.processes.map { $0.strategies[1].scans } == [2, 0, 2])
        #expect(results.processes.map(\.summary.blocks) == [4, 2, 2])
        #expect(results.summary.blocks == 8)
        #expect(results.summary.instructions == 8)
        // The sums of the processes are the totals, cause by cause.
        for (index, total) in results.strategies.enumerated() {
            var sum: [TrapCause: UInt64] = [:]
            for process in results.processes { sum.merge(process.strategies[index].counts, uniquingKeysWith: +) }
            #expect(sum.filter { $0.value > 0 } == total.counts.filter { $0.value > 0 })
        }
    }

    @Test func oneAddressSpaceWithoutAProcessTable() throws {
        let results = try ReplayEngine.run(source: script().trace, path: "flat", strategies: ["dbt-nolink", "sbe"])
        #expect(results.strategy("dbt-nolink")?.translations == 2)
        #expect(results.strategy("sbe")?.scans == 2)
        #expect(results.processes.isEmpty)
    }

    @Test func aForkOfAForkInheritsBothPrefixes() throws {
        var script = script()
        script.exec([Self.a, Self.b], thread: 3)
        var trace = script.trace
        // P3 forks from P1 before P1 ran anything of its own: it inherits P0's first A B through P1.
        trace.processList = tree + [TraceProcess(id: 3, pid: 12, parent: 1, origin: .fork, program: "p", argv: ["p"],
                                                 threads: [3], forkPoint: .init(thread: 1, eventIndex: 0))]
        let results = try ReplayEngine.run(source: trace, path: "tree", strategies: ["dbt-nolink"])
        #expect(results.processes.map { $0.strategies[0].translations } == [2, 0, 2, 0])
    }
}
