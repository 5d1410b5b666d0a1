import Foundation
import Testing
import TraceModel
import TraceStore
@testable import Recorder

/// How every process of a tree ends (its parent's wait call tells), and the execs the plugin follows or
/// notes as not recorded: execveat relative to a directory, fexecve, a memfd, an i386 program.
@Suite(.serialized) struct ProcessEndTests {
    /// Builds `source` (C) with gcc and `flags` into `directory/name`.
    static func build(_ name: String, _ source: String, flags: [String] = [], in directory: String) throws -> String {
        let file = directory + "/\(name).c", program = directory + "/\(name)"
        try source.write(toFile: file, atomically: true, encoding: .utf8)
        let gcc = Process()
        gcc.executableURL = URL(fileURLWithPath: "/usr/bin/gcc")
        gcc.arguments = flags + ["-o", program, file]
        try gcc.run()
        gcc.waitUntilExit()
        #expect(gcc.terminationStatus == 0)
        return program
    }

    private func record(_ program: String, _ arguments: [String], in directory: String) throws -> (RecordResult, [TraceProcess]) {
        let name = (program as NSString).lastPathComponent
        let result = try Recorder.record(program: program, arguments: arguments,
                                         options: RecordOptions(output: directory + "/\(name).plextrace"))
        return (result, try TraceReader(path: result.path).processes())
    }

    /// sh forks a shell that kills itself with SIGKILL, then a program that dies of SIGSEGV, then exits 0:
    /// the recorder sees only its own child end; the two others' signals come from the shell's wait.
    @Test func childrenThatDieOfSignalsUnderAParentThatExitsZero() throws {
        let directory = try scratch("tree-signals")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let crash = try Self.build("crash", "int main(void) { *(volatile int *)8 = 1; return 0; }", in: directory)
        let (result, processes) = try record("/bin/sh", ["-c", "/bin/sh -c 'kill -9 $$'; \(crash); exit 0"], in: directory)
        #expect(result.metadata.exitStatus == 0)
        #expect(processes.map(\.origin) == [.start, .fork, .exec, .fork, .exec])
        #expect(processes.map(\.exitStatus) == [0, nil, nil, nil, nil])
        #expect(processes.map(\.signal) == [nil, nil, SIGKILL, nil, SIGSEGV])
        #expect(processes.map(\.note) == ["", "called execve", "", "called execve", ""])
        #expect(processes.map(\.endDescription) == ["exit 0", "called execve", "signal 9", "called execve", "signal 11"])
    }

    /// A status the wait call returns goes to the pid's image that ended, never to the one that exec'd.
    @Test func reapedStatusesGoToTheImagesThatEnded() {
        let processes = [
            TraceProcess(id: 0, pid: 10, parent: nil, origin: .start, program: "sh", argv: [], exitStatus: 0),
            TraceProcess(id: 1, pid: 11, parent: 0, origin: .fork, program: "sh", argv: [], note: "called execve"),
            TraceProcess(id: 2, pid: 11, parent: 1, origin: .exec, program: "a", argv: [], note: ProcessTree.unknownSignal),
            // pid 11 again, after it was reaped: the second reap is its.
            TraceProcess(id: 3, pid: 11, parent: 0, origin: .fork, program: "sh", argv: [], note: "ended (status not seen)"),
            TraceProcess(id: 4, pid: 12, parent: 0, origin: .fork, program: "sh", argv: [], exitStatus: 3),
            TraceProcess(id: 5, pid: 13, parent: 0, origin: .fork, program: "sh", argv: [], note: "stopped after --max-insns"),
        ]
        let ended = ProcessEnds.apply(reaped: [11: [0x89, 0x0400], 12: [0x0100], 13: [0]], to: processes)
        #expect(ended.map(\.signal) == [nil, nil, 9, nil, nil, nil])
        #expect(ended.map(\.exitStatus) == [0, nil, nil, 4, 3, nil])
        #expect(ended.map(\.note) == ["", "called execve", "", "", "", "stopped after --max-insns"])
    }

