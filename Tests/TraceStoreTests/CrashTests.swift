import Foundation
import Testing
import TraceModel
@testable import TraceStore

@Suite struct CrashTests {
    private func definition() -> BlockDefinition {
        BlockDefinition(address: 0x401000, length: 2, instructionCount: 1, codeVersion: 0, exitKind: .jmp,
                        staticTarget: 0x401000, sensitiveCount: 0, cpuidCount: 0, bytes: [0xeb, 0xfe])
    }

    /// A crash image: the db file and its -wal copied while the writer is still open, never finished.
    @Test func writerKilledBetweenChunksLeavesEveryCommittedChunk() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let path = scratch.path("live.plextrace")
        let writer = try TraceWriter(path: path, metadata: sampleMetadata(), options: .init(chunkBlocks: 10))
        let a = try definePaged(writer, definition())
        for i in 0..<25 {  // two automatic chunks (0..<10, 10..<20), five blocks pending
            if i == 12 { writer.record(thread: 0, syscall: SyscallEvent(eventIndex: 12, number: 1)) }
            try writer.append(thread: 0, block: a)
        }
        try writer.flush()  // third chunk: 20..<25
        for _ in 0..<7 { try writer.append(thread: 3, block: a) }  // pending only: lost in the crash
        var b: BlockID = 0
        b = try definePaged(writer, definition())  // defined, not committed: lost too

        let copy = scratch.path("crash.plextrace")
        try FileManager.default.copyItem(atPath: path, toPath: copy)
        #expect(FileManager.default.fileExists(atPath: path + "-wal"))
        try FileManager.default.copyItem(atPath: path + "-wal", toPath: copy + "-wal")

