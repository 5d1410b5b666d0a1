import CZydis
import TraceModel

/// What a block holds that kernel code needs the monitor for: the privileged instructions that fault when
/// guest kernel code runs deprivileged at CPL 3, and the classes hardware assist exits on. The list and why
/// each instruction is in it: docs/strategies.md, "System traces". Final control transfers (iret, sysret,
/// sysexit, far transfers, syscall-class) are never counted here: they are the block's exit.
public struct PrivilegedCounts: Sendable, Equatable {
    /// Instructions that raise #GP (or #UD) at CPL 3 and so trap to a monitor that runs the guest kernel in
    /// ring 3; the sensitive-but-silent ones (pushf, popf, sgdt, ...) are `BlockDefinition.sensitiveCount`.
    public var privileged: Int = 0
    /// mov to CR3 (an address-space switch).
    public var cr3Writes: Int = 0
    /// invlpg and invpcid.
    public var invlpg: Int = 0
    /// in, out, ins, outs.
    public var io: Int = 0
    public var hlt: Int = 0
    /// rdmsr, wrmsr.
    public var msr: Int = 0

    public init(privileged: Int = 0, cr3Writes: Int = 0, invlpg: Int = 0, io: Int = 0, hlt: Int = 0, msr: Int = 0) {
        self.privileged = privileged
        self.cr3Writes = cr3Writes
        self.invlpg = invlpg
        self.io = io
        self.hlt = hlt
        self.msr = msr
    }
}

/// Per mnemonic: which `PrivilegedCounts` classes an instruction adds to (one table load per instruction).
struct PrivilegedTraits: OptionSet, Sendable {
    let rawValue: UInt8
    static let privileged = PrivilegedTraits(rawValue: 1 << 0)
    static let invlpg = PrivilegedTraits(rawValue: 1 << 1)
    static let io = PrivilegedTraits(rawValue: 1 << 2)
    static let hlt = PrivilegedTraits(rawValue: 1 << 3)
    static let msr = PrivilegedTraits(rawValue: 1 << 4)
    /// mov: privileged only in its control- and debug-register forms (0F 20-23).
    static let controlRegisterForms = PrivilegedTraits(rawValue: 1 << 5)

    static let table: [PrivilegedTraits] = {
        var table = [PrivilegedTraits](repeating: [], count: Int(ZYDIS_MNEMONIC_MAX_VALUE.rawValue) + 1)
        func mark(_ mnemonics: [ZydisMnemonic], _ traits: PrivilegedTraits) {
            for mnemonic in mnemonics { table[Int(mnemonic.rawValue)].formUnion(traits) }
        }
        mark([ZYDIS_MNEMONIC_CLI, ZYDIS_MNEMONIC_STI, ZYDIS_MNEMONIC_LGDT, ZYDIS_MNEMONIC_LIDT,
              ZYDIS_MNEMONIC_LLDT, ZYDIS_MNEMONIC_LTR, ZYDIS_MNEMONIC_LMSW, ZYDIS_MNEMONIC_CLTS,
              ZYDIS_MNEMONIC_SWAPGS, ZYDIS_MNEMONIC_WBINVD, ZYDIS_MNEMONIC_INVD, ZYDIS_MNEMONIC_XSETBV,
              ZYDIS_MNEMONIC_RDPMC], .privileged)
        mark([ZYDIS_MNEMONIC_INVLPG, ZYDIS_MNEMONIC_INVPCID], [.privileged, .invlpg])
        mark([ZYDIS_MNEMONIC_IN, ZYDIS_MNEMONIC_OUT, ZYDIS_MNEMONIC_INSB, ZYDIS_MNEMONIC_INSW, ZYDIS_MNEMONIC_INSD,
              ZYDIS_MNEMONIC_OUTSB, ZYDIS_MNEMONIC_OUTSW, ZYDIS_MNEMONIC_OUTSD], [.privileged, .io])
        mark([ZYDIS_MNEMONIC_HLT], [.privileged, .hlt])
        mark([ZYDIS_MNEMONIC_RDMSR, ZYDIS_MNEMONIC_WRMSR], [.privileged, .msr])
        mark([ZYDIS_MNEMONIC_MOV], .controlRegisterForms)
        return table
    }()
}

extension X86Decoder {
    /// The privileged instructions among the first `instructionCount` instructions of `code` (a block's
    /// bytes starting at `address`); stops early at bytes that do not decode.
    public func privilegedCounts(_ code: UnsafeRawBufferPointer, at address: UInt64, instructionCount: Int) -> PrivilegedCounts {
        var counts = PrivilegedCounts()
        guard let base = code.baseAddress else { return counts }
        var decoder = self.decoder
        var instruction = ZydisDecodedInstruction()
        var context = ZydisDecoderContext()
        var offset = 0
        for _ in 0..<instructionCount where offset < code.count {
            guard Zydis.succeeded(ZydisDecoderDecodeInstruction(&decoder, &context, base + offset,
                                                                 code.count - offset, &instruction)) else { break }
            offset += Int(instruction.length)
            let traits = PrivilegedTraits.table[Int(instruction.mnemonic.rawValue)]
            if traits.isEmpty { continue }
            if traits.contains(.controlRegisterForms) {
                // mov r, CRn (0F 20) / mov CRn, r (0F 22) / mov r, DRn (0F 21) / mov DRn, r (0F 23).
                guard instruction.opcode_map == ZYDIS_OPCODE_MAP_0F, (0x20...0x23).contains(instruction.opcode) else { continue }
                counts.privileged += 1
                if instruction.opcode == 0x22 && instruction.raw.modrm.reg == 3 && instruction.raw.rex.R == 0 {
                    counts.cr3Writes += 1
                }
                continue
            }
            if traits.contains(.privileged) { counts.privileged += 1 }
            if traits.contains(.invlpg) { counts.invlpg += 1 }
            if traits.contains(.io) { counts.io += 1 }
            if traits.contains(.hlt) { counts.hlt += 1 }
            if traits.contains(.msr) { counts.msr += 1 }
        }
        return counts
    }
}
