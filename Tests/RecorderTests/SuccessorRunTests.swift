import Foundation
import PlexLabWire
@testable import Recorder
import Testing
import TraceBuilder
import TraceModel
import TraceStore
import Workloads

/// The plugin's RUN words (plexlab_plugin.h; docs/recorder.md, "Runs"): TBs its per-thread successor table
/// predicts are counted, not sent. The reader must get exactly the block sequence the plain encoding gives.
@Suite struct SuccessorRunTests {
    /// The encoding as plexlab_plugin.h defines it, written out independently of the plugin and the reader.
    struct RunEncoder {
        var next = [UInt32](repeating: 0, count: Int(PLEXLAB_SUCCESSOR_SLOTS))
        var prev: UInt32 = 0
        var words: [UInt32] = []
        var openRun: Int?
        var hits = 0

        mutating func executed(_ id: UInt32) {
            let slot = Int(prev & (PLEXLAB_SUCCESSOR_SLOTS - 1))
            prev = id
            if next[slot] == id {
                hits += 1
                if let at = openRun { words[at] += 1 } else { words += [PluginWire.run, 1]; openRun = words.count - 1 }
            } else {
                next[slot] = id
                words.append(id)
                openRun = nil
            }
        }

        mutating func syscall(_ number: UInt32) {
            words += [PluginWire.syscall, number, 0]
            openRun = nil
        }

        /// The words so far go out as a record (the plugin's buffer flush): an open run is closed.
        mutating func take() -> [UInt32] {
            defer { words = []; openRun = nil }
            return words
        }

        /// Where `words` may be cut into two records: after a whole id, RUN or syscall.
        static func middleBoundary(_ words: [UInt32]) -> Int {
            var boundaries: [Int] = [0]
            var i = 0
            while i < words.count {
                i += words[i] == PluginWire.run ? 2 : words[i] == PluginWire.syscall ? 3 : 1
                boundaries.append(i)
            }
            return boundaries[boundaries.count / 2]
        }
    }

