import Foundation
import Testing
import TraceModel
import TraceStore
import Workloads
@testable import Recorder

/// A stream of every record kind: HELLO, TB 0, PAGE, EVENTS (thread 2: TB 0, a syscall = 4 words), MODULE,
/// THREAD_END, END.
private func sampleStream() -> [UInt8] {
    var stream = RecordBytes()
    stream.record(PluginWire.hello) { $0.u32(1); $0.u32(0); $0.u64(0); $0.u64(0); $0.bytes += Array("x86_64".utf8) }
    stream.record(PluginWire.translation) { $0.u32(0); $0.u32(1); $0.u64(0x401000); $0.u32(1); $0.bytes += [1, 0x90] }
    stream.record(PluginWire.page) { $0.u64(0x401000); $0.bytes += [UInt8](repeating: 0x90, count: 4096) }
    stream.record(PluginWire.events) { $0.u32(2); $0.u32(0); $0.u32(0); $0.u32(PluginWire.syscall); $0.u32(60); $0.u32(0) }
    stream.record(PluginWire.module) { $0.u64(0x400000); $0.u64(0x402000); $0.u64(0); $0.bytes += Array("/bin/x".utf8) }
    stream.record(PluginWire.threadEnd) { $0.u32(2); $0.u32(0) }
    stream.record(PluginWire.end) { $0.u32(0); $0.u32(1); $0.u64(0); $0.u64(0) }
    return stream.bytes
}

@Suite struct StreamFramingTests {
    /// The recorder walks only the framing while the guest runs; cut anywhere, it must see the same.
    @Test(arguments: [1, 3, 7, 8, 9, 4096, 1 << 20])
    func framingIsTheSameWhereverTheStreamIsCut(piece: Int) throws {
        let bytes = sampleStream()
        var scan = StreamScan()
        var offset = 0
        while offset < bytes.count {
            let end = min(bytes.count, offset + piece)
            try bytes[offset..<end].withUnsafeBytes { try scan.scan($0) }
            offset = end
        }
        #expect(scan.sawHello)
        #expect(scan.translations == 1)
        #expect(scan.eventWords == 4)
        #expect(scan.atBoundary)
    }

    @Test func aStreamCutInsideARecordIsNotOnABoundary() throws {
        let bytes = sampleStream()
        var scan = StreamScan()
        try bytes.dropLast(3).withUnsafeBytes { try scan.scan($0) }
        #expect(!scan.atBoundary)
        #expect(scan.eventWords == 4)
    }

    @Test func aStreamThatDoesNotStartWithHelloOrHasAnUnknownKindIsRefused() {
        var tb = RecordBytes()
        tb.record(PluginWire.threadEnd) { $0.u32(0); $0.u32(0) }
        #expect(throws: RecorderError.self) { var scan = StreamScan(); try tb.bytes.withUnsafeBytes { try scan.scan($0) } }
        var unknown = RecordBytes()
        unknown.record(PluginWire.hello) { $0.u32(1); $0.u32(0); $0.u64(0); $0.u64(0) }
        unknown.record(99) { $0.u32(0) }
        #expect(throws: RecorderError.self) { var scan = StreamScan(); try unknown.bytes.withUnsafeBytes { try scan.scan($0) } }
    }

    /// The pack parses the fast form's segments, which are cut anywhere: every cut gives the same records.
    @Test(arguments: [1, 5, 8, 4100])
    func theParserGivesTheSameRecordsWhereverTheStreamIsCut(piece: Int) throws {
        let bytes = sampleStream()
        let parser = PluginStreamParser()
        var kinds: [String] = []
        var offset = 0
        var stopped = false
        while offset < bytes.count && !stopped {
            let end = min(bytes.count, offset + piece)
            stopped = try bytes[offset..<end].withUnsafeBytes { piece in
                try parser.feed(piece) { record in
                    switch record {
                    case .hello: kinds.append("hello")
                    case .translation(let tb): kinds.append("tb \(tb.id) \(tb.bytes.count)")
                    case .page(let address, let page): kinds.append("page \(address) \(page.count)")
                    case .events(let thread, let words): kinds.append("events \(thread) \(words.count / 4)")
                    case .module(let module): kinds.append("module \(module.path)")
                    case .threadEnd(let thread): kinds.append("thread-end \(thread)")
                    case .end: kinds.append("end"); return false
                    default: kinds.append("other")
                    }
                    return true
                }
            }
            offset = end
        }
        #expect(stopped)
        #expect(parser.pending == 0)
        #expect(kinds == ["hello", "tb 0 1", "page \(0x401000) 4096", "events 2 4", "module /bin/x", "thread-end 2", "end"])
    }
}

