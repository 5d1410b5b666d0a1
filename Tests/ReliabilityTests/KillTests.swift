import Foundation
import Testing
import TraceModel
import TraceStore
#if canImport(Glibc)
import Glibc
#endif

/// A real `plexlab import` killed with SIGKILL at several points, and `plexlab info` reading the trace
/// while the import writes it (at OUT.partial, renamed to OUT when finished): every snapshot is a
/// consistent prefix of whole chunks.
@Suite(.serialized) struct KillTests {
    /// Blocks per chunk for the imports here (the hidden --chunk-blocks option).
    static let chunkBlocks = 2048
    /// Two blocks, A (`inc eax; jmp`: 2 instructions) then B (`nop; nop; jmp`: 3), alternating: a whole number
    /// of chunks of an even size holds exactly 5/2 instructions per block.
    static let blocks = 400_000

    /// A JSONL file of `blocks` executed blocks alternating A and B, 1000 per exec line.
    private func writeLongImport(_ path: String) throws {
        var text = """
            {"type":"meta","arch":"x86_64","program":"/tmp/spin","data_touches":false}
            {"type":"code","address":"0x401000","bytes":"ffc0 eb01 90 90 90 ebf7"}

            """
        let line = "{\"type\":\"exec\",\"thread\":0,\"blocks\":["
            + Array(repeating: "\"0x401000\",\"0x401005\"", count: 500).joined(separator: ",") + "]}\n"
        text += String(repeating: line, count: Self.blocks / 1000)
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    }

    /// One look at the live trace through the CLI; nil when the file is not there yet or not yet a trace.
    private func look(_ trace: String, scratch: Scratch) throws -> TraceInfo? {
        let run = try plexlab(["info", "--json", "--verify", trace], scratch: scratch, timeout: 60)
        #expect(!run.timedOut)
        if run.status != 0 {
            // Before the writer's first commit the file may be missing, empty or schema-less: a clean error.
            expectCleanError(run)
            return nil
        }
        let info = try decodeInfo(run)
        expectConsistentPrefix(info)
        return info
    }

    private func expectConsistentPrefix(_ info: TraceInfo, sourceLocation: SourceLocation = #_sourceLocation) {
        let s = info.summary
        #expect(info.badChunks == [], sourceLocation: sourceLocation)
        // Only `finish` commits a partial chunk.
        let expected = info.metadata.complete ? UInt64(Self.blocks) : s.chunks * UInt64(Self.chunkBlocks)
        #expect(s.blocksExecuted == expected, "\(s)", sourceLocation: sourceLocation)
        #expect(s.instructions * 2 == s.blocksExecuted * 5, "\(s)", sourceLocation: sourceLocation)
        #expect(s.distinctBlocks == (s.chunks == 0 ? 0 : 2), sourceLocation: sourceLocation)
    }

    @Test func killedAfterSeveralChunkCountsLeavesAReadableIncompleteTrace() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let input = scratch.path("spin.jsonl")
        try writeLongImport(input)
        let importer = try builtExecutable("plexlab")
        var livesLooks = 0
        for killAfter in [1, 4, 12] {
            let trace = scratch.path("killed-\(killAfter).plextrace")
            let child = try Child(importer, ["import", input, "--out", trace, "--chunk-blocks", String(Self.chunkBlocks)],
                                  scratch: scratch)
            // Readers while the import writes: each one sees whole chunks only.
            var chunks: UInt64 = 0
            while chunks < UInt64(killAfter) {
                #expect(child.isRunning, "the import finished before \(killAfter) chunks were seen")
                guard child.isRunning else { break }
                if let info = try look(trace + ".partial", scratch: scratch) {
                    chunks = info.summary.chunks
                    livesLooks += 1
                }
            }
            kill(child.pid, SIGKILL)
            let ended = child.wait()
            #expect(ended.status == 128 + SIGKILL)

            // Killed before it finished: nothing at the target, the partial trace readable beside it.
            #expect(!FileManager.default.fileExists(atPath: trace))
            let info = try #require(try look(trace + ".partial", scratch: scratch))
            #expect(!info.metadata.complete)
            #expect(info.summary.chunks >= UInt64(killAfter))
            #expect(info.summary.blocksExecuted < UInt64(Self.blocks))
            let table = try plexlab(["info", trace + ".partial"], scratch: scratch)
            #expect(table.status == 0)
            #expect(table.stdout.contains("incomplete"))
        }
        #expect(livesLooks >= 3)
    }

    /// SIGKILL at fixed delays from the start, including before the file exists or has a schema.
    @Test func killedAtAnyMomentNeverLeavesAnUnreadableMess() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let input = scratch.path("spin.jsonl")
        try writeLongImport(input)
        let importer = try builtExecutable("plexlab")
        for delay in [0, 2_000, 10_000, 40_000, 150_000, 600_000] {
            let trace = scratch.path("killed-\(delay).plextrace")
            let child = try Child(importer, ["import", input, "--out", trace, "--chunk-blocks", String(Self.chunkBlocks)],
                                  scratch: scratch)
            usleep(useconds_t(delay))
            kill(child.pid, SIGKILL)
            _ = child.wait()
            #expect(!FileManager.default.fileExists(atPath: trace), "only a finished import is renamed over the target")
            if let info = try look(trace + ".partial", scratch: scratch) {
                #expect(!info.metadata.complete || info.summary.blocksExecuted == UInt64(Self.blocks))
            }
        }
    }

    @Test func anImportLeftAloneCompletesWhileReadersWatch() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let input = scratch.path("spin.jsonl")
        try writeLongImport(input)
        let trace = scratch.path("whole.plextrace")
        let child = try Child(try builtExecutable("plexlab"),
                              ["import", input, "--out", trace, "--chunk-blocks", String(Self.chunkBlocks)], scratch: scratch)
        var snapshots: Set<UInt64> = []
        while child.isRunning {
            if let info = try look(trace + ".partial", scratch: scratch) { snapshots.insert(info.summary.chunks) }
        }
        let ended = child.wait()
        #expect(ended.status == 0, "\(ended.stderr)")
        // Renamed over the target: no partial file, no lock file left.
        let left = try FileManager.default.contentsOfDirectory(atPath: scratch.directory).filter { $0.hasPrefix("whole") }
        #expect(left == ["whole.plextrace"], "\(left.sorted())")
        let info = try #require(try look(trace, scratch: scratch))
        #expect(info.metadata.complete)
        // The last chunk holds the remainder: 400000 = 195 * 2048 + 640.
        #expect(info.summary.blocksExecuted == UInt64(Self.blocks))
        #expect(info.summary.chunks == 196)
        #expect(snapshots.count >= 2, "\(snapshots.sorted())")
    }
}
