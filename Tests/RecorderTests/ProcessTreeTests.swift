import Foundation
import Testing
import TraceModel
import TraceStore
@testable import Recorder

/// Records real process trees (docs/recorder.md, "Process trees") and reads them back from the file.
@Suite(.serialized) struct ProcessTreeTests {
    private func recordTree(_ program: String, _ arguments: [String], in directory: String,
                            _ adjust: (inout RecordOptions) -> Void = { _ in }) throws -> (RecordResult, [TraceProcess], [UInt32: UInt64]) {
        var options = RecordOptions(output: directory + "/t.plextrace")
        adjust(&options)
        let result = try Recorder.record(program: program, arguments: arguments, options: options)
        let reader = try TraceReader(path: result.path)
        return (result, try reader.processes(), try reader.blocksByThread())
    }

    private func blocks(of process: TraceProcess, _ byThread: [UInt32: UInt64]) -> UInt64 {
        process.threads.reduce(0) { $0 + (byThread[$1] ?? 0) }
    }

    /// dash runs `true` itself, forks for gzip and for /bin/true, and each child execs the program:
    /// five process images, every one with its own blocks and thread.
    @Test func aShellAndTheProgramsItRuns() throws {
        let directory = try scratch("tree-sh")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let input = directory + "/in.txt"
        try String(repeating: "plexlab ", count: 1000).write(toFile: input, atomically: true, encoding: .utf8)
        let script = "true; gzip -c \(input) >/dev/null; /bin/true"
        let (result, processes, byThread) = try recordTree("/bin/sh", ["-c", script], in: directory)
        #expect(result.metadata.complete)
        #expect(result.metadata.exitStatus == 0)
        #expect(processes.map(\.origin) == [.start, .fork, .exec, .fork, .exec])
        #expect(processes.map(\.parent) == [nil, 0, 1, 0, 3])
        #expect(processes.map(\.argv) == [["/bin/sh", "-c", script], ["/bin/sh", "-c", script],
                                          ["gzip", "-c", input], ["/bin/sh", "-c", script], ["/bin/true"]])
        #expect(processes.map(\.program) == ["/bin/sh", "/bin/sh", "/usr/bin/gzip", "/bin/sh", "/bin/true"])
        #expect(processes.map(\.exitStatus) == [0, nil, 0, nil, 0])
        #expect(processes.map(\.note) == ["", "called execve", "", "called execve", ""])
        // A fork and the exec that follows share the pid; the two children differ from the shell.
        #expect(processes[1].pid == processes[2].pid && processes[3].pid == processes[4].pid)
        #expect(Set([processes[0].pid, processes[1].pid, processes[3].pid]).count == 3)
        // One thread each, every block of the trace in exactly one process, each process ran code.
        #expect(processes.map(\.threads.count) == [1, 1, 1, 1, 1])
        #expect(Set(processes.flatMap(\.threads)).count == 5)
        #expect(processes.allSatisfy { blocks(of: $0, byThread) > 0 })
        #expect(processes.reduce(0) { $0 + blocks(of: $1, byThread) } == result.blocks)
        #expect(result.processes == processes)
        // The forked shells start where their parent forked.
        #expect(processes[1].forkPoint?.thread == processes[0].threads[0])
        #expect((processes[1].forkPoint?.eventIndex ?? 0) > 0)
        #expect((processes[3].forkPoint?.eventIndex ?? 0) > (processes[1].forkPoint?.eventIndex ?? 0))
        // `plexlab info` lists them.
        let table = try TraceInfo.load(path: result.path, verify: false).table()
        let lines = table.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(lines.contains("processes                5 (id pid parent origin: exit, blocks, argv)"))
        #expect(lines.contains("4 \(processes[4].pid) 3 exec: exit 0, \(blocks(of: processes[4], byThread)) blocks, /bin/true"))
        #expect(lines.contains("1 \(processes[1].pid) 0 fork: called execve, \(blocks(of: processes[1], byThread)) blocks, "
                               + "/bin/sh -c '\(script)'"))
    }

    @Test func exitStatusesOfEveryProcess() throws {
        let directory = try scratch("tree-status")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (result, processes, _) = try recordTree("/bin/sh", ["-c", "/bin/false; exit 4"], in: directory)
        #expect(result.metadata.exitStatus == 4)
        #expect(processes.map(\.origin) == [.start, .fork, .exec])
        #expect(processes.map(\.exitStatus) == [4, nil, 1])
    }

    /// outer.sh names inner.sh (with an argument) as its interpreter; inner.sh runs `/usr/bin/env sh`.
    /// The kernel's argv: [/usr/bin/env, sh, INNER, -x, OUTER, a, b]; env then execs sh.
    @Test func aTwoLevelScriptChainEndingInEnv() throws {
        let directory = try scratch("tree-script")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let inner = directory + "/inner.sh", outer = directory + "/outer.sh"
        try "#!/usr/bin/env sh\nexit 3\n".write(toFile: inner, atomically: true, encoding: .utf8)
        try "#!\(inner)  -x  \n".write(toFile: outer, atomically: true, encoding: .utf8)
        chmod(inner, 0o755)
        chmod(outer, 0o755)
        let (result, processes, byThread) = try recordTree(outer, ["a", "b"], in: directory)
        #expect(result.metadata.program == "/usr/bin/env")
        #expect(result.metadata.exitStatus == 3)
        #expect(processes.map(\.origin) == [.start, .exec])
        #expect(processes[0].argv == ["/usr/bin/env", "sh", inner, "-x", outer, "a", "b"])
        #expect(processes[0].note == "called execve")
        #expect(processes[1].program == "/usr/bin/sh")
        #expect(processes[1].argv == ["sh", inner, "-x", outer, "a", "b"])
        #expect(processes[1].exitStatus == 3)
        #expect(processes.allSatisfy { blocks(of: $0, byThread) > 0 })
    }

    @Test func scriptLinesParseAsTheKernelDoes() {
        #expect(ScriptChain.parse(Array("#!/bin/sh\n".utf8)) == .init(interpreter: "/bin/sh", argument: nil))
        #expect(ScriptChain.parse(Array("#! \t/usr/bin/env  python3 -u \t\nx".utf8))
                == .init(interpreter: "/usr/bin/env", argument: "python3 -u"))
        #expect(ScriptChain.parse(Array("#!/bin/sh".utf8)) == .init(interpreter: "/bin/sh", argument: nil))
        #expect(ScriptChain.parse(Array("#!   \n".utf8)) == nil)
        #expect(ScriptChain.parse(Array("\u{7F}ELF".utf8)) == nil)
        // No end of line within the kernel's 256 bytes: not run.
        #expect(ScriptChain.parse(Array(("#!/" + String(repeating: "a", count: 300)).utf8)) == nil)
    }

    /// A loop that starts /bin/true forever: each round is a fork and an exec, so the limit of 5 is
    /// reached in the third round; the tree is killed and the trace keeps the five processes.
    @Test func aForkLoopStopsAtTheProcessLimit() throws {
        let directory = try scratch("tree-loop")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (result, processes, _) = try recordTree("/bin/sh", ["-c", "while :; do /bin/true; done"], in: directory) {
            $0.maxProcesses = 5
        }
        #expect(result.metadata.complete)
        #expect(result.metadata.note == "stopped at --max-processes 5: the process tree was killed")
        #expect(processes.count == 5)
        #expect(processes.map(\.origin) == [.start, .fork, .exec, .fork, .exec])
        #expect(processes[2].exitStatus == 0)
        #expect(processes[0].exitStatus == nil && processes[0].signal == SIGKILL)
    }

    /// make builds a two-file C program: make forks and execs cc for each object and for the link; the
    /// driver runs cc1 and as, the link runs collect2, which runs ld. Every one is a process of the trace.
    @Test func aMakeOfATwoFileCProgram() throws {
        let directory = try scratch("tree-make")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "int twice(int x);\nint main(void) { return twice(21) - 42; }\n".write(toFile: directory + "/main.c", atomically: true, encoding: .utf8)
        try "int twice(int x) { return 2 * x; }\n".write(toFile: directory + "/util.c", atomically: true, encoding: .utf8)
        try "prog: main.o util.o\n\tcc -o prog main.o util.o\n%.o: %.c\n\tcc -c $< -o $@\n"
            .write(toFile: directory + "/Makefile", atomically: true, encoding: .utf8)
        let (result, processes, byThread) = try recordTree("make", ["-s", "-C", directory], in: directory)
        #expect(result.metadata.complete && result.metadata.exitStatus == 0)
        #expect(FileManager.default.isExecutableFile(atPath: directory + "/prog"))
        let exec = processes.filter { $0.origin == .exec }
        let names = exec.map { ($0.program as NSString).lastPathComponent }
        // Two compiles (cc, cc1, as each) and one link (cc, collect2, ld).
        #expect(names.filter { $0 == "cc1" }.count == 2)
        #expect(names.filter { $0 == "as" }.count == 2)
        #expect(names.filter { $0 == "ld" }.count == 1)
        #expect(names.filter { $0 == "collect2" }.count == 1)
        #expect(exec.allSatisfy { $0.exitStatus == 0 })
        // Every exec'd program was forked by make or by the program that ran it, and ran code of its own.
        for process in exec {
            #expect(processes[process.parent!].origin == .fork && processes[process.parent!].pid == process.pid)
            #expect(blocks(of: process, byThread) > 0)
        }
        #expect(processes.first?.argv == ["make", "-s", "-C", directory])
    }

    /// The default record (a ring per process image, the fast form, then the pack) and the live pipe path
    /// give the same tree of the same program: the five process images of `aShellAndTheProgramsItRuns`, in
    /// the same order, each with the same blocks and instructions.
    @Test func ringsAndPipesGiveTheSameTree() throws {
        let directory = try scratch("tree-rings")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let input = directory + "/in.txt"
        try String(repeating: "rings ", count: 2000).write(toFile: input, atomically: true, encoding: .utf8)
        let script = "true; gzip -c \(input) >/dev/null; /bin/true"
        let (rings, ringProcesses, ringBlocks) = try recordTree("/bin/sh", ["-c", script], in: directory)
        let (pipes, pipeProcesses, pipeBlocks) = try recordTree("/bin/sh", ["-c", script], in: directory) {
            $0.output = directory + "/pipes.plextrace"
            $0.throughPipes = true
        }
        #expect(rings.packed && pipes.packed)
        #expect(ringProcesses.count == 5 && pipeProcesses.count == 5)
        #expect(ringProcesses.map(\.origin) == [.start, .fork, .exec, .fork, .exec])
        #expect(ringProcesses.map(\.origin) == pipeProcesses.map(\.origin))
        #expect(ringProcesses.map(\.parent) == pipeProcesses.map(\.parent))
        #expect(ringProcesses.map(\.argv) == pipeProcesses.map(\.argv))
        #expect(ringProcesses.map(\.program) == pipeProcesses.map(\.program))
        #expect(ringProcesses.map(\.exitStatus) == [0, nil, 0, nil, 0])
        #expect(ringProcesses.map(\.note) == pipeProcesses.map(\.note))
        let ringCounts = ringProcesses.map { blocks(of: $0, ringBlocks) }
        #expect(ringCounts == pipeProcesses.map { blocks(of: $0, pipeBlocks) })
        #expect(ringCounts.allSatisfy { $0 > 0 })
        #expect(rings.blocks == pipes.blocks && rings.instructions == pipes.instructions)
        #expect(ringCounts.reduce(0, +) == rings.blocks)
        #expect(rings.metadata.complete && rings.metadata.exitStatus == 0)
    }

    /// `record --no-pack` of a tree stores one stream per process image (each ended); `pack` then gives the
    /// same processes and blocks as `record`.
    @Test func aTreeRecordedWithoutPackThenPacked() throws {
        let directory = try scratch("tree-nopack")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let script = "/bin/true; /bin/false; exit 3"
        let (fast, _, _) = try recordTree("/bin/sh", ["-c", script], in: directory) { $0.pack = false }
        #expect(!fast.packed)
        let reader = try TraceReader(path: fast.path)
        #expect(reader.isFastForm && reader.isTreeFastForm)
        var ends: [Int] = [], streams = Set<Int>()
        try reader.forEachFastFormPiece { stream, bytes in
            if bytes == nil { ends.append(stream) } else { streams.insert(stream) }
            return true
        }
        // sh, then a fork and an exec for each of /bin/true and /bin/false: five streams, each ended once.
        #expect(streams == [0, 1, 2, 3, 4])
        #expect(ends.sorted() == [0, 1, 2, 3, 4])
        let packed = try Packer.pack(path: fast.path)
        let processes = try TraceReader(path: fast.path).processes()
        #expect(packed.metadata.complete && packed.metadata.exitStatus == 3)
        #expect(processes.map(\.origin) == [.start, .fork, .exec, .fork, .exec])
        #expect(processes.map(\.exitStatus) == [3, nil, 0, nil, 1])
        #expect(processes.map(\.argv.first) == ["/bin/sh", "/bin/sh", "/bin/true", "/bin/sh", "/bin/false"])
        let (direct, directProcesses, directBlocks) = try recordTree("/bin/sh", ["-c", script], in: directory) {
            $0.output = directory + "/direct.plextrace"
        }
        let packedBlocks = try TraceReader(path: fast.path).blocksByThread()
        #expect(processes.map { blocks(of: $0, packedBlocks) } == directProcesses.map { blocks(of: $0, directBlocks) })
        #expect(packed.blocks == direct.blocks)
    }

    @Test func noFollowRecordsTheFirstProcessOnly() throws {
        let directory = try scratch("tree-nofollow")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (result, processes, _) = try recordTree("/bin/sh", ["-c", "/bin/true; exit 2"], in: directory) {
            $0.followProcesses = false
        }
        #expect(result.metadata.exitStatus == 2)
        #expect(processes.count == 1)
        #expect(processes[0].origin == .start && processes[0].exitStatus == 2)
    }
}

