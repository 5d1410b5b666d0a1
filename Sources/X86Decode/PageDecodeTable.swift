import CZydis
import TraceModel

/// What a page scan needs of the instruction at each offset of one 4096-byte page, decoded at most once
/// per offset and kept across versions of the page.
///
/// A decode at offset `o` reads only bytes `o ..< min(o + 15, 4096)` (the scan cuts every decode at the
/// page end), so when a new version of the page arrives only the offsets whose window holds a changed
/// byte are forgotten; the others keep their result. A page rewritten a few bytes at a time (JIT code,
/// a counter next to the loop that runs) is then rescanned by table lookups instead of Zydis decodes,
/// with exactly the coverage and the count of decoded instructions of a scan that decodes every byte.
public final class PageDecodeTable {
    /// The longest x86 instruction: the window a decode reads.
    static let window = 15

    struct Entry {
        static let unknown: UInt8 = 0, invalid: UInt8 = 1, valid: UInt8 = 2
        var state: UInt8 = Entry.unknown
        var length: UInt8 = 0
        var endsScan = false
        var isRelative = false
        var isJump = false
        /// Absolute target of a relative branch.
        var target: UInt64 = 0
    }

    public let pageBase: UInt64
    /// The bytes the entries describe.
    private(set) var bytes: [UInt8]
    private let entries: UnsafeMutablePointer<Entry>

    /// A table for the page at `pageBase` (4096-aligned) holding `bytes` (4096 of them), nothing decoded yet.
    public init(pageBase: UInt64, bytes: [UInt8]) {
        precondition(bytes.count == CodePage.size, "a decode table covers one 4096-byte page")
        self.pageBase = pageBase
        self.bytes = bytes
        entries = .allocate(capacity: CodePage.size)
        entries.initialize(repeating: Entry(), count: CodePage.size)
    }

    deinit { entries.deallocate() }

    /// Switches to another version's bytes, forgetting the decodes whose window holds a changed byte.
    public func update(to newBytes: [UInt8]) {
        precondition(newBytes.count == CodePage.size, "a decode table covers one 4096-byte page")
        newBytes.withUnsafeBufferPointer { new in
            bytes.withUnsafeBufferPointer { old in
                var offset = 0
                while offset < CodePage.size {
                    // Eight bytes at a time: most of a page is unchanged.
                    if offset + 8 <= CodePage.size
                        && UnsafeRawPointer(new.baseAddress! + offset).loadUnaligned(as: UInt64.self)
                            == UnsafeRawPointer(old.baseAddress! + offset).loadUnaligned(as: UInt64.self) {
                        offset += 8
                        continue
                    }
                    if new[offset] != old[offset] {
                        for start in max(0, offset - Self.window + 1)...offset { entries[start].state = Entry.unknown }
                    }
                    offset += 1
                }
            }
        }
        bytes = newBytes
    }

    /// The entry at `offset`, decoding it first if it is unknown.
    @inline(__always)
    func entry(at offset: Int, scanner decoder: X86Decoder, zydis: inout ZydisDecoder,
               context: inout ZydisDecoderContext, instruction: inout ZydisDecodedInstruction) -> Entry {
        if entries[offset].state != Entry.unknown { return entries[offset] }
        let available = min(CodePage.size - offset, Self.window)
        var entry = Entry(state: Entry.invalid)
        let status = bytes.withUnsafeBytes { raw in
            ZydisDecoderDecodeInstruction(&zydis, &context, raw.baseAddress! + offset, available, &instruction)
        }
        if Zydis.succeeded(status) {
            let kind = InstructionClass(instruction)
            entry = Entry(state: Entry.valid, length: instruction.length, endsScan: kind.endsScan,
                          isRelative: kind.isRelative, isJump: kind.exitKindRaw == ExitKindRaw.jmp,
                          target: kind.isRelative ? decoder.relativeTarget(instruction, at: pageBase &+ UInt64(offset)) : 0)
        }
        entries[offset] = entry
        return entry
    }
}

extension PageScanner {
    /// `scan(entry:code:coverage:)` over the bytes `table` holds, for a 4096-byte page: the same coverage
    /// and the same count, with every instruction decoded through the table.
    public mutating func scan(entry: UInt64, table: PageDecodeTable, coverage: inout InstructionStarts) -> Int {
        precondition(coverage.pageSize == CodePage.size && coverage.pageBase == table.pageBase,
                     "a decode table scans its own 4096-byte page")
        let pageBase = coverage.pageBase
        let entryOffset = entry &- pageBase
        guard entryOffset < UInt64(CodePage.size) else { return 0 }
        var zydis = decoder.decoder
        var instruction = ZydisDecodedInstruction()
        var context = ZydisDecoderContext()
        var decoded = 0
        var pending = takePending()
        defer { returnPending(pending) }
        pending.append(Int(entryOffset))
        while let start = pending.popLast() {
            var offset = start
            while offset < CodePage.size, !coverage.contains(pageBase &+ UInt64(offset)) {
                let facts = table.entry(at: offset, scanner: decoder, zydis: &zydis, context: &context,
                                        instruction: &instruction)
                guard facts.state == PageDecodeTable.Entry.valid else { break }
                coverage.insert(pageBase &+ UInt64(offset))
                decoded += 1
                if facts.endsScan { break }
                if facts.isRelative {
                    let targetOffset = facts.target &- pageBase
                    let inPage = targetOffset < UInt64(CodePage.size)
                    if facts.isJump {
                        guard inPage else { break }
                        offset = Int(targetOffset)
                        continue
                    }
                    if inPage { pending.append(Int(targetOffset)) }
                }
                offset += Int(facts.length)
            }
        }
        return decoded
    }
}
