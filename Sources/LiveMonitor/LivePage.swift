import Replay
import X86Decode

/// The monitor's view of one 4 KiB page of the program's code (docs/live.md).
///
/// `original` holds the page's bytes as the program put them; the tracee holds `rendered` (the original
/// with INT3 at every site, and under pagefault-nx over every byte no covered instruction occupies)
/// while the page is `valid` (sbe: scanned; pagefault-nx: translated).
struct LivePage {
    let base: UInt64
    var original: [UInt8]
    var coverage: InstructionStarts
    var valid = false
    /// Trap sites: address to the causes counted when it executes (two for a sensitive instruction that
    /// ends a page under sbe: sensitive and page_cross).
    var sites: [UInt64: [TrapCause]] = [:]
    /// Whether the tracee currently holds patched bytes for this page.
    var patched = false
    /// The bytes last written to the tracee (`render` of the sites and lengths then); valid while `patched`.
    var rendered: [UInt8] = []
    /// The length of the covered instruction starting at each offset, 0 elsewhere: an array, not a
    /// dictionary, so that a scan of a page of thousands of instructions costs its decoding, not hashing.
    var lengths: [UInt8]
    /// pagefault-nx: translated with an empty scan by the fault its own writer took; the next entry
    /// extends the scan without counting int3_fill (docs/strategies.md, pagefault-nx code writes).
    var scanPending = false

    init(base: UInt64, original: [UInt8]) {
        self.base = base
        self.original = original
        coverage = InstructionStarts(pageBase: base, pageSize: Int(Tracee.pageSize))
        lengths = [UInt8](repeating: 0, count: Int(Tracee.pageSize))
    }

    /// Forgets the coverage, the sites and the instruction lengths (the scan discarded).
    mutating func clearScan() {
        coverage.removeAll()
        sites = [:]
        for index in lengths.indices { lengths[index] = 0 }
    }

    var end: UInt64 { base + Tracee.pageSize }

    func contains(_ address: UInt64) -> Bool { address >= base && address < end }

    /// The bytes the tracee should hold: INT3 at each site; with `fill`, also over every byte that no
    /// covered instruction occupies.
    func render(fill: Bool) -> [UInt8] {
        var bytes = original
        if fill {
            var insideUntil = 0
            for index in bytes.indices {
                if index < lengths.count { insideUntil = max(insideUntil, index + Int(lengths[index])) }
                if index >= insideUntil { bytes[index] = 0xCC }
            }
        }
        for address in sites.keys { bytes[Int(address - base)] = 0xCC }
        return bytes
    }
}

/// The per-instruction trap rules: the replay's per-block rules of docs/strategies.md section 3, applied
/// to the instruction that ends a block (every executed control transfer and every instruction at a page
/// end ends one).
enum LiveRules {
    /// sbe: the causes one execution of a covered instruction counts.
    static func sbeCauses(_ instruction: DecodedInstruction, pageBase: UInt64) -> [TrapCause] {
        let end = pageBase + Tracee.pageSize
        func leaves(_ address: UInt64?) -> Bool { guard let address else { return true }; return address < pageBase || address >= end }
        let fallsOff = instruction.fallThrough >= end
        guard let kind = instruction.controlTransfer else {
            var causes: [TrapCause] = []
            if instruction.isSensitive { causes.append(.sensitive) }
            if fallsOff { causes.append(.pageCross) }
            return causes
        }
        switch kind {
        case .split: return []
        case .jcc: return leaves(instruction.staticTarget) || fallsOff ? [.jcc] : []
        case .jmp: return leaves(instruction.staticTarget) ? [.jmp] : []
        case .call: return leaves(instruction.staticTarget) ? [.call] : []
        case .jmpInd: return [.jmpInd]
        case .callInd: return [.callInd]
        case .ret: return [.ret]
        case .syscall: return [.syscall]
        case .far: return [.far]
        }
    }

    /// pagefault-nx: branches run native; syscall-class, far and sensitive instructions trap.
    static func nxCauses(_ instruction: DecodedInstruction) -> [TrapCause] {
        switch instruction.controlTransfer {
        case .syscall: [.syscall]
        case .far: [.far]
        case nil: instruction.isSensitive ? [.sensitive] : []
        default: []
        }
    }
}
