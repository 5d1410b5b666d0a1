@testable import Replay
import Testing
import TraceModel

/// The engine asks its source for data touches only when a strategy it runs reads them (pagefault-legacy):
/// decoding the touch model is most of a pass over a data-pages trace, and without it nothing else changes.
@Suite struct TouchDecodingTests {
    /// An `InMemoryTrace` that keeps what it was asked, and hands out touches only when asked for them.
    final class AskingSource: ReplaySource {
        let trace: InMemoryTrace
        var asked: [Bool] = []
        init(_ trace: InMemoryTrace) { self.trace = trace }
        var metadata: TraceMetadata { trace.metadata }
        func blockDefinitions(includingBytes: Bool) throws -> [BlockDefinition] { trace.definitions }
        func codePages() throws -> [CodePage] { trace.pages }
        func forEachChunk(dataTouches: Bool, _ body: (StreamChunk) throws -> Void) throws {
            asked.append(dataTouches)
            try trace.forEachChunk(dataTouches: true) { chunk in
                var chunk = chunk
                if !dataTouches {
                    chunk.undecodedDataTouches = UInt64(chunk.dataTouches.count)
                    chunk.dataTouches = []
                }
                try body(chunk)
            }
        }
    }

    /// The worked example with a data touch after each of its first 100 blocks: sbe and pagefault-nx alone do not ask for touches
    /// and count as when they get them; with pagefault-legacy among them the touches are asked for, and the
    /// summary counts the same 100 touches either way.
    @Test func touchesAreAskedForOnlyByAStrategyThatReadsThem() throws {
        let script = WorkedExample.script(n: 100) { script, index in
            if index < 100 { script.dataTouch(0x600000, reads: 1, writes: 1) }
        }
        let without = AskingSource(script.trace)
        let lean = try ReplayEngine.run(source: without, path: "lean", strategies: ["sbe", "pagefault-nx"])
        #expect(without.asked == [false])
        let with = AskingSource(script.trace)
        let full = try ReplayEngine.run(source: with, path: "full", strategies: ["sbe", "pagefault-nx", "pagefault-legacy"])
        #expect(with.asked == [true])
        #expect(lean.summary.dataTouches == 100 && full.summary.dataTouches == 100)
        for name in ["sbe", "pagefault-nx"] {
            let a = try #require(lean.strategy(name)), b = try #require(full.strategy(name))
            #expect(a.counts == b.counts && a.sites == b.sites, "\(name)")
        }
        // The legacy strategy did read them: each access to the never-translated data page faults (1 + 1 each).
        #expect(try #require(full.strategy("pagefault-legacy")).nonzero[.pfData] == 200)
    }
}
