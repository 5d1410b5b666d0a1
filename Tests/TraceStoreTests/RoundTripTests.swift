import BlockCodec
import Foundation
import GRDB
import Testing
import TraceModel
@testable import TraceStore

/// What a test wrote, kept independently of the store to compare against what it reads back.
private struct WrittenTrace {
    var definitions: [BlockDefinition] = []
    var blocks: [UInt32: [BlockID]] = [:]
    var codeWrites: [UInt32: [CodeWrite]] = [:]
    var syscalls: [UInt32: [SyscallEvent]] = [:]
    var dataTouches: [UInt32: [DataTouch]] = [:]
    /// (thread, first event index, block count) of every chunk, in commit order.
    var chunks: [(UInt32, UInt64, Int)] = []
    var committedEnd: [UInt32: Int] = [:]
    var pages: [CodePage] = []
    var modules: [ModuleMapping] = []

    func appended(_ thread: UInt32) -> Int { blocks[thread]?.count ?? 0 }

    mutating func commit(_ thread: UInt32) {
        let start = committedEnd[thread] ?? 0
        let end = appended(thread)
        guard end > start else { return }
        chunks.append((thread, UInt64(start), end - start))
        committedEnd[thread] = end
    }

    mutating func flushAll() {
        for thread in blocks.keys.sorted() { commit(thread) }
    }
}

/// Writes one random trace shape from `seed` and returns what was written.
private func writeRandomTrace(seed: UInt64, at path: String, codec: BlockStreamCodec = .raw) throws -> (WrittenTrace, Int) {
    var rng = SplitMix64(seed: seed)
    let chunkBlocks = [1, 2, 3, 7, 16, 64, 1000].randomElement(using: &rng)!
    let writer = try TraceWriter(path: path, metadata: sampleMetadata(),
                                 options: .init(chunkBlocks: chunkBlocks, overwrite: true, blockCodec: codec))
    var model = WrittenTrace()
    let threadIDs: [UInt32] = Array([0, 1, 7, 42, 4_000_000_000].shuffled(using: &rng).prefix(Int.random(in: 1...5, using: &rng)))
    // Some threads stay empty: they get no blocks and must produce no chunks.
    let busy = threadIDs.filter { _ in Int.random(in: 0..<4, using: &rng) != 0 }
    let steps = Int.random(in: 0...700, using: &rng)

    func defineRandom() throws {
        let def = randomDefinition(&rng)
        let id = try writer.define(def)
        #expect(Int(id) == model.definitions.count)
        model.definitions.append(def)
        // The block's code page version, as a recorder stores it (verify checks it is there).
        let page = def.address & ~UInt64(CodePage.size - 1)
        if !model.pages.contains(where: { $0.address == page && $0.version == def.codeVersion }) {
            let stored = CodePage(address: page, version: def.codeVersion, bytes: [UInt8](repeating: 0xcc, count: 4096))
            try writer.addCodePage(stored)
            model.pages.append(stored)
        }
    }
    try defineRandom()

    for _ in 0..<steps {
        let roll = Int.random(in: 0..<100, using: &rng)
        if roll < 5 || model.definitions.isEmpty {
            try defineRandom()
        } else if roll < 7 {
            let address = UInt64.random(in: 0...0xffff, using: &rng) << 12
            let version = (model.pages.filter { $0.address == address }.map(\.version).max()).map { $0 + 1 } ?? 0
            // Few distinct contents, so dedup is exercised.
            let fill = UInt8.random(in: 0...3, using: &rng)
            let page = CodePage(address: address, version: version, bytes: [UInt8](repeating: fill, count: 4096))
            try writer.addCodePage(page)
            model.pages.append(page)
        } else if roll < 8 {
            let module = ModuleMapping(start: UInt64.random(in: 0...1 << 40, using: &rng), end: UInt64.max,
                                       fileOffset: UInt64.random(in: 0...UInt64.max, using: &rng), path: "/lib/m\(roll).so")
            try writer.addModule(module)
            model.modules.append(module)
        } else if roll < 10 {
            try writer.flush()
            model.flushAll()
        } else if !busy.isEmpty {
            let thread = busy.randomElement(using: &rng)!
            let next = UInt64(model.appended(thread))
            #expect(writer.nextEventIndex(thread: thread) == next)
            let committed = UInt64(model.committedEnd[thread] ?? 0)
            // Side events: at the block about to be appended (often a chunk's first or last), or at any
            // block still pending.
            if Int.random(in: 0..<4, using: &rng) == 0 {
                let index = Bool.random(using: &rng) || next == committed ? next : UInt64.random(in: committed..<next, using: &rng)
                switch Int.random(in: 0..<3, using: &rng) {
                case 0:
                    let event = CodeWrite(eventIndex: index, address: UInt64.random(in: 0...UInt64.max, using: &rng),
                                          size: UInt32.random(in: 1...8, using: &rng))
                    writer.record(thread: thread, codeWrite: event)
                    model.codeWrites[thread, default: []].append(event)
                case 1:
                    let event = SyscallEvent(eventIndex: index, number: Int64.random(in: Int64.min...Int64.max, using: &rng))
                    writer.record(thread: thread, syscall: event)
                    model.syscalls[thread, default: []].append(event)
                default:
                    let event = DataTouch(eventIndex: index, page: UInt64.random(in: 0...1 << 36, using: &rng) << 12,
                                          reads: UInt32.random(in: 0...UInt32.max, using: &rng),
                                          writes: UInt32.random(in: 0...9, using: &rng))
                    writer.record(thread: thread, dataTouch: event)
                    model.dataTouches[thread, default: []].append(event)
                }
            }
            let id = BlockID.random(in: 0..<BlockID(model.definitions.count), using: &rng)
            try writer.append(thread: thread, block: id)
            model.blocks[thread, default: []].append(id)
            if model.appended(thread) - (model.committedEnd[thread] ?? 0) == chunkBlocks { model.commit(thread) }
        }
    }
    // Every side event must name an appended block before finish: drop a trailing one by appending its block.
    for thread in busy {
        let pendingMax = (model.codeWrites[thread] ?? []).map(\.eventIndex) + (model.syscalls[thread] ?? []).map(\.eventIndex)
            + (model.dataTouches[thread] ?? []).map(\.eventIndex)
        if let last = pendingMax.max(), last >= UInt64(model.appended(thread)) {
            try writer.append(thread: thread, block: 0)
            model.blocks[thread, default: []].append(0)
            if model.appended(thread) - (model.committedEnd[thread] ?? 0) == chunkBlocks { model.commit(thread) }
        }
    }
    try writer.finish(exitStatus: 3, signal: nil, note: "seed \(seed)")
    model.flushAll()
    return (model, chunkBlocks)
}

