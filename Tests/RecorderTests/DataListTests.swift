import Foundation
@testable import Recorder
import Testing
import TraceBuilder
import TraceModel
import TraceStore

/// Data pages on the wire (plexlab_plugin.h, DATA_LIST; docs/recorder.md, "Data pages on the wire"): hand-made
/// streams through the parser and the assembler. With the touch cache a TB execution followed by no list
/// repeats the touches its slot holds, per thread.
@Suite struct DataListTests {
    func record(_ kind: UInt32, _ payload: [UInt8]) -> [UInt8] { le(kind) + le(UInt32(payload.count)) + payload }
    func le(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value.littleEndian, Array.init) }
    func le(_ value: UInt64) -> [UInt8] { withUnsafeBytes(of: value.littleEndian, Array.init) }

    /// nop; jmp $ (one block) at 0x401000, and nop; ret at 0x401010.
    static let code: [(address: UInt64, bytes: [UInt8], lengths: [UInt8])] = [
        (0x401000, [0x90, 0xEB, 0xFE], [1, 2]), (0x401010, [0x90, 0xC3], [1, 1]),
    ]

    func hello(cache: Bool) -> [UInt8] {
        let flags = PluginWire.flagDataPages | (cache ? PluginWire.flagTouchCache : 0)
        return record(PluginWire.hello, le(PluginWire.protocolVersion) + le(flags) + le(UInt64(0)) + le(UInt64(0))
                      + Array("x86_64".utf8))
    }

    /// The code page and `count` translations, TB i of code[i % 2] (ids past 1 repeat the code: slot collisions).
    func translations(_ count: Int) -> [UInt8] {
        var page = [UInt8](repeating: 0xCC, count: 4096)
        for piece in Self.code {
            let offset = Int(piece.address & 0xFFF)
            page.replaceSubrange(offset..<(offset + piece.bytes.count), with: piece.bytes)
        }
        var bytes = record(PluginWire.page, le(UInt64(0x401000)) + page)
        for id in 0..<count {
            let piece = Self.code[id % 2]
            bytes += record(PluginWire.translation, le(UInt32(id)) + le(UInt32(piece.lengths.count)) + le(piece.address)
                            + le(UInt32(piece.bytes.count)) + piece.lengths + piece.bytes)
        }
        return bytes
    }

    /// A DATA_LIST of (page, reads, writes).
    func list(_ touches: [(UInt64, UInt32, UInt32)]) -> [UInt32] {
        [PluginWire.dataList, UInt32(touches.count)]
            + touches.flatMap { [UInt32(truncatingIfNeeded: $0.0), UInt32($0.0 >> 32), $0.1, $0.2] }
    }

    /// The same list as DATA_PAGES (protocol 6's short form): page number lo, then reads | writes << 14 | page
    /// number hi << 28, written out here by hand.
    func pages(_ touches: [(UInt64, UInt32, UInt32)]) -> [UInt32] {
        [0xFFFF_FF10 + UInt32(touches.count)]
            + touches.flatMap { [UInt32(truncatingIfNeeded: $0.0 >> 12), $0.1 | $0.2 << 14 | UInt32($0.0 >> 44) << 28] }
    }

    func events(_ thread: UInt32, _ words: [UInt32]) -> [UInt8] {
        record(PluginWire.events, le(thread) + le(UInt32(0)) + words.flatMap { le($0) })
    }

    /// Runs `stream` (after HELLO and the translations) through an assembler; returns each trace thread's
    /// touches as "eventIndex:page/reads/writes" and its block count.
    func assemble(_ stream: [UInt8]) throws -> [UInt32: (blocks: Int, touches: [String])] {
        let path = NSTemporaryDirectory() + "plexlab-data-list-\(UUID().uuidString.prefix(8)).plextrace"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let metadata = TraceMetadata(program: "t", argv: [], arch: .x86_64, recorder: "qemu-user", recorderVersion: "test",
                                     host: "test", date: "2026-12-06", hasDataTouches: true)
        let writer = try TraceWriter(path: path, metadata: metadata)
        let builder = TraceBuilder(writer: writer, arch: .x86_64)
        var assembler = TraceAssembler(builder: builder, writer: writer, arch: .x86_64)
        do {
            _ = try stream.withUnsafeBytes { bytes in try PluginProtocol.parse(bytes) { try assembler.handle($0) } }
            try assembler.finishThreads()
            try writer.finish(exitStatus: 0, signal: nil, note: "")
        } catch {
            try? writer.finish(exitStatus: 0, signal: nil, note: "")
            throw error
        }
        var result: [UInt32: (blocks: Int, touches: [String])] = [:]
        try TraceReader(path: path).forEachChunk { chunk in
            var entry = result[chunk.thread] ?? (0, [])
            entry.blocks += chunk.blocks.count
            entry.touches += chunk.dataTouches.map { "\($0.eventIndex):\(String($0.page, radix: 16))/\($0.reads)/\($0.writes)" }
            result[chunk.thread] = entry
        }
        return result
    }

    /// Two threads run the same TBs with different touches, interleaved: each repeat comes from its own thread's
    /// slot (a cache shared by the threads would give thread 1 thread 0's 0x7000 at its event 2).
    @Test func repeatsComeFromTheThreadsOwnCache() throws {
        var stream = hello(cache: true) + translations(2)
        stream += events(0, [0] + list([(0x7000, 1, 0)]) + [1] + list([(0x8000, 0, 2), (0x7000, 1, 1)]))
        stream += events(1, [0] + list([(0x9000, 3, 0)]) + [1] + list([]))
        // Thread 0: TB 0 and TB 1 repeat; then TB 0 touches something else, and its last TB gets a list.
        stream += events(0, [0, 1, 0] + list([(0x7000, 2, 0)]) + [1] + list([(0x8000, 0, 2), (0x7000, 1, 1)]))
        // Thread 1: TB 0 repeats 0x9000, TB 1 repeats its empty list, TB 0 repeats again.
        stream += events(1, [0, 1, 0] + list([(0x9000, 3, 0)]))
        stream += record(PluginWire.threadEnd, le(UInt32(1)) + le(UInt32(0)))
        stream += record(PluginWire.end, le(UInt32(0)) + le(UInt32(2)) + le(UInt64(0)) + le(UInt64(0)))
        let threads = try assemble(stream)
        #expect(threads[0]?.blocks == 6)
        #expect(threads[0]?.touches == ["0:7000/1/0", "1:8000/0/2", "1:7000/1/1", "2:7000/1/0", "3:8000/0/2",
                                        "3:7000/1/1", "4:7000/2/0", "5:8000/0/2", "5:7000/1/1"])
        #expect(threads[1]?.blocks == 5)
        #expect(threads[1]?.touches == ["0:9000/3/0", "2:9000/3/0", "4:9000/3/0"])
    }

    /// TB 0 and TB 4096 share slot 0: after TB 4096's list the slot is not TB 0's, so a repeat of TB 0 is refused.
    @Test func aRepeatFromASlotAnotherTBTookIsRefused() throws {
        let prefix = hello(cache: true) + translations(4097)
        let good = prefix + events(0, [0] + list([(0x7000, 1, 0)]) + [4096] + list([(0x8000, 1, 0)]) + [0]
                                   + list([(0x7000, 1, 0)]) + [4096] + list([(0x8000, 1, 0)]))
        #expect(try assemble(good)[0]?.touches == ["0:7000/1/0", "1:8000/1/0", "2:7000/1/0", "3:8000/1/0"])
        let bad = prefix + events(0, [0] + list([(0x7000, 1, 0)]) + [4096] + list([(0x8000, 1, 0)]) + [0, 4096])
        #expect(throws: RecorderError.self) { try assemble(bad) }
    }

    /// A TB touching more pages than a slot holds, or sending several lists (the plugin's spill), sums the lists
    /// per page and leaves its slot empty: its next execution must send a list, a repeat is refused.
    @Test func longAndSplitListsAreSummedAndNotCached() throws {
        let five: [(UInt64, UInt32, UInt32)] = (1...5).map { (UInt64($0) << 12, 1, 0) }
        let split = hello(cache: true) + translations(2)
            + events(0, [0] + list([(0x1000, 1, 0), (0x2000, 0, 1)]) + list([(0x1000, 2, 0), (0x3000, 0, 1)]) + [1]
                     + list([]) + [0] + list(five) + [1] + list([]))
        #expect(try assemble(split)[0]?.touches == ["0:1000/3/0", "0:2000/0/1", "0:3000/0/1", "2:1000/1/0", "2:2000/1/0",
                                                    "2:3000/1/0", "2:4000/1/0", "2:5000/1/0"])
        let repeatAfterSplit = hello(cache: true) + translations(2)
            + events(0, [0] + list([(0x1000, 1, 0)]) + list([(0x2000, 1, 0)]) + [0, 1] + list([]))
        #expect(throws: RecorderError.self) { try assemble(repeatAfterSplit) }
        let repeatAfterLong = hello(cache: true) + translations(2) + events(0, [0] + list(five) + [0, 1] + list([]))
        #expect(throws: RecorderError.self) { try assemble(repeatAfterLong) }
    }

    /// RUN words in a data-pages stream (issue 20): the plugin's counting of executions 0 1 0 1 0 1, TB 0 touching
    /// 0x7000 and TB 1 0x8000 every time. Worked by hand from the successor table (all 0, prev 0): the first 0 is a
    /// hit (RUN 1), its list closes the run, 1 is a miss, 0 a hit (RUN), and the last three are hits repeating
    /// their slots (the RUN grows to 4); the last execution gets its list. Each id of a RUN takes its touches from
    /// the cache as a plain id does, and a RUN over a TB whose slot holds nothing is refused.
    @Test func runsTakeTheirTouchesFromTheCache() throws {
        let words = [PluginWire.run, 1] + list([(0x7000, 1, 0)]) + [1] + list([(0x8000, 0, 1)]) + [PluginWire.run, 4]
            + list([(0x8000, 0, 1)])
        let stream = hello(cache: true) + translations(2) + events(0, words)
        let threads = try assemble(stream)
        #expect(threads[0]?.blocks == 6)
        #expect(threads[0]?.touches == ["0:7000/1/0", "1:8000/0/1", "2:7000/1/0", "3:8000/0/1", "4:7000/1/0",
                                        "5:8000/0/1"])
        let unsent = hello(cache: true) + translations(2) + events(0, [PluginWire.run, 1, 1] + list([]))
        #expect(throws: RecorderError.self) { try assemble(unsent) }
    }

    /// DATA_PAGES is a list in every rule: its largest counts and highest page read back, it fills the slot like a
    /// DATA_LIST (a repeat after it gives its touches), and two lists of one execution, one of each form, are
    /// summed and leave the slot empty. A short list cut off by the record's end is refused.
    @Test func shortListsAreListsInEveryRule() throws {
        let top: UInt64 = (1 << 48) - 4096
        let stream = hello(cache: true) + translations(2)
            + events(0, [0] + pages([(top, 16383, 16383), (0x7000, 0, 1)]) + [1] + pages([]) + [0, 1]
                     + pages([(0x8000, 2, 0)]) + list([(0x8000, 1, 1)]) + [0] + pages([(0x9000, 1, 0)]))
        #expect(try assemble(stream)[0]?.touches == ["0:fffffffff000/16383/16383", "0:7000/0/1", "2:fffffffff000/16383/16383",
                                                     "2:7000/0/1", "3:8000/3/1", "4:9000/1/0"])
        let repeatAfterBoth = hello(cache: true) + translations(2)
            + events(0, [1] + pages([(0x8000, 2, 0)]) + list([(0x9000, 1, 0)]) + [0] + list([]) + [1, 0] + list([]))
        #expect(throws: RecorderError.self) { try assemble(repeatAfterBoth) }
        let cut = hello(cache: true) + translations(2) + events(0, [0] + Array(pages([(0x7000, 1, 0), (0x8000, 1, 0)]).dropLast()))
        #expect(throws: RecorderError.self) { try assemble(cut) }
    }

    /// Without the cache flag (touch-cache=off) a TB without a list touched nothing, and the stream's end gives
    /// no repeat either: the last TB of a stream without a list has no touches.
    @Test func withoutTheCacheNoListMeansNoTouches() throws {
        let stream = hello(cache: false) + translations(2)
            + events(0, [0] + list([(0x7000, 1, 0)]) + [1, 0, 1] + list([(0x8000, 0, 1)]) + [0])
        #expect(try assemble(stream)[0]?.touches == ["0:7000/1/0", "3:8000/0/1"])
        let cachedEnd = hello(cache: true) + translations(2) + events(0, [0] + list([(0x7000, 1, 0)]) + [0])
        #expect(try assemble(cachedEnd)[0]?.touches == ["0:7000/1/0"])
    }
}

