import CZydis
import TraceModel

/// What PlexLab needs to know about a mnemonic, looked up in a table indexed by Zydis' mnemonic number
/// so the per-instruction work is one load and a few bit tests.
struct MnemonicTraits: OptionSet, Sendable {
    let rawValue: UInt16

    /// jcc, loop/loope/loopne, jcxz/jecxz/jrcxz.
    static let conditionalBranch = MnemonicTraits(rawValue: 1 << 0)
    /// jmp (near direct, near indirect or far, told apart by the decoded instruction).
    static let jump = MnemonicTraits(rawValue: 1 << 1)
    /// call (same three forms as jmp).
    static let call = MnemonicTraits(rawValue: 1 << 2)
    /// ret (near or far, told apart by the branch type).
    static let ret = MnemonicTraits(rawValue: 1 << 3)
    /// syscall, sysenter, int n, int3, int1, into.
    static let syscallClass = MnemonicTraits(rawValue: 1 << 4)
    /// iret/iretd/iretq, sysret, sysexit: always far transfers.
    static let alwaysFar = MnemonicTraits(rawValue: 1 << 5)
    /// Sensitive whatever the operands (pushf, popf, sgdt, ..., cpuid).
    static let sensitive = MnemonicTraits(rawValue: 1 << 6)
    /// push/pop/mov: sensitive only in their segment-register forms.
    static let segmentRegisterForms = MnemonicTraits(rawValue: 1 << 7)
    /// cpuid.
    static let cpuid = MnemonicTraits(rawValue: 1 << 8)
    /// hlt, ud0, ud1, ud2: a scan never continues past them.
    static let haltsScan = MnemonicTraits(rawValue: 1 << 9)

    static let table: [MnemonicTraits] = {
        var table = [MnemonicTraits](repeating: [], count: Int(ZYDIS_MNEMONIC_MAX_VALUE.rawValue) + 1)
        func mark(_ mnemonics: [ZydisMnemonic], _ traits: MnemonicTraits) {
            for mnemonic in mnemonics { table[Int(mnemonic.rawValue)].formUnion(traits) }
        }
        mark([ZYDIS_MNEMONIC_JB, ZYDIS_MNEMONIC_JBE, ZYDIS_MNEMONIC_JL, ZYDIS_MNEMONIC_JLE,
              ZYDIS_MNEMONIC_JNB, ZYDIS_MNEMONIC_JNBE, ZYDIS_MNEMONIC_JNL, ZYDIS_MNEMONIC_JNLE,
              ZYDIS_MNEMONIC_JNO, ZYDIS_MNEMONIC_JNP, ZYDIS_MNEMONIC_JNS, ZYDIS_MNEMONIC_JNZ,
              ZYDIS_MNEMONIC_JO, ZYDIS_MNEMONIC_JP, ZYDIS_MNEMONIC_JS, ZYDIS_MNEMONIC_JZ,
              ZYDIS_MNEMONIC_JCXZ, ZYDIS_MNEMONIC_JECXZ, ZYDIS_MNEMONIC_JRCXZ,
              ZYDIS_MNEMONIC_LOOP, ZYDIS_MNEMONIC_LOOPE, ZYDIS_MNEMONIC_LOOPNE], .conditionalBranch)
        mark([ZYDIS_MNEMONIC_JMP], .jump)
        mark([ZYDIS_MNEMONIC_CALL], .call)
        mark([ZYDIS_MNEMONIC_RET], .ret)
        mark([ZYDIS_MNEMONIC_SYSCALL, ZYDIS_MNEMONIC_SYSENTER, ZYDIS_MNEMONIC_INT, ZYDIS_MNEMONIC_INT3,
              ZYDIS_MNEMONIC_INT1, ZYDIS_MNEMONIC_INTO], .syscallClass)
        mark([ZYDIS_MNEMONIC_IRET, ZYDIS_MNEMONIC_IRETD, ZYDIS_MNEMONIC_IRETQ,
              ZYDIS_MNEMONIC_SYSRET, ZYDIS_MNEMONIC_SYSEXIT], .alwaysFar)
        mark([ZYDIS_MNEMONIC_PUSHF, ZYDIS_MNEMONIC_PUSHFD, ZYDIS_MNEMONIC_PUSHFQ,
              ZYDIS_MNEMONIC_POPF, ZYDIS_MNEMONIC_POPFD, ZYDIS_MNEMONIC_POPFQ,
              ZYDIS_MNEMONIC_SGDT, ZYDIS_MNEMONIC_SIDT, ZYDIS_MNEMONIC_SLDT, ZYDIS_MNEMONIC_SMSW,
              ZYDIS_MNEMONIC_STR, ZYDIS_MNEMONIC_LAR, ZYDIS_MNEMONIC_LSL, ZYDIS_MNEMONIC_VERR,
              ZYDIS_MNEMONIC_VERW], .sensitive)
        mark([ZYDIS_MNEMONIC_CPUID], [.sensitive, .cpuid])
        mark([ZYDIS_MNEMONIC_PUSH, ZYDIS_MNEMONIC_POP, ZYDIS_MNEMONIC_MOV], .segmentRegisterForms)
        mark([ZYDIS_MNEMONIC_HLT, ZYDIS_MNEMONIC_UD0, ZYDIS_MNEMONIC_UD1, ZYDIS_MNEMONIC_UD2], .haltsScan)
        return table
    }()
}