private func stableSorted<T>(_ events: [T], by key: (T) -> UInt64) -> [T] {
    events.enumerated().sorted { (key($0.element), $0.offset) < (key($1.element), $1.offset) }.map(\.element)
}

@Suite struct RoundTripTests {
    @Test(arguments: 0..<48)
    func randomShapesReadBackExactly(seed: Int) throws {
        try checkRandomShape(seed: seed, codec: .raw)
    }

    /// The same shapes through BlockCodec (one coder per thread, state across that thread's chunks).
    @Test(arguments: 0..<48)
    func randomShapesReadBackExactlyWithThePredictiveCodec(seed: Int) throws {
        try checkRandomShape(seed: seed, codec: .predictive)
    }

    /// And through BlockCodec's fast configuration (codec 2).
    @Test(arguments: 0..<48)
    func randomShapesReadBackExactlyWithTheFastPredictiveCodec(seed: Int) throws {
        try checkRandomShape(seed: seed, codec: .predictiveFast)
    }

    /// Every codec id maps to its own BlockCodec configuration (predictive ones) or to none (raw).
    @Test func codecIdsAndVariants() {
        #expect(BlockStreamCodec.allCases.map(\.rawValue) == [0, 1, 2])
        #expect(BlockStreamCodec.allCases.map(\.blockVariant) == [nil, .full, .fast])
    }

