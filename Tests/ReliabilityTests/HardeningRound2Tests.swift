import Foundation
import GRDB
import Testing
import TraceModel
import TraceStore

/// The address-space bound docs/reliability.md ("Memory budget") promises for any trace PlexLab writes,
/// whatever its thread count: the memory cases run `plexlab` under `ulimit -v` of it.
let documentedBoundKiB = 512 * 1024

/// Issue 16, second round: memory with many threads, imports of huge strings and lines, and `info --verify`
/// checking what a replay needs (docs/reliability.md, "Hardening, second round").
@Suite struct HardeningRound2Tests {
    // MARK: - Memory and threads

    /// A C program that starts `argv[1]` short threads one after another, each joined before the next.
    private static let threadsSource = """
        #include <pthread.h>
        #include <stdio.h>
        #include <stdlib.h>
        static volatile unsigned long sink;
        static void *work(void *arg) {
            unsigned long n = (unsigned long)arg, s = 0;
            for (unsigned long i = 0; i < 50 + n % 7; i++) s += i * n;
            sink += s;
            return NULL;
        }
        int main(int argc, char **argv) {
            int n = argc > 1 ? atoi(argv[1]) : 1;
            for (int i = 0; i < n; i++) {
                pthread_t t;
                if (pthread_create(&t, NULL, work, (void *)(unsigned long)i) != 0) return 1;
                pthread_join(t, NULL);
            }
            printf("%d threads\\n", n);
            return 0;
        }
        """

    /// 2000 threads recorded, verified and compared, each under the bound. Before the threads' state was
    /// released, qemu with the plugin died under it after about 2600 threads, and `info --verify` of a
    /// 4000-thread trace took about 2 GB (issue 16).
    /// (4000 threads also pass, measured by hand; but qemu-user itself grows by about 35 KiB per thread, more
    /// when the machine is loaded and exited threads linger, which leaves too little margin for a test.)
    @Test func twoThousandShortThreadsStayWithinTheBound() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        try Self.threadsSource.write(toFile: scratch.path("threads.c"), atomically: true, encoding: .utf8)
        let gcc = try run("/usr/bin/gcc", ["-O1", "-pthread", "-o", scratch.path("threads"), scratch.path("threads.c")],
                          scratch: scratch)
        try #require(gcc.status == 0, "gcc: \(gcc.stderr)")
        let trace = scratch.path("threads.plextrace")

        let recorded = try plexlabLimited(["record", "--out", trace, "--", scratch.path("threads"), "2000"],
                                          addressSpaceKiB: documentedBoundKiB, scratch: scratch)
        #expect(recorded.status == 0, "\(recorded.stderr)")
        #expect(recorded.stderr.contains(" 2001 threads"), "\(recorded.stderr)")
        #expect(recorded.stderr.contains("guest exited with status 0"), "\(recorded.stderr)")

        let verified = try plexlabLimited(["info", "--json", "--verify", trace], addressSpaceKiB: documentedBoundKiB,
                                          scratch: scratch)
        #expect(verified.status == 0, "\(verified.stderr)")
        let info = try decodeInfo(verified)
        #expect(info.summary.threads == 2001)
        #expect(info.summary.chunks >= 2001)
        #expect(info.badChunks == [])
        #expect(info.metadata.complete && info.metadata.exitStatus == 0)

