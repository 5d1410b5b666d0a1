import Foundation
import Testing
import CostModel
import Replay
import Symbols
import TraceModel
@testable import Reports

/// System traces in compare and report (docs/strategies.md section 8): the Adams & Agesen rows, the
/// kernel/user split, and kernel symbols from a System.map.
@Suite struct SystemReportTests {
    static func systemTrace(_ name: String, _ slowdowns: [String: Double]) -> ReportTrace {
        var trace = ReproductionsTests.trace(name, slowdowns.mapValues { ["pentium4": $0] })
        trace.metadata.guestMode = .system
        return trace
    }

    @Test func forkwaitAndSyscallLoopRowsAndTheirComparison() {
        let traces = [
            Self.systemTrace("sys-forkwait", ["dbt-ibtc": 8, "hw-shadow": 24]),
            Self.systemTrace("sys-getppid", ["dbt-ibtc": 3, "hw-shadow": 1.5]),
            // A system trace is not a real program of Bruening's rows.
            Self.systemTrace("sys-gzip", ["dbt-nolink": 99]),
        ]
        let rows = Reproductions.rows(traces)
        #expect(rows.map(\.workload) == ["sys-forkwait", "sys-forkwait", "sys-getppid", "sys-getppid"])
        #expect(rows.map(\.figure.strategy) == ["dbt-ibtc", "hw-shadow", "dbt-ibtc", "hw-shadow"])
        // 36.9 s and 106.4 s over 6.0 s native.
        #expect(rows[0].ratio == 8 / (36.9 / 6.0) && rows[1].ratio == 24 / (106.4 / 6.0))
        #expect(rows[2].ratio == nil && rows[3].ratio == nil)
        let comparisons = Reproductions.comparisons(rows)
        #expect(comparisons.map(\.workload) == ["sys-forkwait", "sys-getppid"])
        #expect(comparisons.map(\.lab) == [3, 0.5])
        let markdown = Reproductions.markdown(rows)
        #expect(markdown.contains("| sys-forkwait | 106.4 s / 36.9 s = 2.88 (BT wins) | 3.00 (BT wins) |"))
        #expect(markdown.contains("| sys-getppid | below 1 (VT-x wins) | 0.50 (VT-x wins) |"))
    }

    @Test func theSplitTableAndTheHardwareLine() {
        var summary = ReplaySummary()
        summary.blocks = 9
        summary.instructions = 29
        var system = SystemSummary()
        system.kernelBlocks = 4
        system.kernelInstructions = 19
        system.interrupts = 1
        summary.system = system
        var hw = StrategyResult(name: "hw-shadow", counts: [.vmexitCR3: 2, .vmexitInterrupt: 1],
                                estimates: [CostEstimate(profile: "pentium4", cycles: 0, slowdown: 20)])
        hw.kernelCounts = [.vmexitCR3: 2]
        let ept = StrategyResult(name: "hw-ept", counts: [.vmexitInterrupt: 1, .eptWalk: 3],
                                 estimates: [CostEstimate(profile: "pentium4", cycles: 0, slowdown: 2)])
        let dbt = StrategyResult(name: "dbt-ibtc", counts: [.dispatch: 5, .privCallout: 7],
                                 estimates: [CostEstimate(profile: "pentium4", cycles: 0, slowdown: 10)])
        let markdown = SystemTables.markdown(summary, strategies: [hw, ept, dbt], profile: "pentium4")
        #expect(markdown.contains("kernel 4 blocks, 19 instructions (66%); user 5 blocks, 10 instructions; 1 interrupts"))
        // hw-shadow: 3 traps, 2 of them in the kernel; ept_walk and priv_callout are not traps.
        #expect(markdown.contains("| hw-shadow | 2 | 1 | 20.00x |"))
        #expect(markdown.contains("| hw-ept | 0 | 1 | 2.00x |"))
        #expect(markdown.contains("| dbt-ibtc | 0 | 5 | 10.00x |"))
        #expect(markdown.contains("under pentium4\\: hw-shadow 20.00x, hw-ept 2.00x, dbt-ibtc 10.00x\\: binary translation beats shadow-paging hardware assist"))
        #expect(SystemTables.markdown(ReplaySummary(), strategies: [hw], profile: "pentium4") == "")
    }

    @Test func aSystemMapNamesKernelAddresses() throws {
        let map = KernelSymbolMap(text: """
            ffffffff81000000 T _stext
            ffffffff81000100 t asm_exc_page_fault
            ffffffff81000200 D some_data
            not a symbol line
            ffffffff81001000 W entry_SYSCALL_64
            """)
        #expect(map.symbols.map(\.name) == ["_stext", "asm_exc_page_fault", "entry_SYSCALL_64"])
        #expect(map.symbol(at: 0xffff_ffff_8100_0105)! == ("asm_exc_page_fault", 5))
        #expect(map.symbol(at: 0xffff_ffff_8100_1000)! == ("entry_SYSCALL_64", 0))
        #expect(map.symbol(at: 0xffff_ffff_8000_0000) == nil)
        let symbolizer = Symbolizer(modules: [ModuleMapping(start: 0x400000, end: 0x401000, fileOffset: 0, path: "/nonexistent/p")],
                                    kernel: map)
        #expect(symbolizer.symbolize(0xffff_ffff_8100_0108).description == "asm_exc_page_fault+0x8")
        #expect(symbolizer.symbolize(0xffff_ffff_8100_0108).moduleName == "kernel")
        // A user address in a module is the module's, whatever the map says.
        #expect(symbolizer.symbolize(0x400010).modulePath == "/nonexistent/p")
        #expect(throws: SymbolError.self) { try KernelSymbolMap(path: "/nonexistent/System.map") }
    }
}
