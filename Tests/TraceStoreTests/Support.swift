import Foundation
import TraceModel
@testable import TraceStore


/// A fresh directory per test, removed by the caller's `defer`.
struct Scratch {
    let directory: String

    init(_ name: String = #function) {
        let safe = name.filter { $0.isLetter || $0.isNumber }
        directory = NSTemporaryDirectory() + "plexlab-store-\(safe)-\(UUID().uuidString.prefix(8))"
        try! FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    func path(_ file: String) -> String { directory + "/" + file }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }
}

func sampleMetadata(program: String = "/bin/true") -> TraceMetadata {
    TraceMetadata(program: program, argv: [program, "--flag", "späce and \"quotes\""], arch: .x86_64,
                  recorder: "test", recorderVersion: "1.2.3", host: "testhost", date: "2026-01-02T03:04:05Z",
                  hasDataTouches: true)
}

func randomDefinition(_ rng: inout SplitMix64) -> BlockDefinition {
    let length = UInt32.random(in: 1...40, using: &rng)
    let kind = ExitKind.allCases.randomElement(using: &rng)!
    let address = UInt64.random(in: 0x400000...0x7fff_ffff_ffff, using: &rng)
    // Derived, not drawn, so the generator's sequence (and every trace the tests build from it) is unchanged.
    let lastOffset = address % 3 == 0 ? nil : UInt32(address % UInt64(length))
    return BlockDefinition(
        address: Bool.random(using: &rng) ? address : UInt64.max - UInt64(length) - 7, length: length,
        instructionCount: UInt32.random(in: 1...length, using: &rng), codeVersion: UInt32.random(in: 0...3, using: &rng),
        exitKind: kind, staticTarget: kind.hasStaticTarget ? UInt64.random(in: 0...UInt64.max, using: &rng) : nil,
        sensitiveCount: UInt16.random(in: 0...3, using: &rng), cpuidCount: UInt16.random(in: 0...1, using: &rng),
        bytes: (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }, lastInstructionOffset: lastOffset)
}

/// Writes `count` blocks of thread 0 (ids cycling over `definitions`) in chunks of `chunkBlocks`, one syscall
/// per chunk at its last block, and finishes the trace. Raw codec: the hostile-input tests forge its payloads.
@discardableResult
func writeSimpleTrace(at path: String, chunks: Int, chunkBlocks: Int = 8, definitions: Int = 5) throws -> [BlockDefinition] {
    var rng = SplitMix64(seed: 99)
    let writer = try TraceWriter(path: path, metadata: sampleMetadata(),
                                 options: .init(chunkBlocks: chunkBlocks, overwrite: true, blockCodec: .raw))
    var defs: [BlockDefinition] = []
    for _ in 0..<definitions {
        let def = randomDefinition(&rng)
        defs.append(def)
        _ = try writer.define(def)
    }
    for i in 0..<(chunks * chunkBlocks) {
        if i % chunkBlocks == chunkBlocks - 1 {
            writer.record(thread: 0, syscall: SyscallEvent(eventIndex: UInt64(i), number: Int64(i)))
        }
        try writer.append(thread: 0, block: BlockID(i % definitions))
    }
    try writer.finish(exitStatus: 0, signal: nil, note: "")
    return defs
}

/// The error a throwing call produced, as its one-line description.
func errorLine(_ body: () throws -> Void) -> String? {
    do {
        try body()
        return nil
    } catch {
        return String(describing: error)
    }
}

/// Defines `block` and stores a code page version for its start page (0xcc bytes; adding the same page
/// again is a no-op), so the trace holds what a replay, and `verify()`, need.
@discardableResult
func definePaged(_ writer: TraceWriter, _ block: BlockDefinition) throws -> BlockID {
    let id = try writer.define(block)
    try writer.addCodePage(CodePage(address: block.address & ~UInt64(CodePage.size - 1), version: block.codeVersion,
                                    bytes: [UInt8](repeating: 0xcc, count: CodePage.size)))
    return id
}