    func record(_ kind: UInt32, _ payload: [UInt8]) -> [UInt8] { le(kind) + le(UInt32(payload.count)) + payload }
    func le(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value.littleEndian, Array.init) }
    func le(_ value: UInt64) -> [UInt8] { withUnsafeBytes(of: value.littleEndian, Array.init) }
    func events(_ thread: UInt32, _ words: [UInt32]) -> [UInt8] {
        record(PluginWire.events, le(thread) + le(UInt32(0)) + words.flatMap { le($0) })
    }

    static let tbCount: UInt32 = 6

    /// HELLO (protocol `version`), one code page and `tbCount` TBs of one `nop` each, 16 bytes apart.
    func prologue(version: UInt32 = PluginWire.protocolVersion) -> [UInt8] {
        var stream = record(PluginWire.hello, le(version) + le(UInt32(0)) + le(UInt64(0)) + le(UInt64(0))
                            + Array("x86_64".utf8))
        stream += record(PluginWire.page, le(UInt64(0x401000)) + [UInt8](repeating: 0x90, count: 4096))
        for id in 0..<Self.tbCount {
            stream += record(PluginWire.translation, le(id) + le(UInt32(1)) + le(0x401000 + UInt64(id) * 16)
                             + le(UInt32(1)) + [1, 0x90])
        }
        return stream
    }

    /// Per trace thread: the addresses of the blocks it executed, and its syscalls (event index, number).
    struct Assembled: Equatable {
        var blocks: [UInt32: [UInt64]] = [:]
        var syscalls: [UInt32: [SyscallEvent]] = [:]
    }

    func assemble(_ stream: [UInt8]) throws -> Assembled {
        let path = NSTemporaryDirectory() + "plexlab-runs-\(UUID().uuidString.prefix(8)).plextrace"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let metadata = TraceMetadata(program: "runs", argv: [], arch: .x86_64, recorder: "test",
                                     recorderVersion: "test", host: "test", date: "2026-12-06")
        let writer = try TraceWriter(path: path, metadata: metadata)
        var assembler = TraceAssembler(builder: TraceBuilder(writer: writer, arch: .x86_64), writer: writer, arch: .x86_64)
        _ = try stream.withUnsafeBytes { bytes in try PluginProtocol.parse(bytes) { try assembler.handle($0) } }
        try assembler.finishThreads()
        try writer.finish(exitStatus: 0, signal: nil, note: "")
        let reader = try TraceReader(path: path)
        let definitions = try reader.blockDefinitions()
        var out = Assembled()
        try reader.forEachChunk { chunk in
            out.blocks[chunk.thread, default: []] += chunk.blocks.map { definitions[Int($0)].address }
            out.syscalls[chunk.thread, default: []] += chunk.syscalls
        }
        return out
    }

    func address(_ id: UInt32) -> UInt64 { 0x401000 + UInt64(id) * 16 }

    /// Worked by hand: with the table all 0, TB 0 first is a hit (next[0] = 0); TB 1 misses and sets
    /// next[0] = 1; then 0 (next[1] = 0), 1, 0, 1 hit, and 2 misses: RUN 1, 1, RUN 4, 2.
    @Test func aHandWorkedRun() throws {
        var encoder = RunEncoder()
        for id: UInt32 in [0, 1, 0, 1, 0, 1, 2] { encoder.executed(id) }
        let words = encoder.take()
        #expect(words == [PluginWire.run, 1, 1, PluginWire.run, 4, 2])
        let assembled = try assemble(prologue() + events(0, words))
        #expect(assembled.blocks[0] == [0, 1, 0, 1, 0, 1, 2].map(address))
    }

    /// Two threads interleaved in records of uneven length, with syscalls inside runs, a run split over two
    /// records, and two RUNs in a row (what a signal-time flush of an open run sends): the same blocks and
    /// syscalls, at the same event indices, as every id sent as a word.
    @Test func runsDecodeToThePlainSequenceAcrossThreadsAndRecords() throws {
        var plain = prologue(), runs = prologue()
        var encoders = [RunEncoder(), RunEncoder()]
        var plainWords: [[UInt32]] = [[], []]
        var seed: UInt64 = 7
        for step in 0..<3000 {
            let thread = step % 7 < 4 ? 0 : 1
            // A loop over TBs 0-3 whose exit goes to 4 or 5 by a pseudo-random draw: hits and misses.
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            let id: UInt32 = step % 4 == 3 ? (seed >> 60 < 5 ? 4 : 5) : UInt32(step % 4)
            encoders[thread].executed(id)
            plainWords[thread].append(id)
            if seed >> 59 == 3 {
                encoders[thread].syscall(39)
                plainWords[thread] += [PluginWire.syscall, 39, 0]
            }
            if step % 97 == 96 || step % 131 == 130 {
                plain += events(UInt32(thread), plainWords[thread])
                plainWords[thread] = []
                var words = encoders[thread].take()
                if step % 131 == 130, let last = words.last, words.count >= 2, words[words.count - 2] == PluginWire.run, last > 1 {
                    // The open run sent in two pieces, as after a signal-time flush.
                    words[words.count - 1] = 1
                    words += [PluginWire.run, last - 1]
                }
                let half = RunEncoder.middleBoundary(words)
                runs += events(UInt32(thread), Array(words[..<half])) + events(UInt32(thread), Array(words[half...]))
            }
        }
        for thread in 0..<2 {
            plain += events(UInt32(thread), plainWords[thread])
            runs += events(UInt32(thread), encoders[thread].take())
        }
        #expect(encoders[0].hits + encoders[1].hits > 1000)
        #expect(runs.count < plain.count)
        let expected = try assemble(plain), got = try assemble(runs)
        // Steps 0-2999 go to plugin thread 0 when step % 7 < 4: 428 weeks of 4, and steps 2996-2999; the
        // rest to plugin thread 1 (trace threads are numbered as their first record comes).
        #expect(expected.blocks.values.map(\.count).sorted() == [1284, 1716])
        #expect(got == expected)
    }

    /// A RUN must be whole, name translated TBs, and come from a protocol the reader knows.
    @Test func malformedRunsAndVersions() throws {
        #expect(throws: RecorderError.protocolError(detail: "truncated side event of thread 0")) {
            try assemble(prologue() + events(0, [1, PluginWire.run]))
        }
        // A RUN before any translation predicts TB 0 (the table is all 0), which does not exist.
        let bare = record(PluginWire.hello, le(PluginWire.protocolVersion) + le(UInt32(0)) + le(UInt64(0)) + le(UInt64(0))
                          + Array("x86_64".utf8))
        #expect(throws: RecorderError.protocolError(detail: "executed translation block 0 was never translated")) {
            try assemble(bare + events(0, [PluginWire.run, 2]))
        }
        // Protocol 3 (no RUN words), 4 (no DATA_LIST) and 5 (no DATA_PAGES) still read; 7 does not.
        #expect(try assemble(prologue(version: 3) + events(0, [2, 3])).blocks[0] == [2, 3].map(address))
        #expect(try assemble(prologue(version: 4) + events(0, [2, 3])).blocks[0] == [2, 3].map(address))
        #expect(try assemble(prologue(version: 5) + events(0, [2, 3])).blocks[0] == [2, 3].map(address))
        #expect(throws: RecorderError.protocolError(detail: "plugin speaks protocol 7, the recorder 6")) {
            try assemble(prologue(version: 7) + events(0, [2]))
        }
    }
}

