import CZstd
import Foundation
import GRDB
import Testing
import TraceModel
import TraceStore
#if canImport(Glibc)
import Glibc
#endif

/// A built executable of this package (plexlab, the plain-built fuzz targets), found next to the test
/// bundle: in the directory of /proc/self/exe or one above it.
func builtExecutable(_ name: String) throws -> String {
    let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    var directory = exe.deletingLastPathComponent()
    for _ in 0..<6 {
        for candidate in [directory.appendingPathComponent(name), directory.appendingPathComponent("debug/" + name)]
        where FileManager.default.isExecutableFile(atPath: candidate.path) {
            return candidate.path
        }
        directory = directory.deletingLastPathComponent()
    }
    throw TestFailure("no built \(name) near \(exe.path); run `swift build` first")
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// How a child process ended. Output goes through files, so a chatty child never blocks on a full pipe.
struct Run {
    var status: Int32
    var stdout: String
    var stderr: String
    /// Killed by the harness after the timeout: a hang.
    var timedOut: Bool
    var stderrLines: [Substring] { stderr.split(separator: "\n", omittingEmptySubsequences: false).dropLast() }
}

/// A child started with `start`; `wait` collects it (killing it after `timeout` seconds: a hang).
final class Child {
    let process = Process()
    let outPath: String
    let errPath: String

    init(_ executable: String, _ arguments: [String], scratch: Scratch, environment: [String: String] = [:]) throws {
        let id = UUID().uuidString.prefix(8)
        outPath = scratch.path("out-\(id)")
        errPath = scratch.path("err-\(id)")
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle(forWritingAtPath: outPath)
        process.standardError = FileHandle(forWritingAtPath: errPath)
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }

    func wait(timeout: Double = 120) -> Run {
        let deadline = Date().addingTimeInterval(timeout)
        var timedOut = false
        while process.isRunning {
            if Date() > deadline {
                kill(pid, SIGKILL)
                timedOut = true
                break
            }
            usleep(5_000)
        }
        process.waitUntilExit()
        let status = process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus
                                                                     : process.terminationStatus
        return Run(status: status, stdout: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
                   stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "", timedOut: timedOut)
    }
}

func run(_ executable: String, _ arguments: [String], scratch: Scratch, timeout: Double = 120) throws -> Run {
    try Child(executable, arguments, scratch: scratch).wait(timeout: timeout)
}

func plexlab(_ arguments: [String], scratch: Scratch, timeout: Double = 120) throws -> Run {
    try run(try builtExecutable("plexlab"), arguments, scratch: scratch, timeout: timeout)
}

/// plexlab under a shell's `ulimit -v` (KiB of address space): a reader that tried to honour a lie about
/// a size would die instead of ending with an error.
func plexlabLimited(_ arguments: [String], addressSpaceKiB: Int, scratch: Scratch) throws -> Run {
    let quoted = ([try builtExecutable("plexlab")] + arguments).map { "'" + $0 + "'" }.joined(separator: " ")
    return try run("/bin/sh", ["-c", "ulimit -v \(addressSpaceKiB) && exec \(quoted)"], scratch: scratch)
}

/// What a crash, a trap or a backtrace leaves on stderr; none may ever appear.
let crashMarkers = ["Fatal error", "Crash", "Backtrace", "Segmentation fault", "Illegal instruction", "Thread 0",
                    "Aborted", "AddressSanitizer"]

/// The CLI's contract for a bad input: exit code 2, exactly one stderr line `plexlab: error: ...`, no crash.
func expectCleanError(_ run: Run, contains fragment: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(!run.timedOut, "hang", sourceLocation: sourceLocation)
    #expect(run.status == 2, "exit \(run.status): \(run.stderr)", sourceLocation: sourceLocation)
    #expect(run.stderrLines.count == 1, "stderr: \(run.stderr)", sourceLocation: sourceLocation)
    #expect(run.stderr.hasPrefix("plexlab: error: "), "stderr: \(run.stderr)", sourceLocation: sourceLocation)
    for marker in crashMarkers {
        #expect(!run.stderr.contains(marker), "stderr: \(run.stderr)", sourceLocation: sourceLocation)
    }
    if let fragment {
        #expect(run.stderr.contains(fragment), "stderr: \(run.stderr)", sourceLocation: sourceLocation)
    }
}

/// A fresh directory per test, removed by the caller's `defer`.
struct Scratch {
    let directory: String

    /// No test name in the path: error lines quote paths, and a name like "...NeverCrash" would look like
    /// a crash report to `expectCleanError`.
    init() {
        directory = NSTemporaryDirectory() + "plexlab-rel-\(UUID().uuidString.prefix(8))"
        try! FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    func path(_ file: String) -> String { directory + "/" + file }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }
}


let testMetadata = TraceMetadata(program: "/bin/reliable", argv: ["reliable"], arch: .x86_64, recorder: "test",
                                 recorderVersion: "1", host: "host", date: "2026-01-01T00:00:00Z",
                                 hasDataTouches: false)

/// The code page of every `testDefinition` (they lie in 0x401000 ..< 0x4010b0, version 0).
let testCodePage = CodePage(address: 0x401000, version: 0, bytes: [UInt8](repeating: 0xeb, count: CodePage.size))

/// Block `i` of the test traces: `i + 1` instructions, so sums tell which blocks were counted.
func testDefinition(_ i: Int) -> BlockDefinition {
    BlockDefinition(address: 0x401000 + 16 * UInt64(i), length: 2, instructionCount: UInt32(i + 1), codeVersion: 0,
                    exitKind: .jmp, staticTarget: 0x401000, sensitiveCount: 0, cpuidCount: 0, bytes: [0xeb, 0xfe])
}

/// `chunks` chunks of `chunkBlocks` blocks of thread 0 with seeded pseudo-random ids among 11 definitions
/// (so every chunk's payload differs and the predictive coder has work to do); a syscall at the last block
/// of each chunk. Finished.
func writeTestTrace(at path: String, chunks: Int, chunkBlocks: Int = 64, codec: BlockStreamCodec = .writerDefault) throws {
    let writer = try TraceWriter(path: path, metadata: testMetadata,
                                 options: .init(chunkBlocks: chunkBlocks, blockCodec: codec))
    for i in 0..<11 { _ = try writer.define(testDefinition(i)) }
    try writer.addCodePage(testCodePage)
    var rng = SplitMix64(seed: 11)
    for n in 0..<(chunks * chunkBlocks) {
        // Recorded before its block is appended: the append may commit the chunk.
        if n % chunkBlocks == chunkBlocks - 1 {
            writer.record(thread: 0, syscall: SyscallEvent(eventIndex: UInt64(n), number: Int64(n)))
        }
        try writer.append(thread: 0, block: BlockID.random(in: 0..<11, using: &rng))
    }
    try writer.finish(exitStatus: 0, signal: nil, note: "")
}

/// `plexlab info --json` output, decoded.
func decodeInfo(_ run: Run) throws -> TraceInfo {
    try JSONDecoder().decode(TraceInfo.self, from: Data(run.stdout.utf8))
}

// MARK: - Forging

/// Replaces one chunk's block payload (raw codec unless `codec` says otherwise) and recomputes nothing but
/// what a forger would: the checksum.
func forgeChunk(_ path: String, sequence: Int, thread: UInt32 = 0, firstEventIndex: UInt64, blockCount: Int,
                codec: UInt8 = 0, blocks: [UInt8], blocksSize: Int) throws {
    // FNV-1a 64 over the ten header fields, then each payload's length and bytes (docs/trace-format.md).
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    func add(_ word: UInt64) { withUnsafeBytes(of: word.littleEndian) { for b in $0 { hash = (hash ^ UInt64(b)) &* 0x100_0000_01b3 } } }
    for field in [UInt64(sequence), UInt64(thread), firstEventIndex, UInt64(blockCount), UInt64(codec), UInt64(blocksSize),
                  0, 0, 0, 0] {
        add(field)
    }
    add(UInt64(blocks.count))
    for b in blocks { hash = (hash ^ UInt64(b)) &* 0x100_0000_01b3 }
    add(0)
    try DatabaseQueue(path: path).write { db in
        try db.execute(sql: """
            UPDATE chunks SET thread = ?, first_event_index = ?, block_count = ?, codec = ?, blocks = ?, blocks_size = ?,
                events = NULL, events_size = 0, code_writes = 0, syscalls = 0, data_touches = 0, checksum = ?
            WHERE sequence = ?
            """, arguments: [Int64(thread), Int64(firstEventIndex), blockCount, Int64(codec), Data(blocks), blocksSize,
                             Int64(bitPattern: hash), sequence])
    }
}

/// A zstd frame of `size` zero bytes with no content size in its header (streamed).
func zeroFrame(size: Int) -> [UInt8] {
    let context = ZSTD_createCCtx()!
    defer { ZSTD_freeCCtx(context) }
    _ = ZSTD_CCtx_setParameter(context, ZSTD_c_contentSizeFlag, 0)
    let zeros = [UInt8](repeating: 0, count: 1 << 20)
    var frame: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 1 << 16)
    var remaining = size
    while remaining > 0 {
        let take = min(remaining, zeros.count)
        remaining -= take
        let mode = remaining == 0 ? ZSTD_e_end : ZSTD_e_continue
        zeros.withUnsafeBytes { z in
            var input = ZSTD_inBuffer(src: z.baseAddress, size: take, pos: 0)
            var pending = 1
            repeat {
                buffer.withUnsafeMutableBytes { b in
                    var output = ZSTD_outBuffer(dst: b.baseAddress, size: b.count, pos: 0)
                    pending = ZSTD_compressStream2(context, &output, &input, mode)
                    frame += b.prefix(output.pos)
                }
            } while input.pos < input.size || (mode == ZSTD_e_end && pending != 0)
        }
    }
    return frame
}
