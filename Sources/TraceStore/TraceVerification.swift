import GRDB
import TraceModel

extension TraceReader {
    /// Reads every chunk and lists each one that cannot be read back (checksum, sizes, decoding), without
    /// stopping at the first; an empty list means every chunk is good. When they are, checks what a replay
    /// needs beyond them and throws `TraceStoreError.damaged` naming the first problem: sequence numbers
    /// dense from 0, the summary's figures equal to what the chunks hold (chunks deleted from a thread's end
    /// leave no gap in its stream, only in the totals), every module row, every code page version whole (its
    /// blob present and inflating to exactly one page) and the code page version of every block.
    ///
    /// Time follows the file: each chunk is decoded once with its caps, each page inflated once into a
    /// 4 KiB page; memory is one chunk, a bit per block definition and a key per page version.
    public func verify() throws -> [ChunkProblem] {
        try snapshot { db in
            var decoder = try self.chunkDecoder(db)
            var counted = ChunkTotals(definitions: decoder.definitions)
            var problems: [ChunkProblem] = []
            var gap: String?
            let rows = try Row.fetchCursor(db, sql: ChunkDecoder.selectSQL(schemaVersion: self.schemaVersion))
            while let row = try rows.next() {
                let sequence = ChunkDecoder.sequence(of: row)
                if gap == nil && sequence != counted.chunks {
                    gap = counted.chunks == 0
                        ? "the first chunk is \(sequence), not 0 (chunks are missing)"
                        : "chunk \(sequence) follows chunk \(counted.chunks - 1) (chunks are missing)"
                }
                counted.chunks = sequence + 1
                do {
                    counted.add(try decoder.decode(row))
                } catch {
                    problems.append(ChunkProblem(sequence: sequence, thread: ChunkDecoder.thread(of: row),
                                                 reason: "\(error)"))
                }
            }
            guard problems.isEmpty else { return problems }
            if let gap { throw TraceStoreError.damaged(path: self.path, detail: gap) }
            try self.checkSummary(db, against: counted)
            _ = try self.modules()
            try self.checkCodePages(db, definitions: decoder.definitions)
            return []
        }
    }

    /// The summary row against what the chunks hold.
    private func checkSummary(_ db: Database, against counted: ChunkTotals) throws {
        let summary = try self.summary()
        let streamBytes = try Int64.fetchOne(db, sql: "SELECT total(length(blocks)) FROM chunks") ?? 0
        let pairs: [(String, UInt64, UInt64)] = [
            ("chunks", summary.chunks, UInt64(counted.chunks)),
            ("executed blocks", summary.blocksExecuted, counted.blocks),
            ("instructions", summary.instructions, counted.instructions),
            ("distinct executed blocks", summary.distinctBlocks, counted.distinctBlocks),
            ("threads", summary.threads, UInt64(counted.threads.count)),
            ("code writes", summary.codeWrites, counted.codeWrites),
            ("syscalls", summary.syscalls, counted.syscalls),
            ("data touches", summary.dataTouches, counted.dataTouches),
            ("system events", summary.systemEvents, counted.systemEvents),
            ("block stream bytes", summary.blockStreamBytes, UInt64(max(0, streamBytes))),
        ]
        if let (name, declared, found) = pairs.first(where: { $0.1 != $0.2 }) {
            let hint = declared > found ? " (chunks are missing)" : ""
            throw TraceStoreError.damaged(path: path, detail: "its summary counts \(declared) \(name) but the "
                                          + "chunks hold \(found)\(hint)")
        }
    }

    /// Every page version inflates to one page (a missing blob or a bomb throws, naming the page); the
    /// summary's page counts match; every block's code page version is present.
    private func checkCodePages(_ db: Database, definitions: [BlockDefinition]) throws {
        var versions: Set<PageVersion> = []
        var addresses: Set<UInt64> = []
        try forEachCodePage(db, where: nil) { page in
            versions.insert(PageVersion(address: page.address, version: page.version))
            addresses.insert(page.address)
        }
        let summary = try self.summary()
        if summary.codePages != UInt64(addresses.count) || summary.codePageVersions != UInt64(versions.count) {
            throw TraceStoreError.damaged(path: path, detail: "its summary counts \(summary.codePageVersions) "
                                          + "versions of \(summary.codePages) code pages but the file holds "
                                          + "\(versions.count) of \(addresses.count)")
        }
        for (id, block) in definitions.enumerated() {
            let page = block.pageAddress & ~UInt64(CodePage.size - 1)
            guard versions.contains(PageVersion(address: page, version: block.codeVersion)) else {
                throw TraceStoreError.damaged(path: path, detail: "block \(id) at 0x\(String(block.address, radix: 16)) "
                                              + "needs code page 0x\(String(page, radix: 16)) version "
                                              + "\(block.codeVersion), which the file does not hold")
            }
        }
    }
}

private struct PageVersion: Hashable {
    var address: UInt64
    var version: UInt32
}

/// What the decoded chunks hold, counted as the writer counts its summary.
private struct ChunkTotals {
    let instructionCounts: [UInt32]
    /// One bit per block definition: executed at least once.
    var executed: [UInt64]
    /// The next expected sequence number (chunks seen so far when they are dense).
    var chunks: Int64 = 0
    var blocks: UInt64 = 0
    var instructions: UInt64 = 0
    var distinctBlocks: UInt64 = 0
    var threads: Set<UInt32> = []
    var codeWrites: UInt64 = 0
    var syscalls: UInt64 = 0
    var dataTouches: UInt64 = 0
    var systemEvents: UInt64 = 0

    init(definitions: [BlockDefinition]) {
        instructionCounts = definitions.map(\.instructionCount)
        executed = [UInt64](repeating: 0, count: (definitions.count + 63) / 64)
    }

    /// The decoder checked every id against the definitions.
    mutating func add(_ chunk: StreamChunk) {
        blocks += UInt64(chunk.blocks.count)
        threads.insert(chunk.thread)
        codeWrites += UInt64(chunk.codeWrites.count)
        syscalls += UInt64(chunk.syscalls.count)
        dataTouches += UInt64(chunk.dataTouches.count)
        systemEvents += UInt64(chunk.systemEvents.count)
        var instructions = self.instructions, distinct = distinctBlocks
        instructionCounts.withUnsafeBufferPointer { counts in
            executed.withUnsafeMutableBufferPointer { bits in
                for id in chunk.blocks {
                    instructions &+= UInt64(counts[Int(id)])
                    let word = Int(id >> 6), mask = UInt64(1) << UInt64(id & 63)
                    if bits[word] & mask == 0 {
                        bits[word] |= mask
                        distinct += 1
                    }
                }
            }
        }
        self.instructions = instructions
        distinctBlocks = distinct
    }
}
