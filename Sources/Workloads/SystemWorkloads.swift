import Foundation
import Recorder

/// A corpus workload run inside the whole-system guest (`plexlab record --system --workload NAME`): a command
/// of the guest image (busybox applets, the guest workloads of the recorder's GuestSources) with its
/// inputs under /data, and the part of the run the trace holds.
public struct SystemWorkload: Sendable {
    public var name: String
    public var summary: String
    public var command: [String]
    public var inputs: [GeneratedInput]
    public var window: SystemWindow

    public init(name: String, summary: String, command: [String], inputs: [GeneratedInput] = [],
                window: SystemWindow = .command) {
        self.name = name
        self.summary = summary
        self.command = command
        self.inputs = inputs
        self.window = window
    }

    /// Recorder options for this workload, writing `output`.
    public func options(output: String) -> SystemRecordOptions {
        SystemRecordOptions(output: output, command: command,
                            files: inputs.map { GuestFile(name: $0.name, bytes: $0.bytes()) }, window: window)
    }
}

extension WorkloadCatalog {
    /// The whole-system corpus (issue 23): Adams and Agesen's forkwait, a syscall loop, a page-fault loop,
    /// gzip, and the boot itself. Counts are kept small: TCG runs the guest ~50x slower than native.
    public static let system: [SystemWorkload] = [
        SystemWorkload(name: "sys-boot", summary: "the kernel boots to the init's prompt (kernel start to the window mark)",
                       command: ["/bin/true"], window: .boot),
        SystemWorkload(name: "sys-forkwait", summary: "forkwait: 200 fork and wait pairs (Adams and Agesen)",
                       command: ["/bin/plexlab-forkwait", "200"]),
        SystemWorkload(name: "sys-getppid", summary: "a system-call loop: 20000 getppid calls",
                       command: ["/bin/plexlab-getppid", "20000"]),
        SystemWorkload(name: "sys-pagefault", summary: "a page-fault loop: 2048 fresh anonymous pages touched",
                       command: ["/bin/plexlab-pagefault", "2048"]),
        SystemWorkload(name: "sys-gzip", summary: "busybox gzip of 128 KiB of text",
                       command: ["/bin/gzip", "-k", "/data/text.txt"],
                       inputs: [GeneratedInput(name: "text.txt", content: .text(seed: 23, bytes: 128 << 10))]),
    ]

    public static func systemNamed(_ name: String) throws -> SystemWorkload {
        guard let workload = system.first(where: { $0.name == name }) else {
            throw WorkloadError.unknown(name: name, known: system.map(\.name))
        }
        return workload
    }
}
