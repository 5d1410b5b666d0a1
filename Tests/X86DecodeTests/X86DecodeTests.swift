import Testing
import TraceModel
@testable import X86Decode

/// One instruction's expected classification.
private struct Expect {
    var source: String
    var kind: ExitKind?
    var sensitive = false
    var endsScan = false
    var cpuid = false
}

/// Assembles the lines in order and checks each decoded instruction against its expectation.
private func checkSequence(_ expectations: [Expect], bits: Int) throws {
    let code = try assemble(expectations.map(\.source).joined(separator: "\n"), bits: bits)
    let decoder = X86Decoder(arch: bits == 64 ? .x86_64 : .i386)
    var offset = 0
    for expect in expectations {
        let decoded = code.bytes.withUnsafeBytes { bytes in
            decoder.decode(UnsafeRawBufferPointer(rebasing: bytes[offset...]), at: 0x1000 + UInt64(offset))
        }
        guard let decoded else {
            Issue.record("\(expect.source): undecodable")
            return
        }
        #expect(decoded.controlTransfer == expect.kind, "\(expect.source) (\(decoded.mnemonic))")
        #expect(decoded.isSensitive == expect.sensitive, "\(expect.source) sensitive")
        #expect(decoded.endsScan == expect.endsScan, "\(expect.source) endsScan")
        #expect(decoded.isCPUID == expect.cpuid, "\(expect.source) cpuid")
        offset += decoded.length
    }
    #expect(offset == code.bytes.count)
}

@Test func exitKindsIn64BitMode() throws {
    try checkSequence([
        Expect(source: "1: jnz 1b", kind: .jcc),
        Expect(source: "jle 1b", kind: .jcc),
        Expect(source: "loop 1b", kind: .jcc),
        Expect(source: "loope 1b", kind: .jcc),
        Expect(source: "loopne 1b", kind: .jcc),
        Expect(source: "jrcxz 1b", kind: .jcc),
        Expect(source: "jecxz 1b", kind: .jcc),
        Expect(source: "jmp 1b", kind: .jmp),
        Expect(source: "jmp *%rax", kind: .jmpInd, endsScan: true),
        Expect(source: "jmp *8(%rax,%rcx,8)", kind: .jmpInd, endsScan: true),
        Expect(source: "call 1b", kind: .call),
        Expect(source: "call *%rax", kind: .callInd),
        Expect(source: "call *(%rbx)", kind: .callInd),
        Expect(source: "ret", kind: .ret, endsScan: true),
        Expect(source: "ret $8", kind: .ret, endsScan: true),
        Expect(source: "syscall", kind: .syscall),
        Expect(source: "sysenter", kind: .syscall),
        Expect(source: "int $0x80", kind: .syscall),
        Expect(source: "int3", kind: .syscall),
        Expect(source: "int1", kind: .syscall),
        Expect(source: "ljmp *(%rax)", kind: .far, sensitive: true, endsScan: true),
        Expect(source: "lcall *(%rax)", kind: .far, sensitive: true, endsScan: true),
        Expect(source: "lretq", kind: .far, sensitive: true, endsScan: true),
        Expect(source: "lretq $8", kind: .far, sensitive: true, endsScan: true),
        Expect(source: "iretq", kind: .far, sensitive: true, endsScan: true),
        Expect(source: "iretl", kind: .far, sensitive: true, endsScan: true),
        Expect(source: "sysretq", kind: .far, sensitive: true, endsScan: true),
        Expect(source: "sysexitl", kind: .far, sensitive: true, endsScan: true),
        Expect(source: "hlt", kind: nil, endsScan: true),
        Expect(source: "ud2", kind: nil, endsScan: true),
        Expect(source: "nop", kind: nil),
        Expect(source: "mov %rax, %rbx", kind: nil),
        Expect(source: "push %rax", kind: nil),
        Expect(source: "pop %rbx", kind: nil),
        Expect(source: "mov (%rax), %ecx", kind: nil),
        Expect(source: "cpuid", kind: nil, sensitive: true, cpuid: true),
    ], bits: 64)
}

