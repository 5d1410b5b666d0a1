import Foundation
import Testing
import TraceModel
import TraceStore

/// `plexlab record` run as a process: exit codes, one-line errors, Ctrl-C, and `info` on the result.
@Suite(.serialized) struct RecordCommandTests {
    private static func scratch(_ name: String) throws -> String {
        let directory = NSTemporaryDirectory() + "plexlab-record-cli-\(name)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return directory
    }

    /// A freestanding x86-64 program that sleeps in a loop until a signal ends it.
    private static func buildSleeper(in directory: String) throws -> String {
        let source = """
                .globl _start
                .text
        _start: mov $35, %eax       # nanosleep(&ten_seconds, 0)
                lea ten_seconds(%rip), %rdi
                xor %esi, %esi
                syscall
                jmp _start
                .data
        ten_seconds: .quad 10, 0

        """
        try source.write(toFile: directory + "/sleeper.S", atomically: true, encoding: .utf8)
        let gcc = Process()
        gcc.executableURL = URL(fileURLWithPath: "/usr/bin/gcc")
        gcc.arguments = ["-nostdlib", "-static", "-o", directory + "/sleeper", directory + "/sleeper.S"]
        try gcc.run()
        gcc.waitUntilExit()
        #expect(gcc.terminationStatus == 0)
        return directory + "/sleeper"
    }

    private static func oneErrorLine(_ run: PlexlabRun) -> Bool {
        run.status == 2 && run.stderr.hasPrefix("plexlab: error: ") && run.stderr.split(separator: "\n").count == 1
    }

    @Test func helpShowsExamples() throws {
        let run = try PlexlabRun(["record", "--help"])
        #expect(run.status == 0)
        #expect(run.stdout.contains("Examples:"))
        #expect(run.stdout.contains("--max-insns"))
    }

    @Test func badInputIsOneLineAndExitTwo() throws {
        let directory = try Self.scratch("bad")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // A #! script runs its interpreter (ProcessTreeTests); a file that is neither is refused.
        let script = directory + "/notes.txt"
        try "just text\n".write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)

        let notELF = try PlexlabRun(["record", "--out", directory + "/a.plextrace", "--", script])
        #expect(Self.oneErrorLine(notELF))
        #expect(notELF.stderr.contains("is not an ELF executable"))

        let missing = try PlexlabRun(["record", "--out", directory + "/b.plextrace", "--", "no-such-program-plexlab"])
        #expect(Self.oneErrorLine(missing))
        #expect(missing.stderr.contains("program not found: no-such-program-plexlab"))

        let noProgram = try PlexlabRun(["record"])
        #expect(noProgram.status != 0)

        for name in ["a", "b"] { #expect(!FileManager.default.fileExists(atPath: directory + "/\(name).plextrace")) }
    }

    @Test func anExistingTraceNeedsForce() throws {
        let directory = try Self.scratch("force")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let output = directory + "/t.plextrace"
        try "old".write(toFile: output, atomically: true, encoding: .utf8)
        let refused = try PlexlabRun(["record", "--out", output, "--", "/bin/true"])
        #expect(Self.oneErrorLine(refused))
        #expect(refused.stderr.contains("--force"))
        #expect(try String(contentsOfFile: output, encoding: .utf8) == "old")

        // --force replaces a trace, never a file that is not one.
        let notATrace = try PlexlabRun(["record", "--out", output, "--force", "--", "/bin/true"])
        #expect(Self.oneErrorLine(notATrace))
        #expect(notATrace.stderr.contains("refusing to replace \(output): it is not a PlexLab trace"))
        #expect(try String(contentsOfFile: output, encoding: .utf8) == "old")

        try FileManager.default.removeItem(atPath: output)
        #expect(try PlexlabRun(["record", "--out", output, "--", "/bin/true"]).status == 0)
        let forced = try PlexlabRun(["record", "--out", output, "--force", "--", "/bin/echo", "again"])
        #expect(forced.status == 0)
        #expect(try TraceReader(path: output).metadata.argv == ["/bin/echo", "again"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["t.plextrace"])
    }

    @Test func theDefaultOutputGoesUnderTracesWithTheName() throws {
        let directory = try Self.scratch("default")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let run = try PlexlabRun(["record", "--name", "truth", "--", "/bin/true"], in: directory)
        #expect(run.status == 0)
        #expect(run.stderr.contains("Traces/truth.plextrace"))
        #expect(run.stdout.isEmpty)
        #expect(try TraceReader(path: directory + "/Traces/truth.plextrace").metadata.exitStatus == 0)
    }

    @Test func python3RecordsAndInfoShowsIt() throws {
        let directory = try Self.scratch("python")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let output = directory + "/python3.plextrace"
        let recorded = try PlexlabRun(["record", "--out", output, "--", "/usr/bin/python3", "-c", "print(6 * 7)"])
        #expect(recorded.status == 0)
        // The guest's output alone on stdout; the summary on stderr.
        #expect(recorded.stdout == "42\n")
        #expect(recorded.stderr.contains("guest exited with status 0"))

        let info = try PlexlabRun(["info", output])
        #expect(info.status == 0)
        #expect(info.stdout.contains("complete"))
        #expect(info.stdout.contains("/usr/bin/python3"))
        let summary = try TraceReader(path: output).summary()
        #expect(summary.blocksExecuted > 1_000_000)
        #expect(summary.syscalls > 100)
    }

    @Test func theCodecOptionPicksHowBlocksAreStored() throws {
        let directory = try Self.scratch("codec")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for codec in BlockStreamCodec.allCases {
            let output = directory + "/\(codec).plextrace"
            let run = try PlexlabRun(["record", "--codec", codec.description, "--out", output, "--", "/bin/true"])
            #expect(run.status == 0, "\(run.stderr)")
            let summary = try TraceReader(path: output).summary()
            #expect(summary.blockCodecs == [codec.description])
            // Every chunk decodes with that codec, to the blocks the summary counts.
            var blocks: UInt64 = 0
            try TraceReader(path: output).forEachChunk { blocks += UInt64($0.blocks.count) }
            #expect(blocks == summary.blocksExecuted && blocks > 10_000)
        }

        let bad = try PlexlabRun(["record", "--codec", "zip", "--out", directory + "/bad.plextrace", "--", "/bin/true"])
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("'zip' is invalid for '--codec <codec>'"))
        #expect(!FileManager.default.fileExists(atPath: directory + "/bad.plextrace"))
    }

    @Test func interruptingLeavesAReadableIncompleteTrace() throws {
        let directory = try Self.scratch("sigint")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let sleeper = try Self.buildSleeper(in: directory)
        let output = directory + "/sleeper.plextrace"
        let (process, out, err) = try PlexlabRun.start(["record", "--out", output, "--", sleeper])
        // Wait for the guest to be running (the trace exists once the recorder starts it).
        for _ in 0..<100 where !FileManager.default.fileExists(atPath: output) { usleep(50_000) }
        usleep(500_000)
        kill(process.processIdentifier, SIGINT)
        _ = out.fileHandleForReading.readDataToEndOfFile()
        _ = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 130)
        let reader = try TraceReader(path: output)
        #expect(!reader.metadata.complete)
        #expect(reader.metadata.note.contains("SIGINT"))
        #expect(try reader.summary().syscalls >= 1)
    }
}
