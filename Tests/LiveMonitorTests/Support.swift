import Fidelity
import Foundation
import LiveMonitor
import Replay
import Workloads

/// A fresh directory for one test's programs and traces.
struct Scratch {
    let path: String
    init() throws {
        path = NSTemporaryDirectory() + "plexlab-live-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    func remove() { try? FileManager.default.removeItem(atPath: path) }

    /// Assembles `source` (the corpus micro prelude first, so EXIT0, RAX, W ... work in both modes).
    func assemble(_ name: String, _ source: String, arch: WorkloadArch) throws -> String {
        try WorkloadBuilder.assemble(source: LiveSources.prelude + source, arch: arch, name: name, in: path)
    }
}

enum LiveSources {
    static let prelude = """
    #ifdef __x86_64__
    #define EXIT0 mov $60, %eax; xor %edi, %edi; syscall
    #define PTR .quad
    #define W 8
    #define RAX %rax
    #define RCX %rcx
    #define RAX_ %rax
    #else
    #define EXIT0 mov $1, %eax; xor %ebx, %ebx; int $0x80
    #define PTR .long
    #define W 4
    #define RAX %eax
    #define RCX %ecx
    #endif

    """
}

/// Runs a program live under both strategies.
func live(_ program: String, _ arguments: [String] = []) throws -> LiveResults {
    try LiveRunner.run(program: program, arguments: arguments, strategies: LiveStrategy.allCases)
}
