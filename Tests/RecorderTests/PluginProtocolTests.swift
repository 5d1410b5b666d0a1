import Testing
import TraceModel
@testable import Recorder

/// Builds plugin records byte by byte, as include/plexlab_plugin.h lays them out.
struct RecordBytes {
    var bytes: [UInt8] = []

    mutating func u32(_ value: UInt32) { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }
    mutating func u64(_ value: UInt64) { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }

    mutating func record(_ kind: UInt32, _ payload: (inout RecordBytes) -> Void) {
        var body = RecordBytes()
        payload(&body)
        u32(kind)
        u32(UInt32(body.bytes.count))
        bytes += body.bytes
    }
}

private func parseAll(_ bytes: [UInt8]) throws -> (records: [String], consumed: Int) {
    var seen: [String] = []
    let (consumed, _) = try bytes.withUnsafeBytes { buffer in
        try PluginProtocol.parse(buffer) { record in
            switch record {
            case .hello(let hello): seen.append("hello \(hello.version) \(hello.dataPages) \(hello.target)")
            case .translation(let tb):
                seen.append("tb \(tb.id) 0x\(String(tb.address, radix: 16)) \(Array(tb.instructionLengths)) \(Array(tb.bytes))")
            case .page(let address, let bytes): seen.append("page 0x\(String(address, radix: 16)) \(bytes.count)")
            case .events(let thread, let words):
                let values = (0..<(words.count / 4)).map { words.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self) }
                seen.append("events \(thread) \(values)")
            case .module(let module): seen.append("module \(module.path) \(module.fileOffset)")
            case .threadEnd(let thread): seen.append("thread-end \(thread)")
            case .end(let end): seen.append("end \(end.stoppedAtMaxInstructions) \(end.recordedInstructions)")
            case .process(let p):
                seen.append("process \(p.pid) \(p.parentPID) \(p.origin) \(p.forkSerial) \(p.nextTB) \(p.commandLine)")
            case .fork(let serial, let thread): seen.append("fork \(serial) \(thread)")
            case .exec: seen.append("exec")
            case .exit(let status): seen.append("exit \(status)")
            case .reaped(let pid, let status): seen.append("reaped \(pid) \(status)")
            case .execUnfollowed(let reason): seen.append("unfollowed \(reason)")
            }
            return true
        }
    }
    return (seen, consumed)
}

@Suite struct PluginProtocolTests {
    @Test func everyRecordKindParses() throws {
        var stream = RecordBytes()
        stream.record(PluginWire.hello) { $0.u32(1); $0.u32(1); $0.u64(0); $0.u64(0); $0.bytes += Array("i386".utf8) }
        stream.record(PluginWire.translation) {
            $0.u32(0); $0.u32(2); $0.u64(0x401000); $0.u32(3)
            $0.bytes += [1, 2, 0x90, 0xeb, 0xfe]
        }
        stream.record(PluginWire.page) { $0.u64(0x401000); $0.bytes += [UInt8](repeating: 0xcc, count: 4096) }
        stream.record(PluginWire.events) { $0.u32(2); $0.u32(0); $0.u32(0); $0.u32(PluginWire.syscall); $0.u32(60); $0.u32(0) }
        stream.record(PluginWire.module) { $0.u64(0x400000); $0.u64(0x402000); $0.u64(0x1000); $0.bytes += Array("/bin/x".utf8) }
        stream.record(PluginWire.threadEnd) { $0.u32(2); $0.u32(0) }
        stream.record(PluginWire.end) { $0.u32(1); $0.u32(3); $0.u64(10); $0.u64(7) }
        stream.record(PluginWire.process) {
            $0.u32(4242); $0.u32(17); $0.u32(1); $0.u32(3); $0.u32(812); $0.u32(0)
            $0.bytes += Array("qemu-i386\0-plugin\0p.so,sock=/s\0/bin/sh\0-c\0\0".utf8)
        }
        stream.record(PluginWire.fork) { $0.u32(3); $0.u32(1) }
        stream.record(PluginWire.exec) { $0.u32(0); $0.u32(0) }
        stream.record(PluginWire.exit) { $0.u32(7); $0.u32(0) }
        stream.record(PluginWire.reaped) { $0.u32(4243); $0.u32(0x8b) }
        stream.record(PluginWire.execUnfollowed) { $0.u32(0); $0.u32(0); $0.bytes += Array("a memfd".utf8) }
        let (records, consumed) = try parseAll(stream.bytes)
        #expect(consumed == stream.bytes.count)
        #expect(records == [
            "hello 1 true i386",
            "tb 0 0x401000 [1, 2] [144, 235, 254]",
            "page 0x401000 4096",
            "events 2 [0, \(PluginWire.syscall), 60, 0]",
            "module /bin/x 4096",
            "thread-end 2",
            "end true 7",
            "process 4242 17 fork 3 812 [\"qemu-i386\", \"-plugin\", \"p.so,sock=/s\", \"/bin/sh\", \"-c\", \"\"]",
            "fork 3 1",
            "exec",
            "exit 7",
            "reaped 4243 139",
            "unfollowed a memfd",
        ])
    }

    @Test func aPartialRecordWaitsForMoreBytes() throws {
        var stream = RecordBytes()
        stream.record(PluginWire.threadEnd) { $0.u32(1); $0.u32(0) }
        let whole = stream.bytes.count
        stream.record(PluginWire.events) { $0.u32(1); $0.u32(0); $0.u32(5) }
        let (records, consumed) = try parseAll(Array(stream.bytes.dropLast(2)))
        #expect(records == ["thread-end 1"])
        #expect(consumed == whole)
    }

    @Test func malformedRecordsAreRefused() {
        var unknown = RecordBytes()
        unknown.record(99) { $0.u32(0) }
        #expect(throws: RecorderError.protocolError(detail: "unknown record kind 99")) { try parseAll(unknown.bytes) }

        var lengths = RecordBytes()
        lengths.record(PluginWire.translation) { $0.u32(0); $0.u32(1); $0.u64(0x1000); $0.u32(2); $0.bytes += [3, 0x90, 0x90] }
        #expect(throws: RecorderError.self) { try parseAll(lengths.bytes) }

        var shortPage = RecordBytes()
        shortPage.record(PluginWire.page) { $0.u64(0x1000); $0.bytes += [0, 0, 0] }
        #expect(throws: RecorderError.self) { try parseAll(shortPage.bytes) }

        var huge = RecordBytes()
        huge.u32(PluginWire.events)
        huge.u32(UInt32(PluginWire.maxPayload + 1))
        #expect(throws: RecorderError.self) { try parseAll(huge.bytes) }
    }

    @Test func repStringInstructionsAreRecognised() {
        func check(_ bytes: [UInt8], _ arch: GuestArch = .x86_64) -> Bool {
            bytes.withUnsafeBytes { TraceAssembler.isRepString($0, arch: arch) }
        }
        #expect(check([0xF3, 0xA4]))                  // rep movsb
        #expect(check([0xF3, 0x48, 0xAB]))            // rep stosq
        #expect(check([0xF2, 0xAE]))                  // repne scasb
        #expect(check([0x66, 0xF3, 0xA5]))            // rep movsw
        #expect(!check([0xA4]))                       // movsb without rep
        #expect(!check([0xF3, 0xC3]))                 // rep ret
        #expect(!check([0xF3, 0x0F, 0xB8, 0xC0]))     // popcnt
        #expect(!check([0xF3, 0x48, 0xAB], .i386))    // 0x48 is dec eax in 32-bit code
    }
}