@Test func exitKindsIn32BitMode() throws {
    try checkSequence([
        Expect(source: "1: jz 1b", kind: .jcc),
        Expect(source: "loop 1b", kind: .jcc),
        Expect(source: "jecxz 1b", kind: .jcc),
        Expect(source: "jcxz 1b", kind: .jcc),
        Expect(source: "jmp 1b", kind: .jmp),
        Expect(source: "jmp *%eax", kind: .jmpInd, endsScan: true),
        Expect(source: "call 1b", kind: .call),
        Expect(source: "call *4(%eax)", kind: .callInd),
        Expect(source: "ret", kind: .ret, endsScan: true),
        Expect(source: "ret $4", kind: .ret, endsScan: true),
        Expect(source: "int $0x80", kind: .syscall),
        Expect(source: "int3", kind: .syscall),
        Expect(source: "into", kind: .syscall),
        Expect(source: "sysenter", kind: .syscall),
        Expect(source: "ljmp $0x10, $0x1000", kind: .far, sensitive: true, endsScan: true),
        Expect(source: "lcall $0x10, $0x1000", kind: .far, sensitive: true, endsScan: true),
        Expect(source: "ljmp *(%eax)", kind: .far, sensitive: true, endsScan: true),
        Expect(source: "lret", kind: .far, sensitive: true, endsScan: true),
        Expect(source: "iret", kind: .far, sensitive: true, endsScan: true),
        Expect(source: "iretw", kind: .far, sensitive: true, endsScan: true),
        Expect(source: "sysexit", kind: .far, sensitive: true, endsScan: true),
        Expect(source: "push %cs", kind: nil, sensitive: true),
        Expect(source: "push %ds", kind: nil, sensitive: true),
        Expect(source: "pop %es", kind: nil, sensitive: true),
        Expect(source: "push %ss", kind: nil, sensitive: true),
        Expect(source: "pop %ss", kind: nil, sensitive: true),
        Expect(source: "push %fs", kind: nil, sensitive: true),
        Expect(source: "pop %gs", kind: nil, sensitive: true),
        Expect(source: "mov %ds, %ax", kind: nil, sensitive: true),
        Expect(source: "mov %ax, %es", kind: nil, sensitive: true),
        Expect(source: "mov %eax, %ebx", kind: nil),
        Expect(source: "pushf", kind: nil, sensitive: true),
        Expect(source: "popf", kind: nil, sensitive: true),
        Expect(source: "cpuid", kind: nil, sensitive: true, cpuid: true),
        Expect(source: "hlt", kind: nil, endsScan: true),
    ], bits: 32)
}

@Test func staticTargets() throws {
    let code = try assemble("""
    back:   nop
            jnz forward
            jmp back
            call forward
            loop back
    forward: ret
    """)
    let decoder = X86Decoder(arch: .x86_64)
    let base: UInt64 = 0x7fff_0000_1000
    var offset = 1
    var targets: [UInt64?] = []
    while offset < code.bytes.count {
        let decoded = code.bytes.withUnsafeBytes {
            decoder.decode(UnsafeRawBufferPointer(rebasing: $0[offset...]), at: base + UInt64(offset))
        }!
        targets.append(decoded.staticTarget)
        offset += decoded.length
    }
    let back = base + UInt64(code.offset("back"))
    let forward = base + UInt64(code.offset("forward"))
    #expect(targets == [forward, back, forward, back, nil])
}

@Test func sixteenBitRelativeJumpWrapsIn32BitMode() {
    // 66 E9 10 00 = jmp rel16 at 0x401000: IP = (0x401004 + 0x10) & 0xFFFF.
    let bytes: [UInt8] = [0x66, 0xE9, 0x10, 0x00]
    let decoded = bytes.withUnsafeBytes { X86Decoder(arch: .i386).decode($0, at: 0x401000) }
    #expect(decoded?.controlTransfer == .jmp)
    #expect(decoded?.staticTarget == 0x1014)
    // A backward rel32 jump near address 0 wraps within 32 bits: E9 F0 FF FF FF at 0x8 -> 0xFFFFFFFD.
    let back: [UInt8] = [0xE9, 0xF0, 0xFF, 0xFF, 0xFF]
    #expect(back.withUnsafeBytes { X86Decoder(arch: .i386).decode($0, at: 0x8) }?.staticTarget == 0xFFFF_FFFD)
}

@Test func undecodableBytes() {
    // 0x06 (push es) does not exist in 64-bit mode; it does in 32-bit mode.
    let bytes: [UInt8] = [0x06]
    #expect(bytes.withUnsafeBytes { X86Decoder(arch: .x86_64).decode($0, at: 0) } == nil)
    #expect(bytes.withUnsafeBytes { X86Decoder(arch: .i386).decode($0, at: 0) }?.isSensitive == true)
    // A truncated instruction (mov eax, imm32 with 2 of its 5 bytes).
    let truncated: [UInt8] = [0xB8, 0x01]
    #expect(truncated.withUnsafeBytes { X86Decoder(arch: .x86_64).decode($0, at: 0) } == nil)
}

@Test func intelSyntaxFormatting() {
    let decoder = X86Decoder(arch: .x86_64)
    let call: [UInt8] = [0xE8, 0x0B, 0x00, 0x00, 0x00]
    #expect(call.withUnsafeBytes { decoder.format($0, at: 0x401000) } == "call 0x0000000000401010")
    let move: [UInt8] = [0x48, 0x8B, 0x07]
    #expect(move.withUnsafeBytes { decoder.format($0, at: 0) } == "mov rax, [rdi]")
    let bad: [UInt8] = [0x06]
    #expect(bad.withUnsafeBytes { decoder.format($0, at: 0) } == "(bad)")
    #expect(move.withUnsafeBytes { decoder.decode($0, at: 0) }?.mnemonic == "mov")
}