/// The classification of one decoded instruction (internal, allocation-free form of `DecodedInstruction`).
struct InstructionClass {
    /// 0xFF when the instruction is not a control transfer, else an `ExitKind` raw value.
    var exitKindRaw: UInt8
    var isSensitive: Bool
    var isCPUID: Bool
    var endsScan: Bool
    /// Whether the instruction carries a relative target (jcc, loop, jcxz, near direct jmp/call).
    var isRelative: Bool

    static let notATransfer: UInt8 = 0xFF
}

extension InstructionClass {
    /// Classifies a decoded instruction from its mnemonic, branch type and raw encoding, without decoding operands.
    @inline(__always)
    init(_ instruction: borrowing ZydisDecodedInstruction) {
        let traits = MnemonicTraits.table[Int(instruction.mnemonic.rawValue)]
        var kind = InstructionClass.notATransfer
        var sensitive = traits.contains(.sensitive)
        var endsScan = traits.contains(.haltsScan)
        let relative = instruction.raw.imm.0.is_relative != 0
        let isFarBranch = instruction.meta.branch_type == ZYDIS_BRANCH_TYPE_FAR

        if !traits.isDisjoint(with: [.conditionalBranch, .jump, .call, .ret, .syscallClass, .alwaysFar]) {
            if traits.contains(.alwaysFar) || isFarBranch {
                kind = ExitKindRaw.far
            } else if traits.contains(.conditionalBranch) {
                kind = ExitKindRaw.jcc
            } else if traits.contains(.jump) {
                kind = relative ? ExitKindRaw.jmp : ExitKindRaw.jmpInd
            } else if traits.contains(.call) {
                kind = relative ? ExitKindRaw.call : ExitKindRaw.callInd
            } else if traits.contains(.ret) {
                kind = ExitKindRaw.ret
            } else {
                kind = ExitKindRaw.syscall
            }
            if kind == ExitKindRaw.far {
                sensitive = true
                endsScan = true
            } else if kind == ExitKindRaw.ret || kind == ExitKindRaw.jmpInd {
                endsScan = true
            }
        } else if traits.contains(.segmentRegisterForms) {
            if instruction.encoding == ZYDIS_INSTRUCTION_ENCODING_LEGACY {
                sensitive = InstructionClass.isSegmentRegisterForm(map: instruction.opcode_map, opcode: instruction.opcode)
            }
        }
        self.init(exitKindRaw: kind, isSensitive: sensitive, isCPUID: traits.contains(.cpuid),
                  endsScan: endsScan, isRelative: relative && (kind == ExitKindRaw.jcc || kind == ExitKindRaw.jmp || kind == ExitKindRaw.call))
    }

    /// push/pop/mov whose opcode names a segment register: push es/cs/ss/ds (06 0E 16 1E), pop es/ss/ds
    /// (07 17 1F), push/pop fs and gs (0F A0/A1/A8/A9), mov r/m,Sreg (8C) and mov Sreg,r/m (8E).
    @inline(__always)
    static func isSegmentRegisterForm(map: ZydisOpcodeMap, opcode: UInt8) -> Bool {
        if map == ZYDIS_OPCODE_MAP_DEFAULT {
            switch opcode {
            case 0x06, 0x07, 0x0E, 0x16, 0x17, 0x1E, 0x1F, 0x8C, 0x8E: return true
            default: return false
            }
        }
        if map == ZYDIS_OPCODE_MAP_0F {
            switch opcode {
            case 0xA0, 0xA1, 0xA8, 0xA9: return true
            default: return false
            }
        }
        return false
    }
}

/// `ExitKind` raw values as constants, so the hot loop compares bytes.
enum ExitKindRaw {
    static let split = ExitKind.split.rawValue
    static let jcc = ExitKind.jcc.rawValue
    static let jmp = ExitKind.jmp.rawValue
    static let call = ExitKind.call.rawValue
    static let jmpInd = ExitKind.jmpInd.rawValue
    static let callInd = ExitKind.callInd.rawValue
    static let ret = ExitKind.ret.rawValue
    static let syscall = ExitKind.syscall.rawValue
    static let far = ExitKind.far.rawValue
}