/// Every row of docs/recorder.md's "How the guest ends" as a decision.
@Suite struct RecordingEndTests {
    private func facts(end: PluginRecord.End? = nil, termination: Termination = .exited(0), blocks: UInt64 = 10,
                       interruption: Int32? = nil, execve: Bool = false, tail: Int = 0, limit: Int? = nil) -> RecordingEnd.Facts {
        RecordingEnd.Facts(interruption: interruption, blocks: blocks, end: end, maxInstructions: 500,
                           endedInExecve: execve, termination: termination, truncatedTail: tail, processLimit: limit)
    }
    private let exitEnd = PluginRecord.End(stoppedAtMaxInstructions: false, threads: 1, executedInstructions: 0, recordedInstructions: 0)
    private let maxEnd = PluginRecord.End(stoppedAtMaxInstructions: true, threads: 1, executedInstructions: 0, recordedInstructions: 0)

    @Test func decisions() {
        #expect(RecordingEnd.decide(facts(end: exitEnd, termination: .exited(3))) == .complete(exitStatus: 3, signal: nil, note: ""))
        #expect(RecordingEnd.decide(facts(end: maxEnd)) == .complete(exitStatus: nil, signal: nil,
                                                                     note: "stopped after --max-insns 500; the guest was ended"))
        #expect(RecordingEnd.decide(facts(termination: .signaled(SIGSEGV))) == .complete(exitStatus: nil, signal: SIGSEGV, note: ""))
        #expect(RecordingEnd.decide(facts(termination: .signaled(SIGSEGV), tail: 12))
                == .incomplete(note: "qemu-user died of signal 11 without the plugin's end record"))
        #expect(RecordingEnd.decide(facts(termination: .signaled(SIGKILL)))
                == .incomplete(note: "qemu-user died of signal 9 without the plugin's end record"))
        #expect(RecordingEnd.decide(facts(termination: .exited(0), execve: true))
                == .complete(exitStatus: 0, signal: nil, note: "the guest called execve; the program it started was not recorded"))
        #expect(RecordingEnd.decide(facts(end: exitEnd, interruption: SIGINT)) == .incomplete(note: "interrupted by SIGINT"))
        #expect(RecordingEnd.decide(facts(blocks: 0, interruption: SIGTERM)) == .interruptedBeforeRecording(signal: SIGTERM))
        #expect(RecordingEnd.decide(facts(termination: .signaled(SIGKILL), limit: 7))
                == .complete(exitStatus: nil, signal: nil, note: "stopped at --max-processes 7: the process tree was killed"))
    }
}