@Suite(.serialized) struct RecordThenPackTests {
    /// --no-pack leaves the fast form: a trace that says so, that replay refuses, and that `pack` turns into
    /// exactly the trace a plain `record` writes (B0 F B1 (BL F B1)^(N-1) BE with N = 9: 28 blocks).
    @Test func noPackThenPackGivesTheSameTraceAsRecord() throws {
        let directory = try scratch("pack")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let workload = WorkloadCatalog.crossPageCall(iterations: 9, arch: .x86_64)
        let command = try workload.prepare(in: directory + "/bin")
        let fast = directory + "/fast.plextrace", direct = directory + "/direct.plextrace"

        let unpacked = try Recorder.record(program: command.program, arguments: command.arguments,
                                           options: RecordOptions(output: fast, pack: false, followProcesses: false))
        #expect(!unpacked.packed)
        #expect(unpacked.blocks == 0)
        #expect(unpacked.pluginBytes > 0)
        let reader = try TraceReader(path: fast)
        #expect(reader.isFastForm)
        #expect(!reader.metadata.complete)
        #expect(reader.metadata.note == FastForm.note)
        #expect(try reader.summary().blocksExecuted == 0)
        #expect(try reader.fastFormSizes().stream == unpacked.pluginBytes)

        let packed = try Packer.pack(path: fast)
        #expect(packed.packed)
        #expect(packed.blocks == 28)
        #expect(!FileManager.default.fileExists(atPath: fast + ".partial"))
        #expect(!FileManager.default.fileExists(atPath: fast + ".lock"))
        #expect(try !TraceReader(path: fast).isFastForm)
        #expect(throws: RecorderError.notFastForm(path: fast)) { try Packer.pack(path: fast) }

        let recorded = try Recorder.record(program: command.program, arguments: command.arguments,
                                           options: RecordOptions(output: direct, followProcesses: false))
        #expect(recorded.packed)
        #expect(recorded.guestSeconds <= recorded.seconds)
        let a = try ReadBack(fast), b = try ReadBack(direct)
        var expected: [BlockID] = [0, 1, 2]
        for _ in 1..<9 { expected += [3, 1, 2] }
        expected.append(4)
        #expect(a.blocks == expected)
        #expect(b.blocks == expected)
        #expect(a.definitions == b.definitions)
        #expect(a.syscalls == b.syscalls)
        #expect(a.metadata.complete && b.metadata.complete)
        #expect(a.metadata.exitStatus == 0 && b.metadata.exitStatus == 0)
        #expect(a.metadata.note == "")
    }

    /// A pack stopped half-way (Ctrl-C) removes its partial file and leaves the fast form whole: packing
    /// it afterwards gives every block.
    @Test func aStoppedPackLeavesTheFastFormWhole() throws {
        let directory = try scratch("stop")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let command = try WorkloadCatalog.crossPageCall(iterations: 5, arch: .x86_64).prepare(in: directory + "/bin")
        let fast = directory + "/fast.plextrace"
        _ = try Recorder.record(program: command.program, arguments: command.arguments,
                                options: RecordOptions(output: fast, pack: false, followProcesses: false))
        let before = try Data(contentsOf: URL(fileURLWithPath: fast))
        #expect(throws: RecorderError.packInterrupted(signal: "SIGINT", path: fast)) {
            try Packer.pack(path: fast, shouldStop: { SIGINT })
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: fast)) == before)
        #expect(!FileManager.default.fileExists(atPath: fast + ".partial"))
        #expect(try TraceReader(path: fast).isFastForm)
        #expect(try Packer.pack(path: fast).blocks == 16)
    }
}
