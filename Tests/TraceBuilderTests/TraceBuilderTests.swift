import Testing
import TraceModel
@testable import TraceBuilder

/// Records what the builder hands to the trace writer.
private final class RecordingSink: BlockSink {
    var defined: [BlockDefinition] = []
    var pages: [CodePage] = []
    func define(_ block: BlockDefinition) throws -> BlockID {
        defined.append(block)
        return BlockID(defined.count - 1)
    }
    func addCodePage(_ page: CodePage) throws { pages.append(page) }
}

/// A 4096-byte page of int3 with `code` placed at `offset`.
private func page(_ code: [UInt8], at offset: Int = 0) -> [UInt8] {
    var bytes = [UInt8](repeating: 0xCC, count: 4096)
    bytes.replaceSubrange(offset..<offset + code.count, with: code)
    return bytes
}

private func capture(_ builder: TraceBuilder, _ address: UInt64, _ bytes: [UInt8]) throws {
    try bytes.withUnsafeBytes { try builder.capturePage(address: address, bytes: $0) }
}

// 0x401000: mov eax, 1 (5) | jnz +3 (2) -> 0x40100A | nop | nop | nop (0x401007..9) | call +0 (5) -> 0x40100F | ret
private let code: [UInt8] = [0xB8, 0x01, 0x00, 0x00, 0x00, 0x75, 0x03, 0x90, 0x90, 0x90,
                             0xE8, 0x00, 0x00, 0x00, 0x00, 0xC3]

@Test func pageVersionsAreNewOnlyWhenBytesChange() throws {
    let sink = RecordingSink()
    let builder = TraceBuilder(sink: sink, arch: .x86_64)
    let original = page(code)
    var changed = original
    changed[0x100] = 0x90
    try capture(builder, 0x401000, original)
    try capture(builder, 0x401000, original)
    try capture(builder, 0x401000, changed)
    try capture(builder, 0x401000, original)
    try capture(builder, 0x402000, original)
    #expect(sink.pages.map(\.version) == [0, 1, 2, 0])
    #expect(sink.pages.map(\.address) == [0x401000, 0x401000, 0x401000, 0x402000])
    #expect(builder.latestPage(at: 0x401234)?.version == 2)
    #expect(builder.latestPage(at: 0x403000) == nil)
}

@Test func blocksAreInternedInFirstExecutionOrder() throws {
    let sink = RecordingSink()
    let builder = TraceBuilder(sink: sink, arch: .x86_64)
    try capture(builder, 0x401000, page(code))

    #expect(try builder.blocks(at: 0x40100A, length: nil) == [0])
    #expect(try builder.blocks(at: 0x401000, length: nil) == [1])
    #expect(try builder.blocks(at: 0x40100A, length: nil) == [0])
    #expect(try builder.blocks(at: 0x401007, length: nil) == [2])
    #expect(sink.defined == [
        BlockDefinition(address: 0x40100A, length: 5, instructionCount: 1, codeVersion: 0, exitKind: .call,
                        staticTarget: 0x40100F, sensitiveCount: 0, cpuidCount: 0, bytes: Array(code[10..<15]), lastInstructionOffset: 0),
        BlockDefinition(address: 0x401000, length: 7, instructionCount: 2, codeVersion: 0, exitKind: .jcc,
                        staticTarget: 0x40100A, sensitiveCount: 0, cpuidCount: 0, bytes: Array(code[0..<7]), lastInstructionOffset: 5),
        BlockDefinition(address: 0x401007, length: 8, instructionCount: 4, codeVersion: 0, exitKind: .call,
                        staticTarget: 0x40100F, sensitiveCount: 0, cpuidCount: 0, bytes: Array(code[7..<15]), lastInstructionOffset: 3),
    ])
    #expect(builder.definitions == sink.defined)
}