/// The touch cache in a real recording: three threads run the same loop concurrently over arrays of their
/// own, so the same TBs repeat and change their touches on every thread, interleaved. Recorded with the cache
/// and without it (every execution's touches sent), the worker threads have the same blocks and exactly the
/// same touches per block. (The main thread's joins may wait differently from run to run, so it is left out;
/// block ids are in first-execution order across threads, so blocks are compared by address.) A sequence
/// comparison also guards the equality test itself: one that always says "same" fails within 25 blocks. Two
/// shapes guard the plugin's other paths: a `rep stosb` of one byte, then none, on the same page, is one TB
/// executed with one store, then with no access (a "same" that ignored the number of accesses would repeat
/// the store), and a
/// block of 20 loads from 20 pages is a long execution (summed per page, and more pages than one list holds).
@Suite(.serialized) struct TouchCacheRecordingTests {
    static let source = """
        #include <pthread.h>
        #include <stdio.h>
        #define SIZE (48 * 4096)
        static unsigned char data[3][SIZE];
        static __attribute__((noinline)) void fill(unsigned char *p, unsigned long n) {
            __asm__ volatile("rep stosb" : "+D"(p), "+c"(n) : "a"(7) : "memory");
        }
        static __attribute__((noinline)) unsigned long many(const unsigned char *p) { /* 20 loads, 4096 apart */
            unsigned long s;
            __asm__ volatile("movzbl (%1), %%eax\\n\\t.set off, 4096\\n\\t.rept 19\\n\\tmovzbl off(%1), %%edx\\n\\t"
                             "add %%rdx, %%rax\\n\\t.set off, off + 4096\\n\\t.endr" : "=&a"(s) : "r"(p) : "rdx", "memory");
            return s;
        }
        static void *work(void *arg) {
            unsigned long t = (unsigned long)arg, sum = 0;
            for (int round = 0; round < 100; round++)
                for (int i = 0; i < SIZE; i += 448 + 64 * (int)t) {
                    data[t][i] += (unsigned char)round;
                    sum += data[t][(i * 7 + round) % SIZE];
                    fill(&data[t][i + 1], (unsigned long)(i / 448 % 2));
                    if ((i & 4095) < 512) sum += many(&data[t][i % 4096]);
                }
            return (void *)sum;
        }
        int main(void) {
            pthread_t threads[3];
            for (unsigned long t = 0; t < 3; t++) if (pthread_create(&threads[t], NULL, work, (void *)t)) return 1;
            unsigned long total = 0;
            for (int t = 0; t < 3; t++) { void *r; pthread_join(threads[t], &r); total += (unsigned long)r; }
            printf("%lu\\n", total);
            return 0;
        }
        """