        let compared = try plexlabLimited(["compare", trace], addressSpaceKiB: documentedBoundKiB, scratch: scratch)
        #expect(compared.status == 0, "\(compared.stderr)")
        #expect(compared.stdout.contains("\(info.summary.blocksExecuted) blocks"), "\(compared.stdout)")
        #expect(compared.stdout.contains("2001 thread(s)"), "\(compared.stdout)")
    }

    /// Eight threads whose chunks each declare (and hold) 2^24 blocks, 64 MiB of ids: read under the bound
    /// (a block buffer kept per thread needed 8 x 64 MiB beside the inflated payload).
    @Test func forgedThreadsWithLargeChunksStayWithinTheBound() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let path = scratch.path("wide.plextrace")
        let threads = 8, blocks = 1 << 24
        let writer = try TraceWriter(path: path, metadata: testMetadata, options: .init(chunkBlocks: 64, blockCodec: .raw))
        for i in 0..<11 { _ = try writer.define(testDefinition(i)) }
        try writer.addCodePage(testCodePage)
        for t in 0..<threads { for _ in 0..<64 { try writer.append(thread: UInt32(t), block: 0) } }
        try writer.finish(exitStatus: 0, signal: nil, note: "")

        let frame = zeroFrame(size: 4 * blocks)  // 2^24 ids of block 0
        #expect(frame.count < 1 << 20)
        let order = try DatabaseQueue(path: path).read { db in
            try Row.fetchAll(db, sql: "SELECT sequence, thread FROM chunks ORDER BY sequence").map { ($0[0] as Int, $0[1] as Int64) }
        }
        #expect(order.count == threads)
        for (sequence, thread) in order {
            try forgeChunk(path, sequence: sequence, thread: UInt32(thread), firstEventIndex: 0, blockCount: blocks,
                              blocks: frame, blocksSize: 4 * blocks)
        }
        // The summary a writer would have written (block 0 has one instruction).
        try DatabaseQueue(path: path).write { db in
            try db.execute(sql: "UPDATE summary SET blocks_executed = ?, instructions = ?, block_stream_bytes = ?",
                           arguments: [threads * blocks, threads * blocks, threads * frame.count])
        }

        let run = try plexlabLimited(["info", "--verify", path], addressSpaceKiB: documentedBoundKiB, scratch: scratch)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("all 8 chunks good"), "\(run.stdout)")
    }

    // MARK: - info --verify

    /// 300 threads whose one predictive chunk each declares the cap, 2^26 blocks, in 16 bytes of noise: every
    /// chunk is listed, in time that follows the bytes stored (each used to cost a fill of 2^26 ids first).
    @Test func chunksDeclaringTheCapInAFewBytesCostWhatTheyStore() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let path = scratch.path("declared.plextrace")
        let threads = 300
        let writer = try TraceWriter(path: path, metadata: testMetadata, options: .init(chunkBlocks: 4, blockCodec: .predictive))
        for i in 0..<11 { _ = try writer.define(testDefinition(i)) }
        try writer.addCodePage(testCodePage)
        for t in 0..<threads { for k in 0..<4 { try writer.append(thread: UInt32(t), block: BlockID(k)) } }
        try writer.finish(exitStatus: 0, signal: nil, note: "")
        var rng = SplitMix64(seed: 16)
        for t in 0..<threads {
            let noise = (0..<16).map { _ in UInt8.random(in: 0...255, using: &rng) }
            try forgeChunk(path, sequence: t, thread: UInt32(t), firstEventIndex: 0, blockCount: 1 << 26,
                           codec: BlockStreamCodec.predictive.rawValue, blocks: noise, blocksSize: noise.count)
        }
        let run = try plexlabLimited(["info", "--verify", path], addressSpaceKiB: documentedBoundKiB, scratch: scratch)
        expectCleanError(run, contains: "\(path): \(threads) of \(threads) chunks are bad")
        let listed = run.stdout.split(separator: "\n").filter { $0.contains("block payload") }
        #expect(listed.count == threads, "\(run.stdout.suffix(500))")
    }

    /// A clean 7-chunk trace, then one damage each: verify fails with one line naming it.
    @Test func verifyChecksWhatAReplayNeeds() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let good = scratch.path("good.plextrace")
        try writeTestTrace(at: good, chunks: 7, chunkBlocks: 64)
        let verified = try plexlabLimited(["info", "--verify", good], addressSpaceKiB: documentedBoundKiB, scratch: scratch)
        #expect(verified.status == 0 && verified.stdout.contains("all 7 chunks good"), "\(verified.stdout)\(verified.stderr)")
        #expect(try plexlab(["compare", good], scratch: scratch).status == 0)

        let instructions = try TraceReader(path: good).summary().instructions
        let bomb = zeroFrame(size: 256 << 20)
        let cases: [(name: String, sql: String, arguments: StatementArguments, message: String)] = [
            ("tail", "DELETE FROM chunks WHERE sequence > 0", [],
             " is damaged: its summary counts 7 chunks but the chunks hold 1 (chunks are missing)"),
            ("last", "DELETE FROM chunks WHERE sequence = 6", [],
             " is damaged: its summary counts 7 chunks but the chunks hold 6 (chunks are missing)"),
            // Predictive chunks: the thread's later chunks cannot be decoded after the gap either.
            ("middle", "DELETE FROM chunks WHERE sequence = 3", [], ": 3 of 7 chunks are bad"),
            ("noblob", "PRAGMA foreign_keys = OFF; DELETE FROM code_blobs", [], " is damaged: code page 0x401000 version 0 has no content blob"),
            ("bomb", "UPDATE code_blobs SET data = ?", [Data(bomb)],
             " is damaged: code page 0x401000 version 0 inflates past its declared 4096 bytes"),
            ("nopage", "DELETE FROM code_pages", [],
             " is damaged: its summary counts 1 versions of 1 code pages but the file holds 0 of 0"),
            ("nopage-summary", "DELETE FROM code_pages; UPDATE summary SET code_pages = 0, code_page_versions = 0", [],
             " is damaged: block 0 at 0x401000 needs code page 0x401000 version 0, which the file does not hold"),
            ("instructions", "UPDATE summary SET instructions = instructions + 1", [],
             " is damaged: its summary counts \(instructions + 1) instructions but the chunks hold \(instructions)"),
        ]
        for (name, sql, arguments, message) in cases {
            let path = scratch.path("\(name).plextrace")
            try FileManager.default.copyItem(atPath: good, toPath: path)
            try DatabaseQueue(path: path).writeWithoutTransaction { db in try db.execute(sql: sql, arguments: arguments) }
            let run = try plexlabLimited(["info", "--verify", path], addressSpaceKiB: documentedBoundKiB, scratch: scratch)
            expectCleanError(run, contains: "\(path)\(message)")
        }
        // The middle chunk's gap is listed on stdout, naming where the thread's stream breaks.
        let middle = try plexlab(["info", "--verify", scratch.path("middle.plextrace")], scratch: scratch)
        #expect(middle.stdout.contains("chunk 4 (thread 0): starts at event 256 but thread 0's previous chunks end at 192"))
        // What verify now refuses, compare refuses too.
        expectCleanError(try plexlab(["compare", scratch.path("noblob.plextrace")], scratch: scratch),
                         contains: "code page 0x401000 version 0 has no content blob")
    }

    // MARK: - Imports

    /// A 200 MB line (written in 1 MiB pieces) and a 2 MiB program name: one line each, nothing written,
    /// under the bound.
    @Test func hugeLinesAndStringsAreRefusedWithBoundedMemory() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let meta = #"{"type":"meta","arch":"x86_64","program":"p"}"#
        let long = scratch.path("long.jsonl")
        _ = FileManager.default.createFile(atPath: long, contents: Data((meta + "\n" + #"{"type":"meta","program":""#).utf8))
        let handle = try FileHandle(forWritingAtPath: long).unwrap()
        handle.seekToEndOfFile()
        let piece = Data(repeating: UInt8(ascii: "a"), count: 1 << 20)
        for _ in 0..<200 { handle.write(piece) }
        handle.write(Data("\"}\n".utf8))
        handle.closeFile()

        let big = scratch.path("big.jsonl")
        try (#"{"type":"meta","arch":"x86_64","program":""# + String(repeating: "b", count: 2 << 20) + "\"}\n")
            .write(toFile: big, atomically: true, encoding: .utf8)
        let duplicate = scratch.path("dup.jsonl")
        try (meta + "\n" + #"{"type":"code","address":"0x401000","bytes":"c3","bytes":"90"}"# + "\n")
            .write(toFile: duplicate, atomically: true, encoding: .utf8)

        for (input, message) in [(long, "long.jsonl:2: line is longer than 64 MiB (split exec records across lines)"),
                                 (big, #"big.jsonl:1: meta "program" is 2097152 bytes, over the 1048576-byte cap"#),
                                 (duplicate, #"dup.jsonl:2: duplicate key "bytes" in one object"#)] {
            let out = input + ".plextrace"
            let run = try plexlabLimited(["import", input, "--out", out], addressSpaceKiB: documentedBoundKiB, scratch: scratch)
            expectCleanError(run, contains: message)
            #expect(!FileManager.default.fileExists(atPath: out))
        }
    }
}

private extension Optional {
    func unwrap() throws -> Wrapped {
        guard let self else { throw TestFailure("cannot open the file") }
        return self
    }
}
