import Testing
import TraceModel
@testable import X86Decode

/// The classifier of docs/strategies.md, "System traces": each instruction alone, then a block's totals.
@Suite struct PrivilegedInstructionTests {
    static func counts(_ source: String, bits: Int = 64) throws -> PrivilegedCounts {
        let code = try assemble(source, bits: bits)
        let decoder = X86Decoder(arch: bits == 64 ? .x86_64 : .i386)
        let shape = code.bytes.withUnsafeBytes { decoder.decodeBlock($0, at: 0x1000) }
        return code.bytes.withUnsafeBytes {
            decoder.privilegedCounts($0, at: 0x1000, instructionCount: shape?.instructionCount ?? 0)
        }
    }

    @Test(arguments: [
        ("cli", PrivilegedCounts(privileged: 1)), ("sti", PrivilegedCounts(privileged: 1)),
        ("mov %rax, %cr3", PrivilegedCounts(privileged: 1, cr3Writes: 1)),
        ("mov %cr3, %rax", PrivilegedCounts(privileged: 1)), ("mov %rax, %cr0", PrivilegedCounts(privileged: 1)),
        ("mov %rax, %cr8", PrivilegedCounts(privileged: 1)), ("mov %rax, %db7", PrivilegedCounts(privileged: 1)),
        ("lgdt (%rax)", PrivilegedCounts(privileged: 1)), ("lidt (%rax)", PrivilegedCounts(privileged: 1)),
        ("lldt %ax", PrivilegedCounts(privileged: 1)), ("ltr %ax", PrivilegedCounts(privileged: 1)),
        ("invlpg (%rax)", PrivilegedCounts(privileged: 1, invlpg: 1)),
        ("wrmsr", PrivilegedCounts(privileged: 1, msr: 1)), ("rdmsr", PrivilegedCounts(privileged: 1, msr: 1)),
        ("in $0x60, %al", PrivilegedCounts(privileged: 1, io: 1)), ("out %al, %dx", PrivilegedCounts(privileged: 1, io: 1)),
        ("insb", PrivilegedCounts(privileged: 1, io: 1)), ("outsl", PrivilegedCounts(privileged: 1, io: 1)),
        ("hlt", PrivilegedCounts(privileged: 1, hlt: 1)), ("swapgs", PrivilegedCounts(privileged: 1)),
        ("clts", PrivilegedCounts(privileged: 1)), ("wbinvd", PrivilegedCounts(privileged: 1)),
        ("invd", PrivilegedCounts(privileged: 1)),
        // Sensitive but silent (counted as sensitiveCount, not here), unprivileged, or a block's exit.
        ("pushf", PrivilegedCounts()), ("popf", PrivilegedCounts()), ("sgdt (%rax)", PrivilegedCounts()),
        ("smsw %ax", PrivilegedCounts()), ("mov %ax, %ds", PrivilegedCounts()), ("rdtsc", PrivilegedCounts()),
        ("cpuid", PrivilegedCounts()), ("mov %rax, %rbx", PrivilegedCounts()), ("iretq", PrivilegedCounts()),
        ("sysretq", PrivilegedCounts()), ("syscall", PrivilegedCounts()),
    ])
    func eachInstruction(source: String, expected: PrivilegedCounts) throws {
        #expect(try Self.counts(source) == expected, "\(source)")
    }

    /// A kernel block: cli; mov cr3; invlpg; out; hlt; wrmsr; sti; iretq. The final iretq is the exit.
    @Test func aBlockCountsEveryClassOnce() throws {
        let counts = try Self.counts("cli\nmov %rdi, %cr3\ninvlpg (%rsi)\nout %al, $0x80\nhlt\nwrmsr\nsti\niretq")
        #expect(counts == PrivilegedCounts(privileged: 7, cr3Writes: 1, invlpg: 1, io: 1, hlt: 1, msr: 1))
    }

    @Test func i386ControlRegisterForms() throws {
        #expect(try Self.counts("mov %eax, %cr3\nmov %cr0, %eax\ncli", bits: 32)
                == PrivilegedCounts(privileged: 3, cr3Writes: 1))
    }
}