    /// execveat(dirfd of /bin, "true") and fexecve of /bin/true are followed like execve.
    @Test func execveatRelativeToADirectoryAndFexecveAreFollowed() throws {
        let directory = try scratch("tree-execveat")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let relative = try Self.build("relative", """
            #define _GNU_SOURCE
            #include <fcntl.h>
            #include <unistd.h>
            #include <sys/syscall.h>
            int main(void) {
                char *argv[] = { "true", 0 }, *envp[] = { 0 };
                int dir = open("/usr/bin", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                syscall(SYS_execveat, dir, "true", argv, envp, 0);
                return 99;
            }
            """, in: directory)
        let (first, viaDirectory) = try record(relative, [], in: directory)
        #expect(first.metadata.exitStatus == 0)
        #expect(viaDirectory.map(\.origin) == [.start, .exec])
        #expect(viaDirectory.map(\.program) == [relative, "/usr/bin/true"])
        #expect(viaDirectory.map(\.note) == ["called execve", ""])
        #expect(viaDirectory[1].exitStatus == 0 && !viaDirectory[1].threads.isEmpty)

        let descriptor = try Self.build("descriptor", """
            #define _GNU_SOURCE
            #include <fcntl.h>
            #include <unistd.h>
            int main(void) {
                char *argv[] = { "true", 0 }, *envp[] = { 0 };
                fexecve(open("/usr/bin/true", O_RDONLY | O_CLOEXEC), argv, envp);
                return 99;
            }
            """, in: directory)
        let (_, viaDescriptor) = try record(descriptor, [], in: directory)
        #expect(viaDescriptor.map(\.program) == [descriptor, "/usr/bin/true"])
        #expect(viaDescriptor.map(\.argv) == [[descriptor], ["true"]])
        #expect(viaDescriptor[1].exitStatus == 0)
    }

    /// fexecve of a memfd names no file QEMU could open: not followed, and the trace says so.
    @Test func aMemfdExecIsNotedAsNotRecorded() throws {
        let directory = try scratch("tree-memfd")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let memfd = try Self.build("memfd", """
            #define _GNU_SOURCE
            #include <fcntl.h>
            #include <sys/mman.h>
            #include <sys/sendfile.h>
            #include <sys/stat.h>
            #include <unistd.h>
            int main(void) {
                char *argv[] = { "true", 0 }, *envp[] = { 0 };
                int in = open("/usr/bin/true", O_RDONLY), fd = memfd_create("copy", MFD_CLOEXEC);
                struct stat st;
                fstat(in, &st);
                sendfile(fd, in, 0, st.st_size);
                fexecve(fd, argv, envp);
                return 99;
            }
            """, in: directory)
        let (result, processes) = try record(memfd, [], in: directory)
        #expect(result.metadata.exitStatus == 0)
        #expect(processes.count == 1)
        #expect(processes[0].exitStatus == 0)
        #expect(processes[0].note == ProcessEnds.unfollowedExec
                + "execveat of a descriptor that names no file by path (a memfd, a pipe or a deleted file)")
        let table = try TraceInfo.load(path: result.path, verify: false).table()
        #expect(table.contains("exit 0 (called execve of a program that was not recorded: execveat of a descriptor"))
    }

    /// An i386 program started from an x86-64 shell runs under qemu-i386 with the plugin, which records
    /// no code of it (one decoder per trace) but how it ends and what it starts: `plexlab info` says so.
    @Test func anI386ProgramInAnX8664TreeIsAProcessNotRecorded() throws {
        let directory = try scratch("tree-i386")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let program = try Self.build("thirtytwo", "#include <unistd.h>\nint main(void) { execl(\"/bin/true\", \"true\", (char *)0); return 9; }",
                                     flags: ["-m32", "-static"], in: directory)
        let (result, processes) = try record("/bin/sh", ["-c", "\(program); exit 0"], in: directory)
        #expect(result.metadata.exitStatus == 0)
        #expect(processes.map(\.origin) == [.start, .fork, .exec, .exec])
        #expect(processes.map(\.program) == ["/bin/sh", "/bin/sh", program, "/bin/true"])
        #expect(processes[2].note == "not recorded: i386 code in an x86_64 trace; called execve")
        #expect(processes[2].threads.isEmpty)
        // What the i386 program exec'd is x86-64 again: recorded, its status from the shell's wait.
        #expect(processes[3].exitStatus == 0 && !processes[3].threads.isEmpty && processes[3].note == "")
        let table = try TraceInfo.load(path: result.path, verify: false).table()
        #expect(table.contains("2 \(processes[2].pid) 1 exec: not recorded: i386 code in an x86_64 trace; called execve, 0 blocks"))
    }

    /// The same program exiting by itself: its exit status is exact, beside the note.
    @Test func anI386ProgramsExitStatusIsKept() throws {
        let directory = try scratch("tree-i386-exit")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let program = try Self.build("five", "int main(void) { return 5; }", flags: ["-m32", "-static"], in: directory)
        let (_, processes) = try record("/bin/sh", ["-c", "\(program); exit 0"], in: directory)
        #expect(processes.map(\.origin) == [.start, .fork, .exec])
        #expect(processes[2].exitStatus == 5)
        #expect(processes[2].endDescription == "exit 5 (not recorded: i386 code in an x86_64 trace)")
    }
}