/// A real multi-threaded program recorded with RUN words and without (plugin argument runs=off): every
/// thread runs the same blocks in both traces.
@Suite(.serialized) struct SuccessorRunRecordingTests {
    static let source = """
        #include <pthread.h>
        #include <stdio.h>
        static unsigned long results[2];
        static void *work(void *arg) {
            unsigned long seed = (unsigned long)arg, sum = 0;
            for (int i = 0; i < 20000; i++) {
                seed = seed * 6364136223846793005ul + 1442695040888963407ul;
                if ((seed >> 33) % 3 == 0) sum += seed >> 40;
                else if ((seed >> 35) & 1) sum ^= seed;
                else sum -= i;
            }
            results[(unsigned long)arg - 1] = sum;
            return 0;
        }
        int main(void) {
            unsigned long s = 0;
            for (int i = 0; i < 20000; i++) s += (i * 7) % 13 == 0 ? (unsigned long)i : 1;
            pthread_t a, b;
            pthread_create(&a, 0, work, (void *)1);
            pthread_create(&b, 0, work, (void *)2);
            pthread_join(a, 0);
            pthread_join(b, 0);
            printf("%lu %lu %lu\\n", s, results[0], results[1]);
            return 0;
        }
        """

    /// The addresses of the main thread's blocks up to its first clone (what follows, its waits, depends on
    /// timing), and of each worker's, in a canonical order (trace threads are numbered as their first events
    /// reach the recorder).
    func blocks(_ path: String) throws -> (main: [UInt64], workers: [[UInt64]]) {
        let reader = try TraceReader(path: path)
        let definitions = try reader.blockDefinitions()
        var threads: [UInt32: [UInt64]] = [:]
        var clones: [UInt32: UInt64] = [:]
        try reader.forEachChunk { chunk in
            threads[chunk.thread, default: []] += chunk.blocks.map { definitions[Int($0)].address }
            if clones[chunk.thread] == nil, let clone = chunk.syscalls.first(where: { $0.number == 56 || $0.number == 435 }) {
                clones[chunk.thread] = clone.eventIndex
            }
        }
        guard clones.count == 1, let (main, clone) = clones.first, threads.count == 3 else { return ([], []) }
        let workers = threads.filter { $0.key != main }.values.sorted { $0.lexicographicallyPrecedes($1) }
        return (Array(threads[main]!.prefix(Int(clone))), workers)
    }

    /// The crash happens inside an open RUN: the signal-time flush sends it with the faulting TB counted, so
    /// the trace is the same as without runs. The loop reads the 8 pages of its .bss and faults on the ninth.
    @Test func aCrashInsideARunLosesNothing() throws {
        let directory = try scratch("runs-crash")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let crash = Workload(name: "crash-in-run", summary: "reads page after page until one is not mapped",
                             recipe: .assembly(source: """
                    .globl _start
                    .text
            _start: lea buf(%rip), %rdi
                    mov $100, %ecx
            1:      mov (%rdi), %eax
                    add $4096, %rdi
                    dec %ecx
                    jnz 1b
                    mov $60, %eax
                    syscall
                    .bss
                    .balign 4096
            buf:    .space 8 * 4096
            """, arch: .x86_64))
        let (result, trace) = try record(crash, in: directory)
        let (_, plain) = try record(crash, in: directory + "/plain") { path in
            var options = RecordOptions(output: path)
            options.successorRuns = false
            return options
        }
        #expect(result.termination == .signaled(SIGSEGV))
        #expect(trace.metadata.complete && trace.metadata.signal == SIGSEGV)
        // TB 0 (the setup and the first read) is a hit of the empty table (RUN 1); the loop's TB misses twice
        // (next[0], then next[1] learn it), then hits six times, the last one faulting: RUN 6, open at the crash.
        #expect(trace.blocks.count == 9 && plain.blocks.count == 9)
        #expect(trace.blocks.map { trace.definitions[Int($0)].address } == plain.blocks.map { plain.definitions[Int($0)].address })
    }

