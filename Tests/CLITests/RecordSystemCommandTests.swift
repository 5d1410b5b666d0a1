import Foundation
import Testing

/// `plexlab record --system`: what is refused before anything boots (docs/recorder.md, "System traces").
@Suite struct RecordSystemCommandTests {
    private static func oneErrorLine(_ run: PlexlabRun) -> Bool {
        run.status == 2 && run.stderr.hasPrefix("plexlab: error: ") && run.stderr.split(separator: "\n").count == 1
    }

    @Test func missingQemuSystemIsOneLineNamingThePackage() throws {
        let output = NSTemporaryDirectory() + "plexlab-system-\(UUID().uuidString.prefix(8)).plextrace"
        let run = try PlexlabRun(["record", "--system", "--out", output, "--", "/bin/true"],
                                 environment: ["PATH": "/nonexistent"])
        #expect(Self.oneErrorLine(run))
        #expect(run.stderr.contains("qemu-system-x86_64"))
        #expect(run.stderr.contains("apt-get install -t bookworm-backports qemu-system-x86"))
        #expect(!FileManager.default.fileExists(atPath: output))
    }

    @Test func aMissingKernelIsOneLine() throws {
        let run = try PlexlabRun(["record", "--system", "--kernel", "/nonexistent/vmlinuz", "--out",
                                  NSTemporaryDirectory() + "plexlab-nokernel.plextrace", "--", "/bin/true"])
        #expect(Self.oneErrorLine(run))
        // Without qemu-system 10 the first thing missing is QEMU; with it, the kernel.
        #expect(run.stderr.contains("/nonexistent/vmlinuz") || run.stderr.contains("qemu-system-x86_64"))
    }

    @Test func userModeOptionsAreRefusedWithSystem() throws {
        let run = try PlexlabRun(["record", "--system", "--max-insns", "5", "--", "/bin/true"])
        #expect(run.status == 2)
        #expect(run.stderr.contains("--system"))
        let noSystem = try PlexlabRun(["record", "--memory", "512", "--", "/bin/true"])
        #expect(noSystem.status == 2)
        #expect(noSystem.stderr.contains("need --system"))
    }
}
