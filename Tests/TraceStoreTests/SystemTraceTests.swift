import Foundation
import GRDB
import Testing
import TraceModel
@testable import TraceStore

/// System traces (schema 4, docs/trace-format.md "System traces"): guest mode, per-block privilege and
/// physical address, and system events survive writer -> reader; older traces read as user-mode ones.
@Suite struct SystemTraceTests {
    static func systemMetadata() -> TraceMetadata {
        TraceMetadata(program: "forkwait", argv: ["forkwait", "100"], arch: .x86_64, recorder: "qemu-system",
                      recorderVersion: "10.0.2", host: "testhost", date: "2026-01-02T03:04:05Z", guestMode: .system)
    }

    static let kernelBlock = BlockDefinition(
        address: 0xffff_ffff_8100_0000, length: 2, instructionCount: 2, codeVersion: 0, exitKind: .split,
        staticTarget: nil, sensitiveCount: 2, cpuidCount: 0, bytes: [0xfa, 0xfb], lastInstructionOffset: 1,
        privilege: 0, physicalAddress: 0x100_0000)
    static let userBlock = BlockDefinition(
        address: 0x40_1000, length: 1, instructionCount: 1, codeVersion: 1, exitKind: .ret, staticTarget: nil,
        sensitiveCount: 0, cpuidCount: 0, bytes: [0xc3], lastInstructionOffset: 0, privilege: 3,
        physicalAddress: 0x7_7000)

    @Test func systemFieldsAndEventsRoundTrip() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let path = scratch.path("system.plextrace")
        // Chunks of 3 blocks: the 8 blocks make chunks [0,3) [3,6) [6,8), so events land in all three.
        let writer = try TraceWriter(path: path, metadata: Self.systemMetadata(),
                                     options: .init(chunkBlocks: 3, blockCodec: .predictiveFast))
        #expect(try writer.define(Self.kernelBlock) == 0)
        #expect(try writer.define(Self.userBlock) == 1)
        try writer.addCodePage(CodePage(address: 0x100_0000, version: 0, bytes: [UInt8](repeating: 0xfa, count: 4096)))
        try writer.addCodePage(CodePage(address: 0x7_7000, version: 0, bytes: [UInt8](repeating: 0x90, count: 4096)))
        try writer.addCodePage(CodePage(address: 0x7_7000, version: 1, bytes: [UInt8](repeating: 0xc3, count: 4096)))
        let events = [
            SystemEvent(eventIndex: 1, kind: .exception, vector: 14, address: 0x40_2008),
            SystemEvent(eventIndex: 2, kind: .pageTableStore, address: 0x1234_5678),
            SystemEvent(eventIndex: 4, kind: .interrupt, vector: 0xec),
            SystemEvent(eventIndex: 7, kind: .exception, vector: 6),
        ]
        // Recorded out of order on purpose: the writer sorts each chunk's events by index.
        for event in events.reversed() { writer.record(thread: 0, systemEvent: event) }
        writer.record(thread: 0, syscall: SyscallEvent(eventIndex: 5, number: 110))
        writer.record(thread: 0, codeWrite: CodeWrite(eventIndex: 6, address: 0x7_7010, size: 4))
        for id: BlockID in [1, 0, 0, 1, 0, 1, 0, 0] { try writer.append(thread: 0, block: id) }
        try writer.finish(exitStatus: 0, signal: nil, note: "")

        let reader = try TraceReader(path: path)
        #expect(reader.schemaVersion == TraceSchema.currentVersion)
        #expect(reader.metadata == { var m = Self.systemMetadata(); m.complete = true; m.exitStatus = 0; return m }())
        #expect(reader.metadata.guestMode == .system)
        #expect(try reader.blockDefinitions() == [Self.kernelBlock, Self.userBlock])
        var chunks: [StreamChunk] = []
        try reader.forEachChunk { chunks.append($0) }
        #expect(chunks.map(\.blocks) == [[1, 0, 0], [1, 0, 1], [0, 0]])
        #expect(chunks.map(\.systemEvents) == [[events[0], events[1]], [events[2]], [events[3]]])
        #expect(chunks[1].syscalls == [SyscallEvent(eventIndex: 5, number: 110)])
        #expect(chunks[2].codeWrites == [CodeWrite(eventIndex: 6, address: 0x7_7010, size: 4)])
        let summary = try reader.summary()
        #expect(summary.systemEvents == 4)
        #expect(summary.instructions == 5 * 2 + 3 * 1)  // five kernel blocks of 2, three user blocks of 1
        #expect(try reader.verify().isEmpty)
        #expect(try reader.codePages().map(\.address) == [0x7_7000, 0x7_7000, 0x100_0000])
    }

    /// The count column is covered by the checksum, so a forged count is caught even before the payload is.
    @Test func aForgedSystemEventCountFailsTheChunk() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let path = scratch.path("forged.plextrace")
        let writer = try TraceWriter(path: path, metadata: Self.systemMetadata(), options: .init(blockCodec: .raw))
        _ = try writer.define(Self.kernelBlock)
        try writer.append(thread: 0, block: 0)
        writer.record(thread: 0, systemEvent: SystemEvent(eventIndex: 0, kind: .interrupt, vector: 32))
        try writer.finish(exitStatus: 0, signal: nil, note: "")
        try DatabaseQueue(path: path).write { db in try db.execute(sql: "UPDATE chunks SET system_events = 2") }
        let problems = try TraceReader(path: path).verify()
        #expect(problems.map(\.reason) == ["fails its checksum"])
    }

    @Test func anUnknownEventKindIsRefused() throws {
        var chunk = StreamChunk(sequence: 0, thread: 0, firstEventIndex: 0, blocks: [0])
        var payload = SideEventPayload.encode(codeWrites: [], syscalls: [], dataTouches: [],
                                              systemEvents: [SystemEvent(eventIndex: 0, kind: .interrupt, vector: 1)])
        payload[SideEventPayload.headerBytes + 16] = 9
        #expect(throws: ChunkDecodeFailure.self) {
            try SideEventPayload.decode(payload, codeWrites: 0, syscalls: 0, dataTouches: 0, systemEvents: 1,
                                        eventRange: 0..<1, into: &chunk)
        }
    }

    /// A trace written before schema 4 (here: the committed corpus, schema 1) is a user-mode trace:
    /// privilege 3, no physical addresses, no system events.
    @Test func olderTracesReadAsUserMode() throws {
        let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Traces/gzip.plextrace").standardized.path
        let reader = try TraceReader(path: corpus)
        #expect(reader.schemaVersion < 4)
        #expect(reader.metadata.guestMode == .user)
        let definitions = try reader.blockDefinitions(includingBytes: false)
        #expect(!definitions.isEmpty)
        #expect(definitions.allSatisfy { $0.privilege == 3 && $0.physicalAddress == nil })
        #expect(try reader.summary().systemEvents == 0)
        var events = 0
        try reader.forEachChunk { events += $0.systemEvents.count }
        #expect(events == 0)
    }
}