    /// Per worker thread (trace threads 1-3): each executed block's address and its touches, in order.
    static func touchesByBlock(_ path: String) throws -> [UInt32: [String]] {
        let reader = try TraceReader(path: path)
        let definitions = try reader.blockDefinitions()
        var out: [UInt32: [String]] = [:]
        try reader.forEachChunk { chunk in
            guard chunk.thread != 0 else { return }
            var lines: [String] = []
            var next = 0
            for (offset, block) in chunk.blocks.enumerated() {
                let index = chunk.firstEventIndex + UInt64(offset)
                var line = String(definitions[Int(block)].address, radix: 16)
                while next < chunk.dataTouches.count && chunk.dataTouches[next].eventIndex == index {
                    let touch = chunk.dataTouches[next]
                    line += " \(String(touch.page, radix: 16))/\(touch.reads)/\(touch.writes)"
                    next += 1
                }
                lines.append(line)
            }
            out[chunk.thread, default: []] += lines
        }
        return out
    }

    /// The longest run of pages 4096 apart that one block's line reads exactly once each (no stores).
    static func consecutivePagesReadOnce(_ line: String) -> Int {
        let pages = line.split(separator: " ").dropFirst().filter { $0.hasSuffix("/1/0") }
            .compactMap { UInt64($0.split(separator: "/")[0], radix: 16) }.sorted()
        var longest = pages.isEmpty ? 0 : 1, run = 1
        for (a, b) in zip(pages, pages.dropFirst()) {
            run = b == a + 4096 ? run + 1 : 1
            longest = max(longest, run)
        }
        return longest
    }

