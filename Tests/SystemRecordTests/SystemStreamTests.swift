import Foundation
@testable import Recorder
import Testing
import TraceBuilder
import TraceModel
import TraceStore

/// A hand-made system stream through the wire parser and the assembler: the trace's blocks carry the
/// privilege and physical address, pages are stored by physical page, and side events land on the block
/// executed last (docs/recorder.md, "System traces").
@Suite struct SystemStreamTests {
    func record(_ kind: UInt32, _ payload: [UInt8]) -> [UInt8] {
        le(kind) + le(UInt32(payload.count)) + payload
    }
    func le(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value.littleEndian, Array.init) }
    func le(_ value: UInt64) -> [UInt8] { withUnsafeBytes(of: value.littleEndian, Array.init) }

    /// A SYSTEM_TB: one instruction of `code` at `vaddr`, physical `phys`.
    func tb(_ id: UInt32, vaddr: UInt64, phys: UInt64, code: [UInt8]) -> [UInt8] {
        record(PluginWire.systemTranslation, le(id) + le(UInt32(1)) + le(vaddr) + le(UInt32(code.count)) + le(phys)
               + le(UInt64(0)) + [UInt8(code.count)] + code)
    }

    func page(_ phys: UInt64, code: [UInt8], at offset: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0x90, count: 4096)
        bytes.replaceSubrange(offset..<(offset + code.count), with: code)
        return record(PluginWire.page, le(phys) + bytes)
    }

    @Test func kernelAndUserBlocksWithEvents() throws {
        let user: UInt64 = 0x401000, kernel: UInt64 = 0xFFFF_FFFF_81C0_0BE0
        let userPhys: UInt64 = 0x0234_5000, kernelPhys: UInt64 = 0x01C0_0BE0
        let syscall: [UInt8] = [0x0F, 0x05], swapgs: [UInt8] = [0x0F, 0x01, 0xF8]
        var stream = record(PluginWire.hello, le(PluginWire.protocolVersion) + le(PluginWire.flagSystem)
                            + le(UInt64(0)) + le(UInt64(0)) + Array("x86_64".utf8))
        stream += page(userPhys, code: syscall, at: 0) + tb(0, vaddr: user, phys: userPhys, code: syscall)
        stream += page(kernelPhys & ~0xFFF, code: swapgs, at: 0xBE0) + tb(1, vaddr: kernel, phys: kernelPhys, code: swapgs)
        // user, #PF (CR2 0x7000) on it, kernel, timer interrupt on it, page-table store, syscall 39, user
        let words: [UInt32] = [0, PluginWire.exception, 14, 0x7000, 0, 1, PluginWire.interrupt, 0xEC,
                               PluginWire.pageTableStore, 0x1234_5678, 0, PluginWire.syscall, 39, 0, 0]
        stream += record(PluginWire.events, le(UInt32(0)) + le(UInt32(0)) + words.flatMap { le($0) })
        stream += record(PluginWire.end, le(UInt32(0)) + le(UInt32(1)) + le(UInt64(3)) + le(UInt64(3)))

        let path = NSTemporaryDirectory() + "plexlab-system-stream-\(UUID().uuidString.prefix(8)).plextrace"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let metadata = TraceMetadata(program: "vmlinuz", argv: [], arch: .x86_64, recorder: "qemu-system",
                                     recorderVersion: "test", host: "test", date: "2026-12-06", guestMode: .system)
        let writer = try TraceWriter(path: path, metadata: metadata)
        let builder = TraceBuilder(writer: writer, arch: .x86_64, mode: .system)
        var assembler = TraceAssembler(builder: builder, writer: writer, arch: .x86_64)
        _ = try stream.withUnsafeBytes { bytes in
            try PluginProtocol.parse(bytes) { try assembler.handle($0) }
        }
        try writer.finish(exitStatus: 0, signal: nil, note: "")
        #expect(assembler.counts.blocks == 3 && assembler.counts.systemEvents == 3 && assembler.counts.syscalls == 1)

        let reader = try TraceReader(path: path)
        let definitions = try reader.blockDefinitions()
        #expect(definitions.map(\.address) == [user, kernel])
        #expect(definitions.map(\.privilege) == [3, 0])
        #expect(definitions.map(\.physicalAddress) == [userPhys, kernelPhys])
        #expect(try reader.codePages().map(\.address).sorted() == [kernelPhys & ~0xFFF, userPhys])
        var blocks: [BlockID] = [], events: [SystemEvent] = [], syscalls: [SyscallEvent] = []
        try reader.forEachChunk { chunk in
            blocks += chunk.blocks
            events += chunk.systemEvents
            syscalls += chunk.syscalls
        }
        #expect(blocks == [0, 1, 0])
        #expect(events == [SystemEvent(eventIndex: 0, kind: .exception, vector: 14, address: 0x7000),
                           SystemEvent(eventIndex: 1, kind: .interrupt, vector: 0xEC),
                           SystemEvent(eventIndex: 1, kind: .pageTableStore, address: 0x1234_5678)])
        #expect(syscalls == [SyscallEvent(eventIndex: 1, number: 39)])
    }
}
