import Foundation
import FuzzSupport
import TraceModel
import TraceStore

/// The whole reader on a stranger's file: the input written as a .plextrace, opened with `TraceReader`
/// (header precheck, SQLite's defensive mode, structure checks) and read through every entry point.
@main enum FuzzTraceFile {
    static func main() {
        FuzzDriver.main({ data, size in
            let path = FuzzDriver.scratchDirectory + "/input.plextrace"
            for suffix in ["-wal", "-shm", "-journal"] { try? FileManager.default.removeItem(atPath: path + suffix) }
            guard FileManager.default.createFile(atPath: path, contents: Data(bytes: data!, count: size)) else {
                fatalError("cannot write \(path)")
            }
            guard let reader = try? TraceReader(path: path) else { return 0 }
            _ = try? reader.summary()
            _ = try? reader.modules()
            _ = try? reader.blockDefinitions()
            _ = try? reader.forEachCodePage { _ in }
            _ = try? reader.verify()
            _ = try? reader.forEachChunk { _ in }
            return 0
        }, seeds: seeds)
    }

    /// A small finished trace: two threads, side events of every kind, two page versions, a module.
    static func seeds() throws -> [String: [UInt8]] {
        let path = FuzzDriver.scratchDirectory + "/seed.plextrace"
        let metadata = TraceMetadata(program: "/bin/seed", argv: ["seed"], arch: .x86_64, recorder: "fuzz-seed",
                                     recorderVersion: "1", host: "seed", date: "2026-01-01T00:00:00Z",
                                     hasDataTouches: true)
        let writer = try TraceWriter(path: path, metadata: metadata, options: .init(chunkBlocks: 6, overwrite: true))
        let jump = try writer.define(BlockDefinition(address: 0x401000, length: 2, instructionCount: 1, codeVersion: 0,
                                                     exitKind: .jmp, staticTarget: 0x401002, sensitiveCount: 0,
                                                     cpuidCount: 0, bytes: [0xeb, 0x00]))
        let call = try writer.define(BlockDefinition(address: 0x401002, length: 5, instructionCount: 1, codeVersion: 0,
                                                     exitKind: .call, staticTarget: 0x401000, sensitiveCount: 0,
                                                     cpuidCount: 0, bytes: [0xe8, 0xf9, 0xff, 0xff, 0xff]))
        var page = [UInt8](repeating: 0xcc, count: CodePage.size)
        try writer.addCodePage(CodePage(address: 0x401000, version: 0, bytes: page))
        page[0] = 0x90
        try writer.addCodePage(CodePage(address: 0x401000, version: 1, bytes: page))
        try writer.addModule(ModuleMapping(start: 0x401000, end: 0x402000, fileOffset: 0x1000, path: "/bin/seed"))
        for i in 0..<15 {
            try writer.append(thread: UInt32(i % 2), block: i % 3 == 0 ? call : jump)
            let thread = UInt32(i % 2), index = writer.nextEventIndex(thread: thread) - 1
            if i == 4 { writer.record(thread: thread, syscall: SyscallEvent(eventIndex: index, number: 1)) }
            if i == 7 { writer.record(thread: thread, codeWrite: CodeWrite(eventIndex: index, address: 0x401000, size: 1)) }
            if i == 9 { writer.record(thread: thread, dataTouch: DataTouch(eventIndex: index, page: 0x601000, reads: 2, writes: 1)) }
        }
        try writer.finish(exitStatus: 0, signal: nil, note: "fuzz seed")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let small = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))

        // The reader's thread tables: 40 threads ended one after another, then 20 live at once (past the
        // 16 live predictive coders: the writer codes the last four raw).
        let many = try TraceWriter(path: path, metadata: metadata, options: .init(chunkBlocks: 4, overwrite: true))
        _ = try many.define(BlockDefinition(address: 0x401000, length: 2, instructionCount: 1, codeVersion: 0,
                                            exitKind: .jmp, staticTarget: 0x401000, sensitiveCount: 0,
                                            cpuidCount: 0, bytes: [0xeb, 0xfe]))
        try many.addCodePage(CodePage(address: 0x401000, version: 0, bytes: [UInt8](repeating: 0xeb, count: CodePage.size)))
        for t: UInt32 in 0..<40 {
            for _ in 0..<6 { try many.append(thread: t, block: 0) }
            try many.endThread(t)
        }
        for _ in 0..<2 { for t: UInt32 in 40..<60 { for _ in 0..<4 { try many.append(thread: t, block: 0) } } }
        try many.finish(exitStatus: 0, signal: nil, note: "fuzz seed: many threads")
        return ["small-trace.plextrace": small,
                "many-threads.plextrace": [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))]
    }
}