    @Test func cachedTouchesAreExactlyTheTouchesSentEveryTime() throws {
        let directory = try scratch("touch-cache")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Self.source.write(toFile: directory + "/threads.c", atomically: true, encoding: .utf8)
        let gcc = Process()
        gcc.executableURL = URL(fileURLWithPath: "/usr/bin/gcc")
        gcc.arguments = ["-O1", "-pthread", "-o", directory + "/threads", directory + "/threads.c"]
        try gcc.run()
        gcc.waitUntilExit()
        try #require(gcc.terminationStatus == 0)
        var traces: [[UInt32: [String]]] = []
        for cache in [true, false] {
            var options = RecordOptions(output: directory + "/t-\(cache).plextrace", dataPages: true)
            options.touchCache = cache
            let result = try Recorder.record(program: directory + "/threads", arguments: [], options: options)
            #expect(result.termination == .exited(0))
            traces.append(try Self.touchesByBlock(options.output))
        }
        #expect(traces[0].keys.sorted() == [1, 2, 3] && traces[1].keys.sorted() == [1, 2, 3])
        // Which worker is trace thread 2 or 3 depends on which one's first TB ran first: the workers are matched
        // by their blocks and touches (each has stack and array pages of its own, so at most one can match).
        let sent = traces[1].values.sorted { $0.lexicographicallyPrecedes($1) }
        for (offset, cached) in traces[0].values.sorted(by: { $0.lexicographicallyPrecedes($1) }).enumerated() {
            let other = sent[offset]
            #expect(cached.count > 30_000 && cached.count == other.count, "worker \(offset): \(cached.count) and \(other.count) blocks")
            let firstDifference = cached.indices.first { $0 < other.count && cached[$0] != other[$0] }
            #expect(firstDifference == nil, "worker \(offset) differs at block \(firstDifference ?? 0)")
            // Every loop iteration reads and writes its arrays: touches on many blocks, not a vacuous comparison.
            #expect(cached.count { $0.contains("/") } > cached.count / 3, "worker \(offset)")
            // many()'s 20 loads, one per page on 20 pages in a row (its first access is the first of them), come
            // whole out of the long path (20 pages: more than one list of 16 holds). Both recordings take that
            // path, so this is checked by hand.
            let longest = cached.map(Self.consecutivePagesReadOnce).max() ?? 0
            #expect(longest >= 20, "worker \(offset): at most \(longest) pages in a row read once by one block")
        }
    }
}