@Test func aTranslationBlockIsSplitIntoConsecutiveBlocks() throws {
    let sink = RecordingSink()
    let builder = TraceBuilder(sink: sink, arch: .x86_64)
    try capture(builder, 0x401000, page(code))
    // 16 bytes: [mov; jnz] [nop; nop; nop; call] [ret]
    #expect(try builder.blocks(at: 0x401000, length: 16) == [0, 1, 2])
    #expect(sink.defined.map(\.length) == [7, 8, 1])
    #expect(sink.defined.map(\.exitKind) == [.jcc, .call, .ret])
    // The same blocks reached one at a time keep their ids.
    #expect(try builder.blocks(at: 0x401007, length: nil) == [1])
    // A TB that stops short of a control transfer ends its last block as a split.
    #expect(try builder.blocks(at: 0x401007, length: 2) == [3])
    #expect(sink.defined[3].exitKind == .split)
    #expect(sink.defined[3].instructionCount == 2)
}

@Test func blocksStopAtPageEndsAndMayStraddleIntoTheNextPage() throws {
    let sink = RecordingSink()
    let builder = TraceBuilder(sink: sink, arch: .x86_64)
    // nop at 0x401FFE, mov eax, imm32 at 0x401FFF (4 of its bytes on the next page), then ret at 0x402004.
    try capture(builder, 0x401000, page([0x90, 0xB8], at: 0xFFE))
    #expect(throws: TraceBuilderError.notCaptured(address: 0x402000)) {
        try builder.blocks(at: 0x401FFE, length: nil)
    }
    try capture(builder, 0x402000, page([0x01, 0x02, 0x03, 0x04, 0xC3]))
    #expect(try builder.blocks(at: 0x401FFE, length: nil) == [0])
    #expect(sink.defined[0].length == 6)
    #expect(sink.defined[0].exitKind == .split)
    #expect(sink.defined[0].bytes == [0x90, 0xB8, 0x01, 0x02, 0x03, 0x04])
    #expect(try builder.blocks(at: 0x402004, length: nil) == [1])
    // A TB across the page boundary is split there.
    #expect(try builder.blocks(at: 0x401FFE, length: 7) == [0, 1])
}

@Test func rewrittenCodeGetsNewBlocks() throws {
    let sink = RecordingSink()
    let builder = TraceBuilder(sink: sink, arch: .x86_64)
    try capture(builder, 0x401000, page(code))
    try capture(builder, 0x405000, page([0xC3]))
    #expect(try builder.blocks(at: 0x401000, length: nil) == [0])
    #expect(try builder.blocks(at: 0x405000, length: nil) == [1])
    var rewritten = page(code)
    rewritten[5] = 0xEB  // jnz -> jmp
    try capture(builder, 0x401000, rewritten)
    #expect(try builder.blocks(at: 0x401000, length: nil) == [2])
    #expect(sink.defined[2].codeVersion == 1)
    #expect(sink.defined[2].exitKind == .jmp)
    #expect(try builder.blocks(at: 0x405000, length: nil) == [1])
    // Restoring the bytes is another version, so another block.
    try capture(builder, 0x401000, page(code))
    #expect(try builder.blocks(at: 0x401000, length: nil) == [3])
    #expect(sink.defined[3].codeVersion == 2)
}

@Test func errorsNameTheAddress() throws {
    let sink = RecordingSink()
    let builder = TraceBuilder(sink: sink, arch: .x86_64)
    try capture(builder, 0x401000, page(code + [0x90, 0x06]))
    #expect(throws: TraceBuilderError.notCaptured(address: 0x500000)) { try builder.blocks(at: 0x500000, length: nil) }
    #expect(throws: TraceBuilderError.undecodable(address: 0x401011)) { try builder.blocks(at: 0x401011, length: nil) }
    // A TB running into the undecodable byte.
    #expect(throws: TraceBuilderError.undecodable(address: 0x401011)) { try builder.blocks(at: 0x401010, length: 2) }
    // A TB ending inside mov eax, 1.
    #expect(throws: TraceBuilderError.notOnInstructionBoundary(start: 0x401000, length: 3, instruction: 0x401000)) {
        try builder.blocks(at: 0x401000, length: 3)
    }
    #expect(throws: TraceBuilderError.unalignedPage(address: 0x401001)) { try capture(builder, 0x401001, page([])) }
    #expect(TraceBuilderError.notCaptured(address: 0x500000).description == "code bytes at 0x500000 are not captured")
    #expect(sink.defined.isEmpty)
}
