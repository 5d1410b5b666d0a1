import Testing
import TraceModel
@testable import X86Decode

/// A page worked out by hand: 11 instructions reachable from `start`, 3 more from `second`.
private let pageSource = """
start:  mov $1, %eax                 # 1
        call func                    # 2  in-page call: func is scanned, then the return address
        test %eax, %eax              # 3
        jz skip                      # 4  in-page jcc: both ways
        .byte 0x0f, 0x85; .long 0x10000   # 5  jnz to another page: target not followed, fall-through is
        .byte 0xe9; .long 0x10000    # 6  jmp to another page: stops
dead1:  nop
skip:   call *%rax                   # 7  indirect call: continues
        syscall                      # 8  continues
        jmp *(%rax,%rcx,8)           # 9  jump table: stops
dead2:  nop
        ret
func:   inc %eax                     # 10
        ret                          # 11
dead3:  nop
        .org 0x100
second: nop                          # 1
        jz skip                      # 2  target already covered
        hlt                          # 3  stops
dead4:  nop
        .org 0x200
        nop
"""

private let pageBase: UInt64 = 0x400000

private func page(_ code: Assembled) -> [UInt8] {
    var bytes = code.bytes
    bytes += [UInt8](repeating: 0xCC, count: 4096 - bytes.count)
    return bytes
}

