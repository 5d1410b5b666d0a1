import Foundation
import Testing
import Replay
import TraceModel

/// Replay throughput of all strategies together on a synthetic trace; runs only with PLEXLAB_BENCH=1
/// (use a release build: `PLEXLAB_BENCH=1 swift test -c release --filter ThroughputBenchmark`).
@Suite struct ThroughputBenchmark {
    @Test(.enabled(if: ProcessInfo.processInfo.environment["PLEXLAB_BENCH"] == "1"))
    func allStrategiesTogether() throws {
        // The worked example's five blocks, looped: 3 blocks per iteration, chunks of 1M blocks.
        var trace = WorkedExample.script(n: 3).trace
        let pattern: [BlockID] = [3, 1, 2]  // BL F B1
        let chunkBlocks = 1 << 20, chunks = 24
        trace.chunks = (0..<chunks).map { index in
            StreamChunk(sequence: UInt64(index), thread: 0, firstEventIndex: UInt64(index * chunkBlocks),
                        blocks: (0..<chunkBlocks).map { pattern[$0 % 3] })
        }
        trace.chunks[0].blocks[0] = 0
        let results = try ReplayEngine.run(source: trace, path: "bench", strategies: ["all"])
        let s = results.summary
        print("replay all strategies: \(s.blocks) blocks in \(String(format: "%.3f", s.seconds)) s = \(String(format: "%.1f", s.blocksPerSecond / 1e6)) M blocks/s")
        let native = try ReplayEngine.run(source: trace, path: "bench", strategies: ["native"]).summary
        print("floor (engine loop, native only): \(String(format: "%.1f", native.blocksPerSecond / 1e6)) M blocks/s")
        for name in StrategyRegistry.names where name != "pagefault-legacy" {
            let alone = try ReplayEngine.run(source: trace, path: "bench", strategies: [name]).summary
            print("  \(name): \(String(format: "%.1f", alone.blocksPerSecond / 1e6)) M blocks/s")
        }
        #expect(s.blocks == UInt64(chunks * chunkBlocks))
    }
}