    private func checkRandomShape(seed: Int, codec: BlockStreamCodec) throws {
        let scratch = Scratch("roundtrip\(codec)\(seed)")
        defer { scratch.remove() }
        let path = scratch.path("t.plextrace")
        let (model, chunkBlocks) = try writeRandomTrace(seed: UInt64(seed) &* 7919 &+ 1, at: path, codec: codec)
        let codecs = try DatabaseQueue(path: path).read { db in try Int.fetchAll(db, sql: "SELECT DISTINCT codec FROM chunks") }
        #expect(codecs.allSatisfy { $0 == Int(codec.rawValue) })

        // A replay's load first: bytes only where the last instruction's offset is not stored.
        var lean = model.definitions
        for index in lean.indices where lean[index].lastInstructionOffset != nil { lean[index].bytes = [] }
        #expect(try TraceReader(path: path).blockDefinitions(includingBytes: false) == lean)
        let leanFirst = try TraceReader(path: path)
        _ = try leanFirst.blockDefinitions(includingBytes: false)
        #expect(try leanFirst.blockDefinitions() == model.definitions)

        let reader = try TraceReader(path: path)
        #expect(reader.metadata.complete)
        #expect(reader.metadata.exitStatus == 3)
        #expect(reader.metadata.note == "seed \(UInt64(seed) &* 7919 &+ 1)")
        #expect(reader.metadata.argv == sampleMetadata().argv)
        #expect(try reader.blockDefinitions() == model.definitions)
        // By address as SQLite orders its integers (signed: pages at 2^63 and above come first), then version.
        let expectedPages = model.pages.sorted {
            (Int64(bitPattern: $0.address), $0.version) < (Int64(bitPattern: $1.address), $1.version)
        }
        #expect(try reader.codePages() == expectedPages)
        #expect(try reader.modules() == model.modules)

        var blocks: [UInt32: [BlockID]] = [:]
        var codeWrites: [UInt32: [CodeWrite]] = [:]
        var syscalls: [UInt32: [SyscallEvent]] = [:]
        var dataTouches: [UInt32: [DataTouch]] = [:]
        var shapes: [(UInt32, UInt64, Int)] = []
        var sequence: UInt64 = 0
        try reader.forEachChunk { chunk in
            #expect(chunk.sequence == sequence)
            sequence += 1
            #expect(chunk.blocks.count <= chunkBlocks)
            #expect(chunk.firstEventIndex == UInt64(blocks[chunk.thread]?.count ?? 0))
            shapes.append((chunk.thread, chunk.firstEventIndex, chunk.blocks.count))
            let range = chunk.firstEventIndex..<(chunk.firstEventIndex + UInt64(chunk.blocks.count))
            #expect(chunk.codeWrites.allSatisfy { range.contains($0.eventIndex) })
            #expect(chunk.syscalls.allSatisfy { range.contains($0.eventIndex) })
            #expect(chunk.dataTouches.allSatisfy { range.contains($0.eventIndex) })
            blocks[chunk.thread, default: []] += chunk.blocks
            codeWrites[chunk.thread, default: []] += chunk.codeWrites
            syscalls[chunk.thread, default: []] += chunk.syscalls
            dataTouches[chunk.thread, default: []] += chunk.dataTouches
        }
        #expect(blocks == model.blocks.filter { !$0.value.isEmpty })
        #expect(codeWrites.filter { !$0.value.isEmpty } == model.codeWrites.mapValues { stableSorted($0, by: \.eventIndex) })
        #expect(syscalls.filter { !$0.value.isEmpty } == model.syscalls.mapValues { stableSorted($0, by: \.eventIndex) })
        #expect(dataTouches.filter { !$0.value.isEmpty } == model.dataTouches.mapValues { stableSorted($0, by: \.eventIndex) })
        #expect(shapes.map(\.0) == model.chunks.map(\.0))
        #expect(shapes.map(\.1) == model.chunks.map(\.1))
        #expect(shapes.map(\.2) == model.chunks.map(\.2))
        #expect(try reader.verify().isEmpty)

        // Summary figures worked out from what was written.
        let summary = try reader.summary()
        let executed = model.blocks.values.flatMap { $0 }
        #expect(summary.blocksExecuted == UInt64(executed.count))
        #expect(summary.instructions == executed.reduce(0) { $0 + UInt64(model.definitions[Int($1)].instructionCount) })
        #expect(summary.distinctBlocks == UInt64(Set(executed).count))
        #expect(summary.codePages == UInt64(Set(model.pages.map(\.address)).count))
        #expect(summary.codePageVersions == UInt64(model.pages.count))
        #expect(summary.codeWrites == UInt64(model.codeWrites.values.joined().count))
        #expect(summary.syscalls == UInt64(model.syscalls.values.joined().count))
        #expect(summary.dataTouches == UInt64(model.dataTouches.values.joined().count))
        #expect(summary.threads == UInt64(model.blocks.filter { !$0.value.isEmpty }.count))
        #expect(summary.chunks == UInt64(model.chunks.count))
        #expect(summary.fileBytes == FileCheck.fileSize(path))
        #expect(summary.blockCodecs == (model.chunks.isEmpty ? [] : [codec.description]))
        if summary.blocksExecuted > 0 {
            #expect(summary.bitsPerExecutedBlock == 8 * Double(summary.blockStreamBytes) / Double(summary.blocksExecuted))
        }

        // Code blobs are deduplicated: one per distinct page content.
        let blobs = try DatabaseQueue(path: path).read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM code_blobs") }
        #expect(blobs == Set(model.pages.map(\.bytes)).count)
    }