        let reader = try TraceReader(path: copy)
        #expect(!reader.metadata.complete)
        #expect(try reader.blockDefinitions().count == 1)
        var shapes: [[UInt64]] = []
        var syscalls: [SyscallEvent] = []
        try reader.forEachChunk { chunk in
            shapes.append([UInt64(chunk.thread), chunk.firstEventIndex, UInt64(chunk.blocks.count)])
            syscalls += chunk.syscalls
        }
        #expect(shapes == [[0, 0, 10], [0, 10, 10], [0, 20, 5]])
        #expect(syscalls == [SyscallEvent(eventIndex: 12, number: 1)])
        #expect(try reader.summary().blocksExecuted == 25)
        #expect(try reader.verify().isEmpty)
        _ = b
        writer.abandon(note: "done")
    }

    @Test func aReaderFollowsAWriterThroughWAL() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let path = scratch.path("live.plextrace")
        let writer = try TraceWriter(path: path, metadata: sampleMetadata(), options: .init(chunkBlocks: 5))
        let a = try definePaged(writer, definition())
        for _ in 0..<5 { try writer.append(thread: 0, block: a) }
        let reader = try TraceReader(path: path)
        var seen = 0
        try reader.forEachChunk { seen += $0.blocks.count }
        #expect(seen == 5)
        for _ in 0..<12 { try writer.append(thread: 0, block: a) }
        seen = 0
        try reader.forEachChunk { seen += $0.blocks.count }
        #expect(seen == 15)
        try writer.finish(exitStatus: 0, signal: nil, note: "")
        // The reader kept the file open, so it stays in WAL mode; a new reader still sees it complete.
        #expect(try TraceReader(path: path).metadata.complete)
    }

    /// A reader opened before the writer finished: its figures and metadata read together belong to one
    /// moment, so a live trace never shows its last, partial chunks while marked incomplete. `finish`
    /// commits the partial chunks of every thread together with `complete` = 1.
    @Test func metadataAndFiguresOfALiveTraceAgree() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let path = scratch.path("live.plextrace")
        let writer = try TraceWriter(path: path, metadata: sampleMetadata(), options: .init(chunkBlocks: 4))
        let a = try definePaged(writer, definition())
        for _ in 0..<9 { try writer.append(thread: 0, block: a) }  // two whole chunks, one block pending
        for _ in 0..<3 { try writer.append(thread: 5, block: a) }  // pending only
        let reader = try TraceReader(path: path)
        let before = try reader.currentMetadataAndSummary()
        #expect(!before.metadata.complete && before.summary.blocksExecuted == 8 && before.summary.chunks == 2)
        try writer.finish(exitStatus: 0, signal: nil, note: "")
        #expect(!reader.metadata.complete)  // as read when the reader opened
        let after = try reader.currentMetadataAndSummary()
        #expect(after.metadata.complete && after.summary.blocksExecuted == 12 && after.summary.chunks == 4)
        #expect(after.summary.threads == 2)
        var shapes: [[UInt64]] = []
        try reader.forEachChunk { shapes.append([UInt64($0.thread), $0.firstEventIndex, UInt64($0.blocks.count)]) }
        #expect(shapes == [[0, 0, 4], [0, 4, 4], [0, 8, 1], [5, 0, 3]])
    }

    /// A reader of the live file that lets go while the writer finishes (`plexlab info` polling a running
    /// import): `finish` waits for it and still leaves one rollback-journal file, so later read-only
    /// openers leave no -wal/-shm behind (KillTests found OUT-wal and OUT-shm after the import's summary).
    @Test func aReaderLettingGoDuringFinishStillLeavesOneSelfContainedFile() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let path = scratch.path("t.plextrace")
        let writer = try TraceWriter(path: path, metadata: sampleMetadata(), options: .init(chunkBlocks: 4))
        let a = try definePaged(writer, definition())
        for _ in 0..<9 { try writer.append(thread: 0, block: a) }
        final class Holder: @unchecked Sendable { var reader: TraceReader? }
        let holder = Holder()
        holder.reader = try TraceReader(path: path)
        #expect(try holder.reader?.summary().chunks == 2)
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.3) { holder.reader = nil; done.signal() }
        try writer.finish(exitStatus: 0, signal: nil, note: "")
        done.wait()
        #expect(!FileManager.default.fileExists(atPath: path + "-wal"))
        #expect(!FileManager.default.fileExists(atPath: path + "-shm"))
        let header = try #require(FileHandle(forReadingAtPath: path)).readData(ofLength: 20)
        #expect(Array(header[18...19]) == [1, 1], "rollback-journal mode (WAL is 2, 2)")
        #expect(try TraceReader(path: path).summary().blocksExecuted == 9)
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.directory) == ["t.plextrace"])
    }

    @Test func aFinishedTraceIsOneSelfContainedFile() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let path = scratch.path("t.plextrace")
        try writeSimpleTrace(at: path, chunks: 3)
        #expect(!FileManager.default.fileExists(atPath: path + "-wal"))
        // Read-only media: the reader needs neither -wal nor -shm, so a read-only directory works.
        try FileManager.default.setAttributes([.posixPermissions: 0o555], ofItemAtPath: scratch.directory)
        defer { try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: scratch.directory) }
        let reader = try TraceReader(path: path)
        #expect(try reader.summary().chunks == 3)
        #expect(reader.isDefensive)
    }

    @Test func writerContractViolationsAreOneLineErrors() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let path = scratch.path("t.plextrace")
        let writer = try TraceWriter(path: path, metadata: sampleMetadata(), options: .init(chunkBlocks: 2))
        #expect(errorLine { try writer.append(thread: 0, block: 0) }?.contains("block id 0 appended before it was defined") == true)
        let a = try definePaged(writer, definition())
        var wrong = definition()
        wrong.length = 3
        #expect(errorLine { _ = try writer.define(wrong) }?.contains("has length 3 but 2 bytes") == true)
        #expect(errorLine { try writer.addCodePage(CodePage(address: 0, version: 0, bytes: [1])) }?.contains("has 1 bytes") == true)
        try writer.addCodePage(CodePage(address: 0, version: 0, bytes: [UInt8](repeating: 1, count: 4096)))
        try writer.addCodePage(CodePage(address: 0, version: 0, bytes: [UInt8](repeating: 1, count: 4096)))
        #expect(errorLine { try writer.addCodePage(CodePage(address: 0, version: 0, bytes: [UInt8](repeating: 2, count: 4096))) }?
            .contains("already stored with other bytes") == true)
        for _ in 0..<2 { try writer.append(thread: 0, block: a) }
        writer.record(thread: 0, syscall: SyscallEvent(eventIndex: 1, number: 0))  // chunk 0..<2 already committed
        #expect(errorLine { try writer.flush() }?.contains("precedes the committed chunks") == true)
        #expect(errorLine { _ = try TraceWriter(path: path, metadata: sampleMetadata()) } == "\(path) already exists (choose another path or allow overwriting)")
        writer.abandon(note: "")
        #expect(errorLine { try writer.append(thread: 0, block: a) }?.contains("after finish or abandon") == true)
    }

    @Test func finishRefusesEventsOfBlocksNeverAppended() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let path = scratch.path("t.plextrace")
        let writer = try TraceWriter(path: path, metadata: sampleMetadata())
        let a = try definePaged(writer, definition())
        try writer.append(thread: 0, block: a)
        writer.record(thread: 0, syscall: SyscallEvent(eventIndex: 5, number: 0))
        #expect(errorLine { try writer.finish(exitStatus: 0, signal: nil, note: "") }?
            .contains("side event at event index 5 but only 1 blocks") == true)
        writer.abandon(note: "gave up")
        let reader = try TraceReader(path: path)
        #expect(!reader.metadata.complete)
        #expect(try reader.summary().blocksExecuted == 1)
    }
}
