import CZstd
import Foundation
import GRDB
import Testing
import TraceModel
import TraceStore

/// Traces from strangers through the built `plexlab`: every case ends in exit code 2 and one stderr line
/// naming the problem (or a listed bad chunk), never a crash, a hang or unbounded memory.
/// (TraceStoreTests checks the same cases' messages through the library.)
@Suite struct HostileFileCLITests {
    @Test func truncatedFilesAtSeveralSizes() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let path = scratch.path("t.plextrace")
        try writeTestTrace(at: path, chunks: 40, chunkBlocks: 512)
        let full = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(full.count > 8 * 4096)
        for cut in [1, 15, 16, 99, 100, 1024, 4096, 4097, full.count / 3, full.count / 2, full.count - 4096, full.count - 1] {
            try full.prefix(cut).write(to: URL(fileURLWithPath: path))
            for arguments in [["info", path], ["info", "--verify", "--json", path]] {
                let run = try plexlab(arguments, scratch: scratch)
                expectCleanError(run, contains: "\(path) is truncated (\(cut) bytes")
            }
        }
        try Data().write(to: URL(fileURLWithPath: path))
        expectCleanError(try plexlab(["info", path], scratch: scratch), contains: "not a PlexLab trace (empty file)")
    }

    /// A byte flipped on disk inside chunk 3's stored payload (found by its bytes in the file). With the
    /// predictive codec the thread's later chunks cannot be decoded either (the coder never saw chunk 3).
    @Test(arguments: [("blocks", BlockStreamCodec.raw, [Int64(3)]), ("events", .raw, [3]),
                      ("blocks", .predictive, [3, 4, 5]), ("events", .predictive, [3, 4, 5])])
    func flippedPayloadByteIsListedByVerify(column: String, codec: BlockStreamCodec, bad: [Int64]) throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let path = scratch.path("t.plextrace")
        try writeTestTrace(at: path, chunks: 6, codec: codec)
        let payload = try DatabaseQueue(path: path).read { db in
            [UInt8](try Data.fetchOne(db, sql: "SELECT \(column) FROM chunks WHERE sequence = 3")!)
        }
        #expect(payload.count >= 8)
        var file = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let offsets = (0...(file.count - payload.count)).filter { file[$0..<$0 + payload.count].elementsEqual(payload) }
        try #require(offsets.count == 1)
        file[offsets[0] + payload.count / 2] ^= 0x10
        try Data(file).write(to: URL(fileURLWithPath: path))

        // Metadata and figures need no chunk: plain info still works.
        #expect(try plexlab(["info", path], scratch: scratch).status == 0)
        let table = try plexlab(["info", "--verify", path], scratch: scratch)
        expectCleanError(table, contains: "\(path): \(bad.count) of 6 chunks are bad")
        #expect(table.stdout.contains("chunk 3 (thread 0): fails its checksum"))
        let json = try plexlab(["info", "--verify", "--json", path], scratch: scratch)
        #expect(json.status == 2)
        let problems = try #require(try decodeInfo(json).badChunks)
        #expect(problems.map(\.sequence) == bad)
        #expect(problems.first == ChunkProblem(sequence: 3, thread: 0, reason: "fails its checksum"))
        #expect(problems.dropFirst().allSatisfy { $0.reason == "cannot be decoded: an earlier chunk of its thread is bad" })
        // A streaming reader (what replay uses) stops at that chunk and names it, through the library and the CLI.
        var seen = 0
        #expect(throws: TraceStoreError.badChunk(path: path, sequence: 3, detail: "fails its checksum")) {
            try TraceReader(path: path).forEachChunk { _ in seen += 1 }
        }
        #expect(seen == 3)
        let replay = try plexlab(["replay", path, "--strategy", "native"], scratch: scratch)
        expectCleanError(replay, contains: "\(path): chunk 3 fails its checksum")
    }

    /// Bytes flipped anywhere in the file (header, schema, b-tree pages, payloads): a clean outcome every time.
    @Test func flippedBytesAnywhereNeverCrash() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let original = scratch.path("original.plextrace")
        try writeTestTrace(at: original, chunks: 8)
        let file = [UInt8](try Data(contentsOf: URL(fileURLWithPath: original)))
        var rng = SplitMix64(seed: 2026)
        var outcomes: [Int32: Int] = [:]
        for trial in 0..<48 {
            var damaged = file
            // Half the trials hit the first page (header and schema), the rest anywhere.
            let offset = trial % 2 == 0 ? Int.random(in: 0..<4096, using: &rng) : Int.random(in: 0..<file.count, using: &rng)
            damaged[offset] ^= UInt8.random(in: 1...255, using: &rng)
            let path = scratch.path("flip\(trial).plextrace")
            try Data(damaged).write(to: URL(fileURLWithPath: path))
            let run = try plexlab(["info", "--verify", path], scratch: scratch)
            outcomes[run.status, default: 0] += 1
            if run.status == 0 {
                #expect(run.stderr.isEmpty, "offset \(offset): \(run.stderr)")
            } else {
                expectCleanError(run)
            }
        }
        #expect(Set(outcomes.keys).isSubset(of: [0, 2]), "\(outcomes)")
    }

    /// A chunk that declares 1 KiB and inflates to 1 GiB: refused under a 1 GiB address-space limit.
    @Test func compressionBombIsRefusedWithBoundedMemory() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let path = scratch.path("bomb.plextrace")
        try writeTestTrace(at: path, chunks: 3, chunkBlocks: 256, codec: .raw)
        let bomb = zeroFrame(size: 1 << 30)
        #expect(bomb.count < 1 << 20)
        try forgeChunk(path, sequence: 1, firstEventIndex: 256, blockCount: 256, blocks: bomb, blocksSize: 1024)

        let run = try plexlabLimited(["info", "--verify", path], addressSpaceKiB: 1 << 20, scratch: scratch)
        expectCleanError(run, contains: "\(path): 1 of 3 chunks are bad")
        #expect(run.stdout.contains("chunk 1 (thread 0): block payload inflates past its declared 1024 bytes"))
    }

    @Test(arguments: [
        ("CREATE TRIGGER sneaky AFTER INSERT ON modules BEGIN DELETE FROM chunks; END",
         "is refused: its SQL schema carries a trigger (\"sneaky\")"),
        ("CREATE VIEW sneaky AS SELECT * FROM chunks", "is refused: its SQL schema carries a view (\"sneaky\")"),
        ("CREATE VIRTUAL TABLE sneaky USING fts4(x)", "is refused: its SQL schema carries a virtual table (\"sneaky\")"),
        // A generated column is computed on read: 900 MB from a few bytes of schema.
        ("ALTER TABLE chunks RENAME COLUMN events TO stored_events; "
            + "ALTER TABLE chunks ADD COLUMN events BLOB GENERATED ALWAYS AS (zeroblob(900000000)) VIRTUAL",
         "is refused: its chunks table has a generated column (\"events\")"),
    ])
    func schemaBorneCodeIsRefused(sql: String, message: String) throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let path = scratch.path("t.plextrace")
        try writeTestTrace(at: path, chunks: 2)
        try DatabaseQueue(path: path).writeWithoutTransaction { db in try db.execute(sql: sql) }
        for arguments in [["info", path], ["info", "--verify", path]] {
            let run = try plexlabLimited(arguments, addressSpaceKiB: 1 << 20, scratch: scratch)
            expectCleanError(run, contains: "\(path) \(message), which a trace never has")
        }
    }

    @Test func notTracesAtAll() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let directory = scratch.path("a-directory.plextrace")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        expectCleanError(try plexlab(["info", directory], scratch: scratch), contains: "is not a PlexLab trace (a directory)")
        let plain = scratch.path("plain.plextrace")
        try DatabaseQueue(path: plain).write { db in try db.execute(sql: "CREATE TABLE t (x)") }
        expectCleanError(try plexlab(["info", plain], scratch: scratch), contains: "with application id 0")
        let text = scratch.path("notes.plextrace")
        try Data("SQLite format 3\0 but then prose".utf8).write(to: URL(fileURLWithPath: text))
        expectCleanError(try plexlab(["info", text], scratch: scratch), contains: "is truncated")
    }
}