    @Test func summaryCountsAHandWorkedTrace() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let path = scratch.path("t.plextrace")
        let writer = try TraceWriter(path: path, metadata: sampleMetadata(), options: .init(chunkBlocks: 3))
        func block(_ insns: UInt32) -> BlockDefinition {
            BlockDefinition(address: 0x1000 + UInt64(insns), length: 2, instructionCount: insns, codeVersion: 0,
                            exitKind: .jmp, staticTarget: 0x1000, sensitiveCount: 0, cpuidCount: 0, bytes: [0xeb, 0xfe])
        }
        let a = try writer.define(block(2)), b = try writer.define(block(5)), unused = try writer.define(block(11))
        #expect(unused == 2)
        // Thread 1: a b a b a (5 blocks -> chunks of 3 + 2); thread 9: b (1 block).
        // An event may name a block not appended yet; it waits for that block's chunk.
        writer.record(thread: 1, codeWrite: CodeWrite(eventIndex: 2, address: 0x1004, size: 4))
        for id in [a, b, a, b, a] { try writer.append(thread: 1, block: id) }
        writer.record(thread: 1, syscall: SyscallEvent(eventIndex: 4, number: 60))
        writer.record(thread: 9, dataTouch: DataTouch(eventIndex: 0, page: 0x5000, reads: 1, writes: 0))
        try writer.append(thread: 9, block: b)
        try writer.addCodePage(CodePage(address: 0x1000, version: 0, bytes: [UInt8](repeating: 1, count: 4096)))
        try writer.addCodePage(CodePage(address: 0x1000, version: 1, bytes: [UInt8](repeating: 2, count: 4096)))
        try writer.addCodePage(CodePage(address: 0x2000, version: 0, bytes: [UInt8](repeating: 1, count: 4096)))
        try writer.finish(exitStatus: nil, signal: 9, note: "killed")

        let reader = try TraceReader(path: path)
        let summary = try reader.summary()
        #expect(summary.instructions == 2 + 5 + 2 + 5 + 2 + 5)
        #expect(summary.blocksExecuted == 6)
        #expect(summary.distinctBlocks == 2)
        #expect(summary.codePages == 2)
        #expect(summary.codePageVersions == 3)
        #expect(summary.codeWrites == 1)
        #expect(summary.syscalls == 1)
        #expect(summary.dataTouches == 1)
        #expect(summary.threads == 2)
        #expect(summary.chunks == 3)  // thread 1: [a b a], then at finish [b a] and thread 9's [b]
        #expect(reader.metadata.signal == 9)
        #expect(reader.metadata.exitStatus == nil)
        var chunks: [StreamChunk] = []
        try reader.forEachChunk { chunks.append($0) }
        #expect(chunks.map(\.thread) == [1, 1, 9])
        #expect(chunks[0].codeWrites == [CodeWrite(eventIndex: 2, address: 0x1004, size: 4)])
        #expect(chunks[1].syscalls == [SyscallEvent(eventIndex: 4, number: 60)])
        #expect(chunks[1].firstEventIndex == 3)
        #expect(chunks[2].dataTouches.count == 1)
    }

    @Test func summaryIsCurrentAfterEveryCommit() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let path = scratch.path("t.plextrace")
        let writer = try TraceWriter(path: path, metadata: sampleMetadata(), options: .init(chunkBlocks: 4))
        let id = try writer.define(BlockDefinition(address: 1, length: 1, instructionCount: 1, codeVersion: 0,
                                                   exitKind: .ret, staticTarget: nil, sensitiveCount: 0,
                                                   cpuidCount: 0, bytes: [0xc3]))
        for _ in 0..<10 { try writer.append(thread: 0, block: id) }
        // Two chunks of 4 committed automatically; 2 blocks pending.
        let reader = try TraceReader(path: path)
        #expect(try reader.summary().blocksExecuted == 8)
        #expect(try reader.summary().chunks == 2)
        try writer.flush()
        #expect(try reader.summary().blocksExecuted == 10)
        var count = 0
        try reader.forEachChunk { count += $0.blocks.count }
        #expect(count == 10)
        #expect(!reader.metadata.complete)
        writer.abandon(note: "test stopped")
        let reopened = try TraceReader(path: path)
        #expect(!reopened.metadata.complete)
        #expect(reopened.metadata.note == "test stopped")
    }
}
