import Foundation
import Testing
import Symbols
import CostModel
import Replay
import TraceModel
@testable import Reports

/// A hand-built report input: one trace, three strategies, numbers worked out below.
enum Fixture {
    static let hostile = "<script>alert(1)</script>|*_[x](y)"

    /// pentium3-like costs: cpi 1, int3 500, pf 600, scan 100.
    static let profile = CostProfile(name: "pentium3", description: "test profile",
                                     costs: [.cpi: 1, .scanPerInsn: 100, .translatePerInsn: 300, .trapInt3: 500, .trapPF: 600])

    static let instructions: UInt64 = 10_000

    /// cycles = insns*cpi + Σ count*cost + scanned*scan_per_insn, as docs/strategies.md defines.
    static func estimate(_ counts: [TrapCause: UInt64], scanned: UInt64) -> CostEstimate {
        let cycles = Double(instructions) + counts.reduce(0) { $0 + Double($1.value) * profile[$1.key.costKey!] }
            + Double(scanned) * 100
        return CostEstimate(profile: "pentium3", cycles: cycles, slowdown: cycles / Double(instructions))
    }

    static func strategy(_ name: String, _ counts: [TrapCause: UInt64], scanned: UInt64, sites: [TrapSite] = [],
                         pages: [PageTraps] = []) -> StrategyResult {
        StrategyResult(name: name, counts: counts, instructions: instructions, scanned: scanned,
                       estimates: [estimate(counts, scanned: scanned)], sites: sites, pages: pages)
    }

    static var input: ReportInput {
        // sbe: 960 rets at 0x401010 (in the hostile symbol), 39 calls at 0x401005, 1 syscall at 0x401020: 1000 traps.
        let sbe = strategy("sbe", [.call: 39, .ret: 960, .syscall: 1], scanned: 12,
                           sites: [TrapSite(address: 0x401010, counts: [.ret: 960]),
                                   TrapSite(address: 0x401005, counts: [.call: 39]),
                                   TrapSite(address: 0x401020, counts: [.syscall: 1])],
                           pages: [PageTraps(page: 0x401000, counts: [.call: 39, .ret: 960, .syscall: 1])])
        // pagefault-nx: 2 pf_exec (page entries at 0x401000 and 0x402000) and the syscall.
        let nx = strategy("pagefault-nx", [.pfExec: 2, .syscall: 1],
                          scanned: 12,
                          sites: [TrapSite(address: 0x401000, counts: [.pfExec: 1]),
                                  TrapSite(address: 0x402000, counts: [.pfExec: 1]),
                                  TrapSite(address: 0x401020, counts: [.syscall: 1])])
        let native = strategy("native", [:], scanned: 0)
        let legacy = StrategyResult(name: "pagefault-legacy", unavailable: "needs --data-pages", counts: [:], estimates: [])
        let metadata = TraceMetadata(program: "/tmp/\(hostile)", argv: ["/tmp/\(hostile)", "--flag=\(hostile)"],
                                     arch: .x86_64, recorder: "import", recorderVersion: "1", host: "test",
                                     date: "2026-01-01T00:00:00Z", exitStatus: 0, complete: true)
        let hostileLocation = SiteLocation(symbolized: SymbolizedAddress(address: 0x401010, modulePath: "/tmp/\(hostile)",
                                                                         moduleOffset: 0x1010, symbol: hostile, symbolOffset: 0x10),
                                           instruction: "ret")
        let callLocation = SiteLocation(symbolized: SymbolizedAddress(address: 0x401005, modulePath: "/bin/prog",
                                                                      moduleOffset: 0x1005, symbol: "loop", symbolOffset: 5),
                                        instruction: "call 0x402000")
        let trace = ReportTrace(name: "calls", path: "Traces/calls.plextrace", metadata: metadata,
                                summary: ReplaySummary(instructions: instructions, blocks: 3001, distinctBlocks: 5, codePages: 2),
                                strategies: [native, sbe, nx, legacy],
                                locations: [0x401010: hostileLocation, 0x401005: callLocation])
        return ReportInput(title: "Test report", profiles: [profile], traces: [trace], top: 10)
    }

