import Testing
import TraceModel
@testable import X86Decode

private func block(_ bytes: [UInt8], at address: UInt64, arch: GuestArch = .x86_64, maxLength: Int? = nil) -> BlockShape? {
    bytes.withUnsafeBytes { X86Decoder(arch: arch).decodeBlock($0, at: address, maxLength: maxLength) }
}

@Test func sensitiveInstructionsAreCountedIn64BitMode() throws {
    let code = try assemble("pushf; popf; mov %ds, %ax; cpuid; sgdt (%rax); nop; push %rax; ret")
    let shape = block(code.bytes, at: 0x401000)
    #expect(shape == BlockShape(length: code.bytes.count, instructionCount: 8, exitKind: .ret, staticTarget: nil,
                                sensitiveCount: 5, cpuidCount: 1, end: .controlTransfer,
                                lastInstructionOffset: code.bytes.count - 1))
}

@Test func sensitiveInstructionsAreCountedIn32BitMode() throws {
    // 10 sensitive instructions, then a far return: the final transfer is an exit, not a sensitive count.
    let code = try assemble("""
    push %ds; pop %es; smsw %ax; str %ax; lar %ax, %bx; lsl %ax, %bx; verr %ax; verw %ax; sldt %ax
    sidt (%eax); add $1, %eax; lret
    """, bits: 32)
    let shape = block(code.bytes, at: 0x8048000, arch: .i386)
    #expect(shape == BlockShape(length: code.bytes.count, instructionCount: 12, exitKind: .far, staticTarget: nil,
                                sensitiveCount: 10, cpuidCount: 0, end: .controlTransfer,
                                lastInstructionOffset: code.bytes.count - 1))
}

@Test func blockEndsAtTheFirstControlTransfer() throws {
    let code = try assemble("""
            mov $1, %eax
            add %eax, %ebx
    branch: jnz target
    after:  nop
    target: ret
    """)
    let shape = block(code.bytes, at: 0x401000)
    #expect(shape == BlockShape(length: code.offset("after"), instructionCount: 3, exitKind: .jcc,
                                staticTarget: 0x401000 + UInt64(code.offset("target")), sensitiveCount: 0,
                                cpuidCount: 0, end: .controlTransfer, lastInstructionOffset: code.offset("branch")))
}

@Test func straddlingInstructionEndsTheBlockAtThePageEnd() {
    // Five nops at 0x401FFA..0x401FFE, then mov eax, imm32 at 0x401FFF running into the next page.
    let bytes: [UInt8] = [0x90, 0x90, 0x90, 0x90, 0x90, 0xB8, 0x01, 0x02, 0x03, 0x04, 0xC3]
    #expect(block(bytes, at: 0x401FFA) == BlockShape(length: 10, instructionCount: 6, exitKind: .split,
                                                    staticTarget: nil, sensitiveCount: 0, cpuidCount: 0, end: .pageEnd,
                                                    lastInstructionOffset: 5))
    // Without the next page's bytes the straddling instruction cannot be decoded.
    #expect(block(Array(bytes.prefix(6)), at: 0x401FFA) == BlockShape(length: 5, instructionCount: 5, exitKind: .split,
                                                                     staticTarget: nil, sensitiveCount: 0, cpuidCount: 0,
                                                                     end: .outOfBytes, lastInstructionOffset: 4))
    #expect(block(Array(bytes[5...]), at: 0x401FFF, maxLength: nil)?.end == .pageEnd)
}

@Test func blockEndsExactlyAtThePageEnd() {
    let bytes: [UInt8] = [0x90, 0x90, 0x90, 0x90, 0xC3]
    #expect(block(bytes, at: 0x401FFC) == BlockShape(length: 4, instructionCount: 4, exitKind: .split, staticTarget: nil,
                                                    sensitiveCount: 0, cpuidCount: 0, end: .pageEnd,
                                                    lastInstructionOffset: 3))
    // A control transfer that straddles the page end keeps its kind.
    let call: [UInt8] = [0x90, 0xE8, 0x00, 0x01, 0x00, 0x00]
    #expect(block(call, at: 0x401FFE) == BlockShape(length: 6, instructionCount: 2, exitKind: .call,
                                                   staticTarget: 0x402004 + 0x100, sensitiveCount: 0, cpuidCount: 0,
                                                   end: .controlTransfer, lastInstructionOffset: 1))
}

@Test func maxLengthSplitsTheBlock() {
    let nops = [UInt8](repeating: 0x90, count: 10) + [0xC3]
    #expect(block(nops, at: 0x1000, maxLength: 3) == BlockShape(length: 3, instructionCount: 3, exitKind: .split,
                                                               staticTarget: nil, sensitiveCount: 0, cpuidCount: 0,
                                                               end: .lengthLimit, lastInstructionOffset: 2))
    #expect(block(nops, at: 0x1000, maxLength: 11)?.exitKind == .ret)
    // An instruction that would run past maxLength is left out.
    let mixed: [UInt8] = [0x90, 0xB8, 0x01, 0x00, 0x00, 0x00, 0xC3]
    #expect(block(mixed, at: 0x1000, maxLength: 3) == BlockShape(length: 1, instructionCount: 1, exitKind: .split,
                                                                staticTarget: nil, sensitiveCount: 0, cpuidCount: 0,
                                                                end: .lengthLimit, lastInstructionOffset: 0))
    #expect(block(Array(mixed[1...]), at: 0x1001, maxLength: 3) == nil)
}

@Test func undecodableBytesEndTheBlockBeforeThem() {
    let bytes: [UInt8] = [0x90, 0x90, 0x06, 0xC3]  // 0x06 is invalid in 64-bit mode
    #expect(block(bytes, at: 0x1000) == BlockShape(length: 2, instructionCount: 2, exitKind: .split, staticTarget: nil,
                                                  sensitiveCount: 0, cpuidCount: 0, end: .undecodable,
                                                  lastInstructionOffset: 1))
    #expect(block(Array(bytes[2...]), at: 0x1002) == nil)
    // The same byte is push es in 32-bit mode: sensitive, not an end.
    #expect(block(bytes, at: 0x1000, arch: .i386)?.sensitiveCount == 1)
    #expect(block(bytes, at: 0x1000, arch: .i386)?.exitKind == .ret)
}