    /// A program that handles its own SIGSEGV and goes on: from the second round on each fault comes inside an
    /// open RUN (the calls to before() and store() are predicted), the signal-time flush sends it, and the hits
    /// it gets afterwards (the handler's first blocks, also predicted) follow as a RUN of their own at the next
    /// flush. Both recordings run the same blocks.
    @Test func handledFaultsInsideRunsKeepTheSequence() throws {
        let directory = try scratch("runs-handled")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let program = try ProcessEndTests.build("handled", """
            #include <signal.h>
            #include <stdio.h>
            #include <sys/mman.h>
            static char *page;
            static void fixed(int sig, siginfo_t *info, void *context) {
                (void)sig; (void)info; (void)context;
                mprotect(page, 4096, PROT_READ | PROT_WRITE);
            }
            __attribute__((noinline)) static void store(int round, unsigned long sum) { page[round] = (char)sum; }
            __attribute__((noinline)) static void before(int round, unsigned long sum) { store(round, sum); __asm__ volatile(""); }
            int main(void) {
                struct sigaction action = { 0 };
                action.sa_sigaction = fixed;
                action.sa_flags = SA_SIGINFO;
                sigaction(SIGSEGV, &action, 0);
                page = mmap(0, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                unsigned long sum = 0;
                for (int round = 0; round < 6; round++) {
                    mprotect(page, 4096, PROT_NONE);
                    for (int i = 0; i < 5000; i++) sum += (unsigned long)(i * 3 % 7);
                    before(round, sum); // the loop's exit misses; before() and store() are hits from round 2 on
                }
                printf("%lu %d\\n", sum, page[5]);
                return 0;
            }
            """, flags: ["-O1"], in: directory)
        var options = RecordOptions(output: directory + "/runs.plextrace")
        options.followProcesses = false
        let a = try Recorder.record(program: program, arguments: [], options: options)
        options.output = directory + "/plain.plextrace"
        options.successorRuns = false
        let b = try Recorder.record(program: program, arguments: [], options: options)
        #expect(a.metadata.exitStatus == 0 && b.metadata.exitStatus == 0)
        let runs = try ReadBack(a.path), words = try ReadBack(b.path)
        // The handler ran six times: rt_sigreturn (15) six times in both.
        #expect(runs.syscalls.filter { $0.number == 15 }.count == 6 && words.syscalls.filter { $0.number == 15 }.count == 6)
        #expect(runs.blocks.count > 6 * 5000)
        #expect(runs.blocks.map { runs.definitions[Int($0)].address } == words.blocks.map { words.definitions[Int($0)].address })
        #expect(runs.syscalls == words.syscalls)
    }

    @Test func threadsRunTheSameBlocksWithAndWithoutRuns() throws {
        let directory = try scratch("runs-threads")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let program = try ProcessEndTests.build("threads", Self.source, flags: ["-O1", "-pthread"], in: directory)
        let withRuns = RecordOptions(output: directory + "/runs.plextrace")
        var plain = withRuns
        plain.output = directory + "/plain.plextrace"
        plain.successorRuns = false
        let a = try Recorder.record(program: program, arguments: [], options: withRuns)
        let b = try Recorder.record(program: program, arguments: [], options: plain)
        #expect(a.threads == 3 && b.threads == 3)
        // The encoding is what changed: fewer bytes from the plugin (translations and pages are most of
        // them in a program this short) for the same blocks.
        #expect(a.pluginBytes < b.pluginBytes)
        let runs = try blocks(a.path), words = try blocks(b.path)
        #expect(runs.main.count > 20000 && runs.workers.count == 2 && runs.workers.allSatisfy { $0.count > 20000 })
        #expect(runs.main == words.main)
        #expect(runs.workers == words.workers)
    }
}
