import Replay
import Testing
import TraceModel
@testable import Reports

/// A report names each hot address through the module map of the process that trapped there most.
struct SiteProcessTests {
    private func process(_ id: Int, sites: [(UInt64, UInt64)], pages: [(UInt64, UInt64)] = []) -> ProcessResults {
        let strategy = StrategyResult(
            name: "sbe", counts: [.call: sites.reduce(0) { $0 + $1.1 }], estimates: [],
            sites: sites.map { TrapSite(address: $0.0, counts: [.call: $0.1]) },
            pages: pages.map { PageTraps(page: $0.0, counts: [.call: $0.1]) })
        return ProcessResults(process: TraceProcess(id: id, pid: Int32(100 + id), parent: id == 0 ? nil : 0,
                                                    origin: id == 0 ? .start : .exec, program: "p\(id)", argv: []),
                              summary: ReplaySummary(), strategies: [strategy])
    }

    @Test func theProcessWithMostTrapsOwnsAnAddress() {
        // 0x401000: 3 traps in process 1, 5 in process 2; 0x402000 only in process 1; 0x403000 in none.
        let processes = [process(0, sites: []), process(1, sites: [(0x401000, 3), (0x402000, 1)]),
                         process(2, sites: [(0x401000, 5)])]
        let owners = ReplayAdapter.owners([0x401000, 0x402000, 0x403000], processes: processes) {
            $0.sites.map { ($0.address, $0.total) }
        }
        #expect(owners == [0x401000: 2, 0x402000: 1])
        // A trace of one process has no process results: every address is looked up in the whole map.
        #expect(ReplayAdapter.owners([0x401000], processes: []) { $0.sites.map { ($0.address, $0.total) } }.isEmpty)
    }

    @Test func aModuleBelongsToItsProcessOrToAll() {
        let own = ModuleMapping(start: 0x400000, end: 0x402000, fileOffset: 0, path: "/a", process: 2)
        let shared = ModuleMapping(start: 0x400000, end: 0x402000, fileOffset: 0, path: "/old")
        #expect(own.belongs(to: 2) && !own.belongs(to: 4) && own.belongs(to: nil))
        #expect(shared.belongs(to: 2) && shared.belongs(to: nil))
    }
}
