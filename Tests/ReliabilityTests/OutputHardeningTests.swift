import Foundation
import Testing
import TraceModel
import TraceStore
#if canImport(Glibc)
import Glibc
#endif

/// Issue 16, items 1, 4 and 7: `--force` replaces only a trace, a new trace is renamed over the target
/// only when it is whole, a second writer is refused, a failed run keeps the old file and leaves no
/// partial file, and a FIFO given as a trace never hangs. docs/reliability.md, "Hardening, second round".
@Suite(.serialized) struct OutputHardeningTests {
    /// Two blocks (A: 2 instructions, B: 3), each run once.
    static let goodImport = """
        {"type":"meta","arch":"x86_64","program":"/tmp/two","data_touches":false}
        {"type":"code","address":"0x401000","bytes":"ffc0 eb01 90 90 90 ebf7"}
        {"type":"exec","thread":0,"blocks":["0x401000","0x401005"]}

        """
    /// Fails at line 3: the block is in no code record.
    static let badImport = """
        {"type":"meta","arch":"x86_64","program":"/tmp/bad","data_touches":false}
        {"type":"code","address":"0x401000","bytes":"ffc0 eb01 90 90 90 ebf7"}
        {"type":"exec","thread":0,"blocks":["0x402000"]}

        """

    private func write(_ text: String, _ path: String) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    }

    private func bytes(_ path: String) -> Data? { FileManager.default.contents(atPath: path) }

    /// Files in the scratch directory whose names start with `prefix` (the target, .partial, .lock, -wal...).
    private func files(_ scratch: Scratch, _ prefix: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: scratch.directory)) ?? []).filter { $0.hasPrefix(prefix) }.sorted()
    }

    private func importGood(to trace: String, scratch: Scratch, force: Bool = false) throws -> Run {
        let input = scratch.path("good.jsonl")
        try write(Self.goodImport, input)
        return try plexlab(["import", input, "--out", trace] + (force ? ["--force"] : []), scratch: scratch)
    }

    @Test func forceRefusesAnythingButATraceAndTouchesNothing() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let directory = scratch.path("dir")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        try write("precious", directory + "/inside")
        let fifo = scratch.path("fifo")
        #expect(mkfifo(fifo, 0o644) == 0)
        let text = scratch.path("notes.txt")
        try write("my notes", text)
        let link = scratch.path("link.plextrace")
        #expect(symlink(text, link) == 0)
        let dangling = scratch.path("dangling.plextrace")
        #expect(symlink(scratch.path("nowhere"), dangling) == 0)
        let cases: [(String, String)] = [(directory, "it is a directory"), (fifo, "it is a FIFO"), ("/dev/null", "it is a device"),
                                         (text, "it is not a PlexLab trace (not an SQLite database)"),
                                         (link, "it is not a PlexLab trace (not an SQLite database)"),
                                         (dangling, "it is a symbolic link to nothing")]
        for (target, reason) in cases {
            let run = try importGood(to: target, scratch: scratch, force: true)
            expectCleanError(run, contains: "refusing to replace \(target): \(reason); only a PlexLab trace file is ever replaced")
        }
        // The program never starts: the output is refused first.
        let recorded = try plexlab(["record", "--out", directory, "--force", "--", "/bin/true"], scratch: scratch)
        expectCleanError(recorded, contains: "refusing to replace \(directory): it is a directory")
        let device = try plexlab(["record", "--out", "/dev/null", "--force", "--", "/bin/true"], scratch: scratch)
        expectCleanError(device, contains: "refusing to replace /dev/null: it is a device")

        #expect(bytes(directory + "/inside") == Data("precious".utf8))
        var info = stat()
        #expect(lstat(fifo, &info) == 0 && info.st_mode & S_IFMT == S_IFIFO)
        #expect(stat("/dev/null", &info) == 0 && info.st_mode & S_IFMT == S_IFCHR)
        #expect(bytes(text) == Data("my notes".utf8))
        #expect(lstat(link, &info) == 0 && info.st_mode & S_IFMT == S_IFLNK)
        // No partial or lock file left behind by any refusal.
        #expect(files(scratch, "").allSatisfy { !$0.contains(".partial") && !$0.hasSuffix(".lock") }, "\(files(scratch, ""))")
    }

    @Test func forceReplacesATraceAndThroughALinkItsTarget() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let trace = scratch.path("t.plextrace")
        try writeTestTrace(at: trace, chunks: 2)
        expectCleanError(try importGood(to: trace, scratch: scratch), contains: "\(trace) already exists")
        #expect(try TraceReader(path: trace).metadata.program == "/bin/reliable")
        #expect(try importGood(to: trace, scratch: scratch, force: true).status == 0)
        #expect(try TraceReader(path: trace).metadata.program == "/tmp/two")
        #expect(files(scratch, "t.") == ["t.plextrace"])

        // A link to a trace: the trace it points to is replaced, the link stays a link.
        let real = scratch.path("real.plextrace")
        try writeTestTrace(at: real, chunks: 1)
        let link = scratch.path("latest.plextrace")
        #expect(symlink(real, link) == 0)
        #expect(try importGood(to: link, scratch: scratch, force: true).status == 0)
        var info = stat()
        #expect(lstat(link, &info) == 0 && info.st_mode & S_IFMT == S_IFLNK)
        #expect(try TraceReader(path: real).summary().blocksExecuted == 2)

        // A bare relative --out (NSString.deletingLastPathComponent trapped on "d").
        let quoted = "cd '\(scratch.directory)' && exec '\(try builtExecutable("plexlab"))' import good.jsonl --out d"
        let bare = try run("/bin/sh", ["-c", quoted], scratch: scratch)
        #expect(bare.status == 0, "\(bare.stderr)")
        #expect(try TraceReader(path: scratch.path("d")).summary().blocksExecuted == 2)
    }

    @Test func aFailedImportKeepsTheOldTraceAndLeavesNoPartialFile() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let trace = scratch.path("t.plextrace")
        try writeTestTrace(at: trace, chunks: 3)
        let before = try #require(bytes(trace))
        let bad = scratch.path("bad.jsonl")
        try write(Self.badImport, bad)
        let run = try plexlab(["import", bad, "--out", trace, "--force"], scratch: scratch)
        expectCleanError(run, contains: "\(bad):3: exec block 0x402000 is not in any code record")
        #expect(bytes(trace) == before)
        #expect(files(scratch, "t.") == ["t.plextrace"])
        #expect(try TraceReader(path: trace).summary().blocksExecuted == 3 * 64)
        // Without an old file: nothing at all is left.
        let fresh = scratch.path("fresh.plextrace")
        expectCleanError(try plexlab(["import", bad, "--out", fresh], scratch: scratch))
        #expect(files(scratch, "fresh") == [])
    }

    /// A full disk, simulated with RLIMIT_FSIZE (`ulimit -f`, in 512-byte blocks under dash) and SIGXFSZ
    /// ignored, so write() fails with EFBIG: no privileges needed, unlike a small tmpfs.
    private func importUnderFileSizeLimit(_ input: String, to trace: String, blocks512: Int, scratch: Scratch) throws -> Run {
        let plexlab = try builtExecutable("plexlab")
        let script = "trap '' XFSZ; ulimit -f \(blocks512) && exec '\(plexlab)' import '\(input)' --out '\(trace)' --force --chunk-blocks 2048"
        return try run("/bin/sh", ["-c", script], scratch: scratch)
    }

    private func writeLongImport(_ path: String, blocks: Int) throws {
        var text = """
            {"type":"meta","arch":"x86_64","program":"/tmp/spin","data_touches":false}
            {"type":"code","address":"0x401000","bytes":"ffc0 eb01 90 90 90 ebf7"}

            """
        let line = "{\"type\":\"exec\",\"thread\":0,\"blocks\":["
            + Array(repeating: "\"0x401000\",\"0x401005\"", count: 500).joined(separator: ",") + "]}\n"
        text += String(repeating: line, count: blocks / 1000)
        try write(text, path)
    }

    @Test func aFullDiskKeepsTheOldTraceAndCleansUp() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let input = scratch.path("long.jsonl")
        // Random-looking ids would compress badly; the alternation compresses well, so many blocks are needed.
        try writeLongImport(input, blocks: 2_000_000)
        let trace = scratch.path("t.plextrace")
        try writeTestTrace(at: trace, chunks: 2)
        let before = try #require(bytes(trace))
        // 40 KiB: the schema fits, the chunks do not (mid-run failure); 1 KiB: not even the first page.
        for limit in [80, 2] {
            let run = try importUnderFileSizeLimit(input, to: trace, blocks512: limit, scratch: scratch)
            expectCleanError(run, contains: "cannot write \(trace).partial")
            #expect(bytes(trace) == before)
            #expect(files(scratch, "t.") == ["t.plextrace"], "limit \(limit)")
            try FileManager.default.removeItem(atPath: trace)
            let fresh = try importUnderFileSizeLimit(input, to: trace, blocks512: limit, scratch: scratch)
            expectCleanError(fresh, contains: "cannot write \(trace).partial")
            #expect(files(scratch, "t.") == [], "limit \(limit): a failed creation leaves no file, -wal or -shm")
            try writeTestTrace(at: trace, chunks: 2)
        }
    }

    /// A shell spinning forever, recorded; `--skip-insns` keeps every block out of the trace. Returns once
    /// the recorder has created TRACE.partial, or printed something (an error), or after 60 s.
    private func startSpinner(_ trace: String, extra: [String] = [], scratch: Scratch) throws -> Child {
        let child = try Child(try builtExecutable("plexlab"),
                              ["record", "--out", trace, "--force", "--chunk-blocks", "4096"] + extra
                                + ["--", "/bin/sh", "-c", "while :; do :; done"], scratch: scratch)
        let deadline = Date().addingTimeInterval(60)
        while !FileManager.default.fileExists(atPath: trace + ".partial") && (bytes(child.errPath)?.isEmpty ?? true)
                && Date() < deadline { usleep(20_000) }
        return child
    }

    @Test func aSecondWriterIsRefusedAndKillNineLeavesNoStaleLock() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let trace = scratch.path("t.plextrace")
        try writeTestTrace(at: trace, chunks: 1)
        let before = try #require(bytes(trace))
        let first = try startSpinner(trace, scratch: scratch)
        #expect(first.isRunning)
        let second = try plexlab(["record", "--out", trace, "--force", "--", "/bin/true"], scratch: scratch)
        expectCleanError(second, contains: "\(trace) is being written by another plexlab (it holds \(trace).lock)")
        expectCleanError(try importGood(to: trace, scratch: scratch, force: true), contains: "is being written by another plexlab")
        kill(first.pid, SIGKILL)
        _ = first.wait()
        // The old trace is untouched; the killed recording is readable at its partial path.
        #expect(bytes(trace) == before)
        let partial = try plexlab(["info", trace + ".partial"], scratch: scratch)
        if partial.status != 0 { expectCleanError(partial) }  // killed before its schema existed
        // The kernel dropped the flock with the process: the next writer goes ahead and replaces the partial.
        #expect(try importGood(to: trace, scratch: scratch, force: true).status == 0)
        #expect(files(scratch, "t.") == ["t.plextrace"])
        #expect(try TraceReader(path: trace).metadata.program == "/tmp/two")
        // The spinner's qemu child dies with its recorder (RecordKillTests); make sure here too.
        usleep(200_000)
    }

    @Test func ctrlCBeforeAnythingWasRecordedKeepsTheOldTrace() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let trace = scratch.path("t.plextrace")
        try writeTestTrace(at: trace, chunks: 1)
        let before = try #require(bytes(trace))
        let child = try startSpinner(trace, extra: ["--skip-insns", "1000000000000000"], scratch: scratch)
        usleep(300_000)
        kill(child.pid, SIGINT)
        let ended = child.wait(timeout: 60)
        #expect(ended.status == 130, "\(ended.stderr)")
        #expect(ended.stderrLines == ["plexlab: interrupted by SIGINT before anything was recorded; \(trace) was left as it was"])
        #expect(bytes(trace) == before)
        #expect(files(scratch, "t.") == ["t.plextrace"])
    }

    /// /bin/true with its PT_INTERP string replaced by `interpreter` (NUL-padded; no longer than the original).
    private func programWithInterpreter(_ interpreter: String, scratch: Scratch) throws -> String {
        var elf = [UInt8](try #require(bytes("/bin/true")))
        let original = Array("/lib64/ld-linux-x86-64.so.2".utf8)
        let offset = try #require((0...(elf.count - original.count)).first { elf[$0..<$0 + original.count].elementsEqual(original) })
        let replacement = Array(interpreter.utf8)
        try #require(replacement.count <= original.count)
        elf.replaceSubrange(offset..<offset + original.count, with: replacement + Array(repeating: 0, count: original.count - replacement.count))
        let path = scratch.path("prog")
        try Data(elf).write(to: URL(fileURLWithPath: path))
        #expect(chmod(path, 0o755) == 0)
        return path
    }

    @Test func qemuFailingToLoadTheProgramIsAnErrorAndKeepsTheOldTrace() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let trace = scratch.path("t.plextrace")
        try writeTestTrace(at: trace, chunks: 1)
        let before = try #require(bytes(trace))
        // A missing interpreter: found before QEMU starts, one line.
        let missing = try programWithInterpreter("/nonexistent/ld.so", scratch: scratch)
        let run = try plexlab(["record", "--out", trace, "--force", "--", missing], scratch: scratch)
        expectCleanError(run, contains: "cannot record \(missing): its ELF interpreter /nonexistent/ld.so does not exist")
        // An interpreter that exists but is no ELF: QEMU starts, fails to load it and runs no guest code.
        let fake = "/tmp/plx-" + UUID().uuidString.prefix(8)
        try write("not an ELF\n", fake)
        defer { unlink(fake) }
        let broken = try programWithInterpreter(fake, scratch: scratch)
        let failed = try plexlab(["record", "--out", trace, "--force", "--", broken], scratch: scratch)
        // QEMU's own message (caught through the plugin's errfd) is part of the one line.
        expectCleanError(failed, contains: "qemu-x86_64 exited with status 255 without running any code of \(broken): "
                         + "qemu-x86_64: \(fake): Invalid ELF image for this architecture; nothing was written")
        #expect(bytes(trace) == before)
        #expect(files(scratch, "t.") == ["t.plextrace"])
    }

    @Test(arguments: [["info"], ["info", "--verify"], ["compare"], ["replay", "--strategy", "sbe"], ["report", "--out", "REPORT"],
                      ["gate", "--baseline", "BASELINE", "--update"]])
    func aFIFOOrDeviceAsATraceIsRefusedWithoutHanging(command: [String]) throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let fifo = scratch.path("trace.fifo")
        #expect(mkfifo(fifo, 0o644) == 0)
        let arguments = command.map { $0 == "REPORT" ? scratch.path("report") : $0 == "BASELINE" ? scratch.path("b.json") : $0 }
        for (input, kind) in [(fifo, "a FIFO"), ("/dev/null", "a device"), (scratch.directory, "a directory")] {
            var run = try plexlab(arguments + [input], scratch: scratch, timeout: 30)
            // report says which trace it replays before it opens it: that progress line may precede the error.
            run.stderr = run.stderrLines.filter { !$0.hasPrefix("plexlab report: ") }.map { $0 + "\n" }.joined()
            expectCleanError(run, contains: "\(input) is not a PlexLab trace (\(kind))")
        }
    }

    /// report, gate --markdown and calibrate --out write small text files: a FIFO is written into (an error
    /// when nobody reads it), never replaced; a directory or a file in the way of a directory is one line.
    @Test func textOutputsNeverReplaceAFIFOOrDirectory() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let trace = scratch.path("t.plextrace")
        #expect(try importGood(to: trace, scratch: scratch).status == 0)
        let report = scratch.path("report")
        try FileManager.default.createDirectory(atPath: report, withIntermediateDirectories: false)
        #expect(mkfifo(report + "/report.md", 0o644) == 0)
        var run = try plexlab(["report", trace, "--out", report, "--profile", "modern"], scratch: scratch, timeout: 30)
        run.stderr = run.stderrLines.filter { !$0.hasPrefix("plexlab report: ") }.map { $0 + "\n" }.joined()
        expectCleanError(run, contains: "\(report)/report.md: cannot write (a FIFO with no reader)")
        var info = stat()
        #expect(lstat(report + "/report.md", &info) == 0 && info.st_mode & S_IFMT == S_IFIFO)

        let file = scratch.path("notes.txt")
        try write("my notes", file)
        run = try plexlab(["report", trace, "--out", file, "--profile", "modern"], scratch: scratch, timeout: 30)
        run.stderr = run.stderrLines.filter { !$0.hasPrefix("plexlab report: ") }.map { $0 + "\n" }.joined()
        expectCleanError(run, contains: "cannot create the report directory")
        #expect(bytes(file) == Data("my notes".utf8))

        let baseline = scratch.path("b.json")
        #expect(try plexlab(["gate", "--baseline", baseline, "--update", trace], scratch: scratch).status == 0)
        let fifo = scratch.path("summary.fifo")
        #expect(mkfifo(fifo, 0o644) == 0)
        expectCleanError(try plexlab(["gate", "--baseline", baseline, "--markdown", fifo, trace], scratch: scratch, timeout: 30),
                         contains: "cannot write \(fifo): a FIFO with no reader")
        #expect(lstat(fifo, &info) == 0 && info.st_mode & S_IFMT == S_IFIFO)
        expectCleanError(try plexlab(["gate", "--baseline", baseline, "--markdown", scratch.directory, trace], scratch: scratch),
                         contains: "cannot write \(scratch.directory): it is a directory")
        // A FIFO with a reader gets the summary (as `--markdown /dev/stdout` would).
        let reader = try Child("/bin/cat", [fifo], scratch: scratch)
        usleep(300_000)  // cat blocks in open(), where it already counts as the FIFO's reader
        let fed = try plexlab(["gate", "--baseline", baseline, "--markdown", fifo, trace], scratch: scratch, timeout: 30)
        #expect(fed.status == 0, "\(fed.stderr)")
        #expect(reader.wait(timeout: 30).stdout.hasPrefix("## PlexLab gate: pass"))
        #expect(lstat(fifo, &info) == 0 && info.st_mode & S_IFMT == S_IFIFO)
    }

    @Test func usageErrorsAreOneLineAndExitTwo() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let cases: [([String], String)] = [
            (["info"], "Missing expected argument '<trace>' (see 'plexlab info --help')"),
            (["replay", "t.plextrace"], "Missing expected argument '--strategy <strategy>' (see 'plexlab replay --help')"),
            (["compare", "t.plextrace", "--bogus"], "Unknown option '--bogus' (see 'plexlab compare --help')"),
            (["record", "--max-insns", "many", "--", "/bin/true"], "(see 'plexlab record --help')"),
            (["record", "--max-insns", "0", "--", "/bin/true"],
             "--max-insns must be at least 1 (leave it out to record the whole run) (see 'plexlab record --help')"),
            (["nosuchcommand"], "(see 'plexlab --help')"),
        ]
        for (arguments, fragment) in cases {
            expectCleanError(try plexlab(arguments, scratch: scratch), contains: fragment)
        }
        let help = try plexlab(["record", "--help"], scratch: scratch)
        #expect(help.status == 0 && help.stdout.contains("Examples:"))
        let version = try plexlab(["--version"], scratch: scratch)
        #expect(version.status == 0 && version.stdout == "0.1.0\n")
    }
}
