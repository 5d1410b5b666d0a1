import CZydis
import TraceModel

/// One decoded instruction, classified the way the strategies need it (see docs/strategies.md).
public struct DecodedInstruction: Sendable, Equatable {
    /// Guest address of the instruction.
    public var address: UInt64
    /// Length in bytes (1...15).
    public var length: Int
    /// How a block ending here exits, or nil when the instruction is not a control transfer.
    ///
    /// jcc also covers loop/loope/loopne and jcxz/jecxz/jrcxz; syscall covers syscall, sysenter, int n,
    /// int3, int1 and into; far covers far jmp/call/ret, iret/iretd/iretq and also sysret and sysexit
    /// (privileged returns that change CS). RTM's xbegin/xend/xabort are not control transfers here
    /// (xbegin falls through unless a transaction aborts).
    public var controlTransfer: ExitKind?
    /// Target of a jcc/loop/jcxz or near direct jmp/call, else nil.
    public var staticTarget: UInt64?
    /// Misbehaves in ring 3 without trapping (pushf, popf, sgdt, ..., far transfers), or cpuid.
    public var isSensitive: Bool
    public var isCPUID: Bool
    /// A page scan does not continue past it (ret, indirect jmp, far transfers, hlt, ud0/ud1/ud2).
    public var endsScan: Bool
    /// Zydis' mnemonic number; `mnemonic` spells it.
    let mnemonicCode: UInt32

    /// Lower-case mnemonic as Zydis spells it ("jnz", "call", "iretq", ...).
    public var mnemonic: String {
        guard let text = ZydisMnemonicGetString(ZydisMnemonic(rawValue: mnemonicCode)) else { return "invalid" }
        return String(cString: text)
    }

    /// Address of the next instruction in memory (a call's return address).
    public var fallThrough: UInt64 { address &+ UInt64(length) }
}

/// Why `X86Decoder.decodeBlock` stopped where it did.
public enum BlockEnd: UInt8, Sendable, Equatable {
    /// The last instruction is a control transfer.
    case controlTransfer
    /// The next instruction would start on another 4096-byte page (the last one may straddle into it).
    case pageEnd
    /// `maxLength` bytes were reached (or the next instruction would run past them).
    case lengthLimit
    /// The next bytes do not decode as an instruction.
    case undecodable
    /// The code buffer ended inside or right before the next instruction.
    case outOfBytes
}

/// The shape of one block: what `BlockDefinition` holds apart from its address, version and bytes.
public struct BlockShape: Sendable, Equatable {
    public var length: Int
    public var instructionCount: Int
    /// `split` unless the block ends at a control transfer.
    public var exitKind: ExitKind
    public var staticTarget: UInt64?
    /// Sensitive instructions other than the final control transfer (cpuid included).
    public var sensitiveCount: Int
    public var cpuidCount: Int
    public var end: BlockEnd
    /// Byte offset of the last instruction.
    public var lastInstructionOffset: Int

    public init(length: Int, instructionCount: Int, exitKind: ExitKind, staticTarget: UInt64?,
                sensitiveCount: Int, cpuidCount: Int, end: BlockEnd, lastInstructionOffset: Int) {
        self.length = length
        self.instructionCount = instructionCount
        self.exitKind = exitKind
        self.staticTarget = staticTarget
        self.sensitiveCount = sensitiveCount
        self.cpuidCount = cpuidCount
        self.end = end
        self.lastInstructionOffset = lastInstructionOffset
    }
}

/// Decodes guest x86 code with Zydis: x86_64 in 64-bit mode, i386 in 32-bit legacy mode.
public struct X86Decoder: @unchecked Sendable {
    // @unchecked: ZydisDecoder is a plain C struct of three integers, only read after init.
    public let arch: GuestArch
    /// Minimal mode: the per-instruction work of blocks and scans.
    @usableFromInline var decoder: ZydisDecoder
    /// Full mode with operands: formatting.
    var fullDecoder: ZydisDecoder

    /// Blocks never run past a page of this size (the trace's capture granularity).
    public static let blockPageSize = 4096

    public init(arch: GuestArch) {
        self.arch = arch
        decoder = ZydisDecoder()
        let status: ZyanStatus = switch arch {
        case .x86_64: ZydisDecoderInit(&decoder, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64)
        case .i386: ZydisDecoderInit(&decoder, ZYDIS_MACHINE_MODE_LEGACY_32, ZYDIS_STACK_WIDTH_32)
        }
        precondition(Zydis.succeeded(status), "ZydisDecoderInit failed")
        // Minimal mode still gives mnemonic, length, branch type, opcode and raw immediates: all we classify by.
        fullDecoder = decoder
        precondition(Zydis.succeeded(ZydisDecoderEnableMode(&decoder, ZYDIS_DECODER_MODE_MINIMAL, 1)))
    }

    /// Decodes the instruction at the start of `code`, nil when the bytes are not a whole valid instruction.
    public func decode(_ code: UnsafeRawBufferPointer, at address: UInt64) -> DecodedInstruction? {
        guard let base = code.baseAddress, code.count > 0 else { return nil }
        var instruction = ZydisDecodedInstruction()
        var context = ZydisDecoderContext()
        var decoder = self.decoder
        guard Zydis.succeeded(ZydisDecoderDecodeInstruction(&decoder, &context, base, code.count, &instruction)) else {
            return nil
        }
        let kind = InstructionClass(instruction)
        return DecodedInstruction(
            address: address, length: Int(instruction.length),
            controlTransfer: kind.exitKindRaw == InstructionClass.notATransfer ? nil : ExitKind(rawValue: kind.exitKindRaw),
            staticTarget: kind.isRelative ? relativeTarget(instruction, at: address) : nil,
            isSensitive: kind.isSensitive, isCPUID: kind.isCPUID, endsScan: kind.endsScan,
            mnemonicCode: instruction.mnemonic.rawValue)
    }