@Test func scanCoversWhatRecursiveDescentReaches() throws {
    let code = try assemble(pageSource)
    let bytes = page(code)
    var scanner = PageScanner(arch: .x86_64)
    var coverage = InstructionStarts(pageBase: pageBase, pageSize: 4096)
    func address(_ label: String) -> UInt64 { pageBase + UInt64(code.offset(label)) }

    let first = bytes.withUnsafeBytes { scanner.scan(entry: address("start"), code: $0, coverage: &coverage) }
    #expect(first == 11)
    #expect(coverage.count == 11)
    for label in ["start", "skip", "func"] { #expect(coverage.contains(address(label)), "\(label)") }
    for label in ["dead1", "dead2", "dead3", "second"] { #expect(!coverage.contains(address(label)), "\(label)") }
    #expect(coverage.contains(address("func") + 2))  // the ret after inc %eax (2 bytes)

    // Entering again where the scan already was costs nothing.
    #expect(bytes.withUnsafeBytes { scanner.scan(entry: address("skip"), code: $0, coverage: &coverage) } == 0)
    // A second entry extends the coverage by its new instructions only.
    #expect(bytes.withUnsafeBytes { scanner.scan(entry: address("second"), code: $0, coverage: &coverage) } == 3)
    #expect(coverage.count == 14)
    #expect(!coverage.contains(address("dead4")))
    // A computed branch to dead1 adds the nop; skip after it is covered already.
    #expect(bytes.withUnsafeBytes { scanner.scan(entry: address("dead1"), code: $0, coverage: &coverage) } == 1)
    // An entry outside the page scans nothing.
    #expect(bytes.withUnsafeBytes { scanner.scan(entry: pageBase + 4096, code: $0, coverage: &coverage) } == 0)
    #expect(coverage.count == 15)

    coverage.removeAll()
    #expect(coverage.isEmpty)
}

@Test func instructionNotFittingInThePageIsNotCovered() {
    var bytes = [UInt8](repeating: 0xCC, count: 4096)
    // Three nops at 0xFF9..0xFFB, then mov eax, imm32 at 0xFFC needing 5 bytes: only 4 are in the page.
    bytes.replaceSubrange(0xFF9..<0x1000, with: [0x90, 0x90, 0x90, 0xB8, 0x01, 0x02, 0x03])
    var scanner = PageScanner(arch: .x86_64)
    var coverage = InstructionStarts(pageBase: pageBase, pageSize: 4096)
    #expect(bytes.withUnsafeBytes { scanner.scan(entry: pageBase + 0xFF9, code: $0, coverage: &coverage) } == 3)
    #expect(!coverage.contains(pageBase + 0xFFC))
}

@Test func uncapturedSubpagesStopTheScanOnLargePages() {
    let largePage = 2 << 20
    var bytes = [UInt8](repeating: 0xC3, count: largePage)
    // Four nops at the end of subpage 0, then nop; ret at the start of subpage 1.
    bytes.replaceSubrange(0xFFC..<0x1002, with: [0x90, 0x90, 0x90, 0x90, 0x90, 0xC3])
    // nop; nop at the end of subpage 2, then mov eax, imm32 straddling into subpage 3, then ret.
    bytes.replaceSubrange(0x2FFD..<0x3005, with: [0x90, 0x90, 0xB8, 0x01, 0x02, 0x03, 0x04, 0xC3])
    let base: UInt64 = 0x4000_0000
    var scanner = PageScanner(arch: .x86_64)

    var partial = InstructionStarts(pageBase: base, pageSize: largePage)
    var subpagesAsked: [UInt64] = []
    let onlyEven = { (subpage: UInt64) -> Bool in
        subpagesAsked.append(subpage)
        return (subpage - base) / 4096 % 2 == 0
    }
    #expect(bytes.withUnsafeBytes { scanner.scan(entry: base + 0xFFC, code: $0, isCaptured: onlyEven, coverage: &partial) } == 4)
    #expect(bytes.withUnsafeBytes { scanner.scan(entry: base + 0x2FFD, code: $0, isCaptured: onlyEven, coverage: &partial) } == 2)
    #expect(!partial.contains(base + 0x2FFF))
    #expect(subpagesAsked == [base, base + 0x1000, base + 0x2000, base + 0x3000])

    var full = InstructionStarts(pageBase: base, pageSize: largePage)
    #expect(bytes.withUnsafeBytes { scanner.scan(entry: base + 0xFFC, code: $0, coverage: &full) } == 6)
    #expect(bytes.withUnsafeBytes { scanner.scan(entry: base + 0x2FFD, code: $0, coverage: &full) } == 4)
    #expect(full.addresses == [0xFFC, 0xFFD, 0xFFE, 0xFFF, 0x1000, 0x1001, 0x2FFD, 0x2FFE, 0x2FFF, 0x3004].map { base + $0 })
}

@Test func scanIn32BitModeFollowsInPageCallsAndStopsAtFarTransfers() throws {
    let code = try assemble("""
    start:  call func       # 1
            push %ds        # 2 sensitive, scanned through
            int $0x80       # 3 continues
            lret            # 4 far: stops
    dead:   nop
    func:   ret             # 5
    """, bits: 32)
    var scanner = PageScanner(arch: .i386)
    var coverage = InstructionStarts(pageBase: 0x8048000, pageSize: 4096)
    #expect(page(code).withUnsafeBytes { scanner.scan(entry: 0x8048000, code: $0, coverage: &coverage) } == 5)
    #expect(!coverage.contains(0x8048000 + UInt64(code.offset("dead"))))
}

/// A page rewritten version after version (small patches, byte flips, a patch across the last bytes) scans
/// through one `PageDecodeTable` exactly as decoding each version afresh: same count, same coverage, from
/// several entries, in both modes.
@Test(arguments: [GuestArch.x86_64, GuestArch.i386])
func decodeTableScansLikeAFreshScanOnEveryVersion(arch: GuestArch) throws {
    let code = try assemble(pageSource)
    var bytes = page(code)
    let entries = ["start", "second", "dead1", "skip"].map { pageBase + UInt64(code.offset($0)) } + [pageBase + 0xFF0]
    var scanner = PageScanner(arch: arch)
    let table = PageDecodeTable(pageBase: pageBase, bytes: bytes)
    var rng = SplitMix64(seed: 4)
    var changedScans = 0
    for version in 0..<200 {
        if version > 0 {
            switch rng.below(3) {
            case 0:  // a few bytes rewritten in place (a JIT patching an immediate or a branch)
                let at = rng.below(4096 - 8)
                for i in 0..<1 + rng.below(8) { bytes[at + i] = UInt8(truncatingIfNeeded: rng.next()) }
            case 1:  // one byte flipped
                bytes[rng.below(4096)] ^= UInt8(1 + rng.below(255))
            default:  // the page's last bytes, where decodes are cut at the page end
                for i in 4090..<4096 { bytes[i] = UInt8(truncatingIfNeeded: rng.next()) }
            }
            table.update(to: bytes)
        }
        var fresh = InstructionStarts(pageBase: pageBase, pageSize: 4096)
        var cached = InstructionStarts(pageBase: pageBase, pageSize: 4096)
        for entry in entries {
            let expected = bytes.withUnsafeBytes { scanner.scan(entry: entry, code: $0, coverage: &fresh) }
            let actual = scanner.scan(entry: entry, table: table, coverage: &cached)
            #expect(actual == expected, "version \(version), entry \(entry)")
            if actual != 0 { changedScans += 1 }
        }
        #expect(cached == fresh, "version \(version)")
    }
    #expect(changedScans > 200)  // the scans did real work on most versions
}
