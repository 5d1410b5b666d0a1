import Foundation
import LiveMonitor
import Replay
import Testing
import Workloads

/// How monitored runs end: a crash, a fatal signal or an exit status give a complete report; a fork,
/// a signal handler that runs, execve or the program's own INT3 give one line; no tracee is left behind.
@Suite(.serialized) struct EndingsTests {
    /// Compiles C into the scratch directory.
    static func compile(_ name: String, _ source: String, in scratch: Scratch) throws -> String {
        let path = scratch.path + "/" + name
        try source.write(toFile: path + ".c", atomically: true, encoding: .utf8)
        let gcc = Process()
        gcc.executableURL = URL(fileURLWithPath: "/usr/bin/gcc")
        gcc.arguments = ["-O1", "-o", path, path + ".c"]
        try gcc.run()
        gcc.waitUntilExit()
        try #require(gcc.terminationStatus == 0)
        return path
    }

    /// Processes whose command line names a file in `directory` (none may survive a run).
    static func survivors(_ directory: String) -> [String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.filter { Int($0) != nil }.compactMap { pid in
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"),
                  String(decoding: data, as: UTF8.self).contains(directory) else { return nil }
            let state = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
            return state.contains(") Z ") ? nil : pid
        }
    }

    @Test(arguments: [WorkloadArch.x86_64, .i386])
    func crashesAndExitStatusesGiveCompleteReports(arch: WorkloadArch) throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let crash = try scratch.assemble("crash", """
                .globl _start
                .text
        _start: call f
                movl $1, 16
                EXIT0
                .balign 4096
        f:      ret

        """, arch: arch)
        let results = try live(crash)
        #expect(results.nativeEnd == .killed(signal: 11))
        let sbe = try #require(results.strategy(.sbe))
        #expect(sbe.end == .killed(signal: 11))
        #expect(sbe.nonzero == [.call: 1, .ret: 1])
        let nx = try #require(results.strategy(.pagefaultNX))
        #expect(nx.end == .killed(signal: 11))
        #expect(nx.nonzero == [.pfExec: 2])

        let three = try scratch.assemble("three", """
                .globl _start
                .text
        _start:
        #ifdef __x86_64__
                mov $60, %eax
                mov $3, %edi
                syscall
        #else
                mov $1, %eax
                mov $3, %ebx
                int $0x80
        #endif

        """, arch: arch)
        let exited = try live(three)
        #expect(exited.strategies.map(\.end) == [.exited(3), .exited(3)])
        #expect(exited.strategy(.sbe)?.nonzero == [.syscall: 1])
        #expect(EndingsTests.survivors(scratch.path).isEmpty)
    }

    @Test(arguments: [WorkloadArch.x86_64, .i386])
    func forkAndOwnBreakpointsAreRefused(arch: WorkloadArch) throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let fork = try scratch.assemble("fork", """
                .globl _start
                .text
        _start:
        #ifdef __x86_64__
                mov $57, %eax
                syscall
        #else
                mov $2, %eax
                int $0x80
        #endif
                mov $100000000, %ecx
        1:      dec %ecx
                jnz 1b
                EXIT0

        """, arch: arch)
        for strategy in LiveStrategy.allCases {
            #expect(throws: LiveError.notMonitorable("\(fork) forks a child process; the live monitor follows one process (docs/live.md)")) {
                try LiveRunner.run(program: fork, arguments: [], strategies: [strategy])
            }
        }
        let breakpoint = try scratch.assemble("int3", """
                .globl _start
                .text
        _start: int3
                EXIT0

        """, arch: arch)
        let start = arch == .x86_64 ? "0x401000" : "0x8049000"
        #expect(throws: LiveError.notMonitorable("\(breakpoint) executes its own INT3 at \(start); it cannot be told from the monitor's")) {
            try LiveRunner.run(program: breakpoint, arguments: [], strategies: [.sbe])
        }
        #expect(EndingsTests.survivors(scratch.path).isEmpty)
    }

    @Test func handlersExecAndFatalSignals() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let handler = try EndingsTests.compile("handler", """
        #include <signal.h>
        static volatile int got;
        static void on_usr1(int s) { got = s; }
        int main(void) { signal(SIGUSR1, on_usr1); raise(SIGUSR1); return got == SIGUSR1 ? 0 : 1; }
        """, in: scratch)
        #expect(throws: LiveError.notMonitorable("\(handler) handles signal 10 itself; the monitor cannot follow its handler exactly")) {
            try LiveRunner.run(program: handler, arguments: [], strategies: [.pagefaultNX])
        }
        let exec = try EndingsTests.compile("exec", """
        #include <unistd.h>
        int main(void) { execl("/bin/true", "true", (char *)0); return 1; }
        """, in: scratch)
        #expect(throws: LiveError.notMonitorable("\(exec) calls execve; the live monitor follows one program image")) {
            try LiveRunner.run(program: exec, arguments: [], strategies: [.sbe])
        }
        let terminate = try EndingsTests.compile("term", """
        #include <signal.h>
        int main(void) { raise(SIGTERM); return 0; }
        """, in: scratch)
        let results = try live(terminate)
        #expect(results.nativeEnd == .killed(signal: 15))
        #expect(results.strategies.map(\.end) == [.killed(signal: 15), .killed(signal: 15)])
        #expect(EndingsTests.survivors(scratch.path).isEmpty)
        #expect(throws: LiveError.cannotRun(scratch.path + "/missing", "no such executable file")) {
            try LiveRunner.run(program: scratch.path + "/missing", arguments: [], strategies: [.sbe])
        }
        #expect(throws: LiveError.badStrategy("dbt-link")) { try LiveStrategy.parse("sbe,dbt-link") }
    }
}
