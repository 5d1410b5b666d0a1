#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import Recorder

@Suite struct ChildProcessTests {
    @Test func outputIsStandardOutputOnly() throws {
        let bytes = try #require(ChildProcess.output(of: "/bin/sh", ["sh", "-c", "echo out; echo err >&2"]))
        #expect(String(decoding: bytes, as: UTF8.self) == "out\n")
    }

    @Test func aProgramThatCannotStartGivesNoOutput() {
        #expect(ChildProcess.output(of: "/nonexistent/qemu", ["qemu", "--version"]) == nil)
        #expect(Tools.qemuVersion("/nonexistent/qemu") == "unknown")
    }

    @Test func waitReportsExitStatusAndSignal() throws {
        let exiting = try ChildProcess.spawn("/bin/sh", ["sh", "-c", "exit 3"], redirect: [])
        #expect(ChildProcess.wait(exiting) == .exited(3))
        let killed = try ChildProcess.spawn("/bin/sh", ["sh", "-c", "kill -TERM $$"], redirect: [])
        #expect(ChildProcess.wait(killed) == .signaled(SIGTERM))
    }

    @Test func spawnFailureNamesTheError() {
        #expect(throws: ChildProcess.SpawnError(code: ENOENT)) {
            _ = try ChildProcess.spawn("/nonexistent/qemu", ["qemu"], redirect: [])
        }
        #expect(ChildProcess.SpawnError(code: ENOENT).description == "No such file or directory")
    }

    @Test func theWatcherStopsAtOnceWhetherOrNotItStartedWaiting() {
        // stop() right after init races the watcher's start; both orders must return (no hang).
        for _ in 0..<50 {
            let watcher = SignalWatcher()
            watcher.stop()
            #expect(watcher.interruption == nil)
        }
    }
}