    /// The cells of the Markdown table row whose first cell is `first` (split on unescaped pipes).
    static func markdownRow(_ markdown: String, first: String) -> [String]? {
        for line in markdown.split(separator: "\n") where line.hasPrefix("| \(first) |") {
            return line.dropFirst(2).dropLast(2).components(separatedBy: " | ")
        }
        return nil
    }
}

@Suite struct ReportRenderingTests {
    @Test func verdictComputedFromTheNumbers() throws {
        // sbe: 10,000 + 39*500 + 960*500 + 500 + 12*100 = 511,200 cycles.
        // pagefault-nx: 10,000 + 2*600 + 500 + 1,200 = 12,900 cycles. 511,200 / 12,900 = 39.627...
        let trace = Fixture.input.traces[0]
        let verdict = try #require(trace.verdict(profile: "pentium3"))
        #expect(verdict.best == "pagefault-nx")
        #expect(verdict.compared == "sbe")
        #expect(abs(verdict.factor! - 511_200.0 / 12_900.0) < 1e-9)
        #expect(verdict.dominantCause == .ret)
        #expect(verdict.dominantShare == 0.96)
        #expect(MarkdownReport.verdictSentence(trace, profile: "pentium3")
                == "on pentium3, pagefault-nx runs 39.63x faster than sbe (pagefault-nx is 1.29x native); 96% of sbe's traps are ret traps")
    }

    @Test func comparisonTableNumbersEqualTheInput() throws {
        let markdown = MarkdownReport.render(Fixture.input)
        let sbe = try #require(Fixture.markdownRow(markdown, first: "sbe"))
        #expect(sbe[0...6] == ["sbe", "1,000", "100.00", "12", "0", "511,200", "51.12x"])
        let nx = try #require(Fixture.markdownRow(markdown, first: "pagefault-nx"))
        #expect(nx[1...6] == ["3", "0.30", "12", "0", "12,900", "1.29x"])
        let legacy = try #require(Fixture.markdownRow(markdown, first: "pagefault-legacy"))
        #expect(legacy[1] == "n/a")
        #expect(legacy.last == "needs --data-pages")
        // The main-causes cell of sbe, in count order with shares.
        #expect(sbe.last == "ret 960 (96%), call 39 (4%), syscall 1 (0%)")
    }

    @Test func breakdownSumsToTheEstimate() {
        let trace = Fixture.input.traces[0]
        for strategy in trace.strategies where strategy.isAvailable {
            let parts = Fixture.profile.breakdown(of: strategy, instructions: trace.summary.instructions, blocks: trace.summary.blocks)
            #expect(parts.reduce(0) { $0 + $1.cycles } == strategy.estimate("pentium3")!.cycles)
        }
        let sbe = trace.strategy("sbe")!
        #expect(Fixture.profile.breakdown(of: sbe, instructions: trace.summary.instructions, blocks: trace.summary.blocks).map(\.label)
                == ["execution", "call", "ret", "syscall", "scan"])
    }

    @Test func sitesInterleaveStrategiesAndNameTheQuietOnes() {
        let rows = Fixture.input.traces[0].topSites(limit: 10)
        // Each strategy ranks its sites by traps, ties by address. sbe: 0x401010 (960), 0x401005 (39), 0x401020 (1).
        // pagefault-nx (all 1): 0x401000, 0x401020, 0x402000. A row's rank is its best; ties go to most traps,
        // then the lower address: rank 0 -> 0x401010, 0x401000; rank 1 -> 0x401005 (39), 0x401020, 0x402000.
        #expect(rows.map(\.address) == [0x401010, 0x401000, 0x401005, 0x401020, 0x402000])
        #expect(rows[0].quiet == ["native", "pagefault-nx"])
        #expect(rows[1].quiet == ["native", "sbe"])
        #expect(rows[3].quiet == ["native"])
        #expect(rows[4].quiet == ["native", "sbe"])
        #expect(Fixture.input.traces[0].topSites(limit: 2).count == 2)
    }

    @Test func siteTableShowsSymbolInstructionAndCycles() throws {
        let markdown = MarkdownReport.render(Fixture.input)
        let row = try #require(Fixture.markdownRow(markdown, first: "3"))
        #expect(row[1] == "`0x401005`")
        #expect(row[2] == "prog\\: loop+0x5")
        #expect(row[3] == "call 0x402000")
        // Columns: sbe, pagefault-nx (native never traps, so it is no column). 39 calls * 500 cycles.
        #expect(row[4] == "**39** call<br>19,500 cyc")
        #expect(row[5] == "")
        #expect(row[6] == "native, pagefault-nx")
    }

    @Test func hostileStringsAreEscapedInMarkdown() {
        let markdown = MarkdownReport.render(Fixture.input)
        #expect(!markdown.contains("<script>"))
        #expect(!markdown.contains("</script>"))
        #expect(!markdown.contains("[x](y)"))
        #expect(markdown.contains("&lt;script&gt;alert(1)&lt;/script&gt;&#124;\\*\\_\\[x\\](y)"))
        // Every table row keeps its column count: no stray pipe from a trace string.
        var widths: [Int] = []
        for line in markdown.split(separator: "\n") where line.hasPrefix("|") {
            widths.append(line.filter { $0 == "|" }.count)
        }
        let tables = markdown.components(separatedBy: "\n\n").filter { $0.hasPrefix("|") }
        for table in tables {
            let counts = Set(table.split(separator: "\n").map { $0.filter { $0 == "|" }.count })
            #expect(counts.count == 1, "a table row has a different number of cells: \(table)")
        }
        #expect(!widths.isEmpty)
    }

    @Test func hostileStringsAreEscapedInHTML() {
        let html = HTMLReport.render(Fixture.input)
        #expect(!html.contains("<script"))
        #expect(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;|*_[x](y)"))
        #expect(!html.contains("alert(1)</"))
    }

    @Test func escapingFunctions() {
        #expect(Escape.html("a<b>&\"'") == "a&lt;b&gt;&amp;&quot;&#39;")
        #expect(Escape.markdown("a|b\nc`d") == "a&#124;b\\\\nc\\`d")
        #expect(Escape.markdown("x_y*z~w$v:u!t") == "x\\_y\\*z\\~w\\$v\\:u\\!t")
    }

    @Test func htmlIsSelfContained() {
        let html = HTMLReport.render(Fixture.input)
        #expect(html.contains("<svg"))
        #expect(html.contains("@media print"))
        // The only URL is the SVG namespace name, which browsers never fetch.
        let urls = html.components(separatedBy: "http").count - 1
        let namespaces = html.components(separatedBy: "http://www.w3.org/2000/svg").count - 1
        #expect(urls == namespaces)
        #expect(!html.contains(" src="))
        #expect(!html.contains(" href="))
        #expect(!html.contains("@import"))
        #expect(!html.contains("url("))
    }

    @Test func logScaleOnlyForWideRanges() {
        #expect(SVGChart.wantsLogScale([1, 1.5, 51.12]))
        #expect(!SVGChart.wantsLogScale([1, 1.29, 3.1]))
        #expect(!SVGChart.wantsLogScale([0, 0, 5]))
        let scale = SVGChart.Scale(values: [1, 51.12], logarithmic: true)
        #expect(scale.ticks == [1, 10, 100])
        #expect(scale.position(10) == (SVGChart.plotLeft + SVGChart.plotRight) / 2)
    }

    @Test func writerWritesThreeFiles() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("plexlab-report-\(UUID().uuidString)").path
        let written = try ReportWriter.write(Fixture.input, resultsJSON: "{}\n", to: directory + "/nested")
        #expect(written.map { ($0 as NSString).lastPathComponent } == ["report.md", "report.html", "results.json"])
        #expect(try String(contentsOfFile: written[2], encoding: .utf8) == "{}\n")
    }
}