    /// Intel-syntax text of the instruction at the start of `code` ("(bad)" when undecodable).
    public func format(_ code: UnsafeRawBufferPointer, at address: UInt64) -> String {
        guard let base = code.baseAddress, code.count > 0 else { return "(bad)" }
        var decoder = fullDecoder
        var instruction = ZydisDecodedInstruction()
        return withUnsafeTemporaryAllocation(of: ZydisDecodedOperand.self, capacity: Int(ZYDIS_MAX_OPERAND_COUNT)) { operands in
            guard Zydis.succeeded(ZydisDecoderDecodeFull(&decoder, base, code.count, &instruction, operands.baseAddress)) else {
                return "(bad)"
            }
            var formatter = ZydisFormatter()
            guard Zydis.succeeded(ZydisFormatterInit(&formatter, ZYDIS_FORMATTER_STYLE_INTEL)) else { return "(bad)" }
            var text = [CChar](repeating: 0, count: 256)
            let status = ZydisFormatterFormatInstruction(&formatter, &instruction, operands.baseAddress,
                                                         instruction.operand_count_visible, &text, text.count,
                                                         address, nil)
            guard Zydis.succeeded(status) else { return "(bad)" }
            return String(decoding: text.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }

    /// Decodes one block starting at `address` (`code` starts there): up to and including the first control
    /// transfer; or until the next instruction would start on another 4096-byte page (an instruction that
    /// straddles the page end is included and ends the block as `split`); or until `maxLength` bytes (an
    /// instruction that would run past them is left out); or before undecodable or missing bytes.
    /// Nil when not even the first instruction fits these rules.
    public func decodeBlock(_ code: UnsafeRawBufferPointer, at address: UInt64, maxLength: Int? = nil) -> BlockShape? {
        guard let base = code.baseAddress, code.count > 0 else { return nil }
        let pageRemainder = X86Decoder.blockPageSize - Int(address & UInt64(X86Decoder.blockPageSize - 1))
        let limit = maxLength ?? Int.max
        var decoder = self.decoder
        var instruction = ZydisDecodedInstruction()
        var context = ZydisDecoderContext()
        var offset = 0
        var lastOffset = 0
        var count = 0
        var sensitive = 0
        var cpuid = 0
        var exitKind = ExitKind.split
        var target: UInt64? = nil
        var end: BlockEnd
        while true {
            if offset >= pageRemainder { end = .pageEnd; break }
            if offset >= limit { end = .lengthLimit; break }
            let available = code.count - offset
            if available <= 0 { end = .outOfBytes; break }
            let status = ZydisDecoderDecodeInstruction(&decoder, &context, base + offset, available, &instruction)
            if !Zydis.succeeded(status) {
                end = status == Zydis.noMoreData ? .outOfBytes : .undecodable
                break
            }
            let length = Int(instruction.length)
            if offset + length > limit { end = .lengthLimit; break }
            let kind = InstructionClass(instruction)
            let instructionAddress = address &+ UInt64(offset)
            lastOffset = offset
            offset += length
            count += 1
            if kind.exitKindRaw != InstructionClass.notATransfer {
                exitKind = ExitKind(rawValue: kind.exitKindRaw)!
                if kind.isRelative { target = relativeTarget(instruction, at: instructionAddress) }
                end = .controlTransfer
                break
            }
            if kind.isSensitive { sensitive += 1 }
            if kind.isCPUID { cpuid += 1 }
        }
        guard count > 0 else { return nil }
        return BlockShape(length: offset, instructionCount: count, exitKind: exitKind, staticTarget: target,
                          sensitiveCount: sensitive, cpuidCount: cpuid, end: end, lastInstructionOffset: lastOffset)
    }

    /// The absolute target of a relative branch: the next instruction's address plus the signed
    /// immediate, wrapped like ZydisCalcAbsoluteAddress does (16 bits for a 16-bit operand size outside
    /// 64-bit mode) and kept to 32 bits for i386.
    @usableFromInline
    func relativeTarget(_ instruction: borrowing ZydisDecodedInstruction, at address: UInt64) -> UInt64 {
        let displacement = UInt64(bitPattern: instruction.raw.imm.0.value.s)
        let target = address &+ UInt64(instruction.length) &+ displacement
        switch arch {
        case .x86_64: return target
        case .i386: return instruction.operand_width == 16 ? target & 0xFFFF : target & 0xFFFF_FFFF
        }
    }
}

/// Zycore status helpers (the C macros are not visible to Swift).
enum Zydis {
    @inline(__always) static func succeeded(_ status: ZyanStatus) -> Bool { status & 0x8000_0000 == 0 }
    /// ZYDIS_STATUS_NO_MORE_DATA = ZYAN_MAKE_STATUS(1, ZYAN_MODULE_ZYDIS, 0).
    static let noMoreData: ZyanStatus = 0x8000_0000 | (0x002 << 20)
}
