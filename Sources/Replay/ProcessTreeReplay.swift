import CostModel
import TraceModel
import TraceStore

/// One process's share of a replay (docs/strategies.md, "Process trees").
public struct ProcessResults: Sendable, Equatable {
    public var process: TraceProcess
    /// Its own blocks and instructions (a forked child's inherited prefix not included).
    public var summary: ReplaySummary
    public var strategies: [StrategyResult]

    public init(process: TraceProcess, summary: ReplaySummary, strategies: [StrategyResult]) {
        self.process = process
        self.summary = summary
        self.strategies = strategies
    }
}

/// The replay of a trace of several processes: each process is its own address space, so each gets its
/// own strategy instances (pages, scans, translations, links, code caches). A process started by execve
/// (or the recorded program) starts empty; a forked child starts from its parent's state at the fork: its
/// instances first replay the parent's stream up to the fork point (recursively for a fork of a fork),
/// and what they count there is the parent's, not the child's (subtracted). Totals are the sums.
enum ProcessTreeReplay {
    static func run(source: some ReplaySource, path: String, types: [any ReplayStrategy.Type],
                    table: BlockTable, code: CodeImage, parameters: ReplayParameters, profiles: [CostProfile],
                    processes: [TraceProcess]) throws -> TraceResults {
        let metadata = source.metadata
        // Every chunk, per thread in sequence order (a tree's streams are replayed one process at a time).
        var chunks: [UInt32: [StreamChunk]] = [:]
        var summary = ReplaySummary()
        summary.distinctBlocks = UInt64(table.count)
        summary.codePages = UInt64(table.pageCount)
        let blockCount = UInt32(truncatingIfNeeded: table.count)
        let needsTouches = metadata.hasDataTouches && types.contains { $0.needsDataTouches }
        try source.forEachChunk(dataTouches: needsTouches) { chunk in
            guard chunk.blocks.allSatisfy({ $0 < blockCount }) else {
                throw ReplayError("\(path): chunk \(chunk.sequence) (thread \(chunk.thread)) names a block id beyond the \(table.count) defined blocks")
            }
            chunks[chunk.thread, default: []].append(chunk)
        }
        let clock = ContinuousClock()
        let start = clock.now
        var totals = [StrategyCounts](repeating: StrategyCounts(), count: types.count)
        var perProcess: [ProcessResults] = []
        for process in processes {
            let run = Run(types: types, metadata: metadata, table: table, code: code, parameters: parameters)
            var baseline = [StrategyCounts](repeating: StrategyCounts(), count: types.count)
            if process.origin == .fork, let parent = process.parent {
                try replayPrefix(of: process, parent: parent, processes: processes, chunks: chunks, into: run)
                if let point = process.forkPoint, let first = process.threads.first {
                    run.alias(thread: first, as: point.thread)
                }
                // Strategies settle some counts only in finish(): the prefix's counts come from a run of
                // their own that ends at the fork point.
                let prefix = Run(types: types, metadata: metadata, table: table, code: code, parameters: parameters)
                try replayPrefix(of: process, parent: parent, processes: processes, chunks: chunks, into: prefix)
                prefix.finish()
                baseline = prefix.counts()
            }
            var own = ReplaySummary()
            let streams = process.threads.flatMap { chunks[$0] ?? [] }.sorted { $0.sequence < $1.sequence }
            for chunk in streams {
                run.feed(chunk)
                own.blocks &+= UInt64(chunk.blocks.count)
                own.chunks += 1
                own.codeWrites &+= UInt64(chunk.codeWrites.count)
                own.dataTouches &+= chunk.dataTouchCount
                own.syscalls &+= UInt64(chunk.syscalls.count)
                for block in chunk.blocks { own.instructions &+= UInt64(table.instructions[Int(block)]) }
            }
            run.finish()
            own.threads = UInt64(process.threads.count)
            own.distinctBlocks = summary.distinctBlocks
            own.codePages = summary.codePages
            let counts = zip(run.counts(), baseline).map { $0.since($1) }
            for index in totals.indices { totals[index].add(counts[index]) }
            perProcess.append(ProcessResults(process: process, summary: own,
                                             strategies: results(types, counts, own, parameters, profiles)))
            summary.blocks &+= own.blocks
            summary.instructions &+= own.instructions
            summary.chunks += own.chunks
            summary.codeWrites &+= own.codeWrites
            summary.dataTouches &+= own.dataTouches
            summary.syscalls &+= own.syscalls
            summary.threads &+= own.threads
        }
        summary.seconds = Double((clock.now - start).components.attoseconds) / 1e18
            + Double((clock.now - start).components.seconds)
        var results = TraceResults(path: path, metadata: metadata, parameters: parameters, summary: summary,
                                   strategies: results(types, totals, summary, parameters, profiles))
        results.processes = perProcess
        return results
    }

    /// Replays what `process`'s parent ran before forking it (and, for a fork of a fork, what came before).
    private static func replayPrefix(of process: TraceProcess, parent: Int, processes: [TraceProcess],
                                     chunks: [UInt32: [StreamChunk]], into run: Run) throws {
        let mother = processes[parent]
        if mother.origin == .fork, let grandparent = mother.parent {
            try replayPrefix(of: mother, parent: grandparent, processes: processes, chunks: chunks, into: run)
            if let point = mother.forkPoint, let first = mother.threads.first { run.alias(thread: first, as: point.thread) }
        }
        guard let point = process.forkPoint else { return }
        let forking = chunks[point.thread] ?? []
        // The forking thread's blocks before the fork point; the parent's other threads up to the chunk
        // holding it (commit order is all a trace keeps across threads).
        let cutChunk = forking.first { $0.firstEventIndex + UInt64($0.blocks.count) >= point.eventIndex }
        let limit = cutChunk?.sequence ?? UInt64.max
        let streams = mother.threads.flatMap { chunks[$0] ?? [] }.sorted { $0.sequence < $1.sequence }
        for chunk in streams where chunk.sequence <= limit {
            if chunk.thread == point.thread, chunk.firstEventIndex + UInt64(chunk.blocks.count) > point.eventIndex {
                let cut = Int(point.eventIndex - min(point.eventIndex, chunk.firstEventIndex))
                if cut > 0, var slices = Optional(ChunkSlices(chunk, size: cut)), let head = slices.next() { run.feed(head) }
            } else if chunk.thread != point.thread || chunk.firstEventIndex < point.eventIndex {
                run.feed(chunk)
            }
        }
    }

    private static func results(_ types: [any ReplayStrategy.Type], _ counts: [StrategyCounts], _ summary: ReplaySummary,
                                _ parameters: ReplayParameters, _ profiles: [CostProfile]) -> [StrategyResult] {
        let all = parameters.all
        return types.enumerated().map { index, type in
            StrategyResult(name: type.name, translator: type.translator,
                           parameters: all.filter { type.parameterNames.contains($0.key) },
                           counts: counts[index], summary: summary, profiles: profiles)
        }
    }

    /// One address space's strategy instances.
    private final class Run {
        let context: ReplayContext
        var active: [(index: Int, strategy: any ReplayStrategy)] = []
        var unavailable: [Int: String] = [:]
        let count: Int
        var threadIndex: [UInt32: Int] = [:]

        init(types: [any ReplayStrategy.Type], metadata: TraceMetadata, table: BlockTable, code: CodeImage,
             parameters: ReplayParameters) {
            context = ReplayContext(parameters: parameters, table: table, code: code, arch: metadata.arch)
            count = types.count
            for (index, type) in types.enumerated() {
                if type.needsDataTouches && !metadata.hasDataTouches {
                    unavailable[index] = "needs --data-pages: the trace has no data-touch events"
                } else {
                    active.append((index, type.init(context: context)))
                }
            }
        }

        /// `thread` continues the stream of `other` (a forked child's first thread: its forking thread).
        func alias(thread: UInt32, as other: UInt32) {
            if let index = threadIndex[other] { threadIndex[thread] = index }
        }

        func feed(_ chunk: StreamChunk) {
            let thread: Int
            if let known = threadIndex[chunk.thread] { thread = known } else {
                thread = threadIndex.count
                threadIndex[chunk.thread] = thread
            }
            let executions = context.executions.pointer
            for block in chunk.blocks { executions[Int(block)] &+= 1 }
            if chunk.blocks.count <= ReplayEngine.sliceBlocks {
                for entry in active { entry.strategy.replay(chunk, thread: thread) }
            } else {
                var slices = ChunkSlices(chunk, size: ReplayEngine.sliceBlocks)
                while let slice = slices.next() {
                    for entry in active { entry.strategy.replay(slice, thread: thread) }
                }
            }
        }

        func finish() { for entry in active { entry.strategy.finish() } }

        func counts() -> [StrategyCounts] {
            var result = [StrategyCounts](repeating: StrategyCounts(), count: count)
            for (index, reason) in unavailable { result[index] = StrategyCounts(unavailable: reason) }
            for entry in active { result[entry.index] = entry.strategy.counts() }
            return result
        }
    }
}

extension StrategyCounts {
    /// What was counted after `base` was taken (a forked child's own counts, without its inherited prefix).
    func since(_ base: StrategyCounts) -> StrategyCounts {
        guard unavailable == nil else { return self }
        var result = StrategyCounts()
        for (cause, value) in counts { result.counts[cause] = value &- (base.counts[cause] ?? 0) }
        result.scanned = scanned &- base.scanned
        result.scans = scans &- base.scans
        result.selfWrites = selfWrites &- base.selfWrites
        result.translated = translated &- base.translated
        result.translations = translations &- base.translations
        result.sites = Self.sites(Self.merge(sites.map { ($0.address, $0.counts) }, base.sites.map { ($0.address, $0.counts) }, sign: -1))
        result.pages = Self.pages(Self.merge(pages.map { ($0.page, $0.counts) }, base.pages.map { ($0.page, $0.counts) }, sign: -1))
        return result
    }

    /// Adds another process's counts (sites and pages by address).
    mutating func add(_ other: StrategyCounts) {
        if let reason = other.unavailable { unavailable = reason; return }
        for (cause, value) in other.counts { counts[cause, default: 0] &+= value }
        scanned &+= other.scanned
        scans &+= other.scans
        selfWrites &+= other.selfWrites
        translated &+= other.translated
        translations &+= other.translations
        sites = Self.sites(Self.merge(sites.map { ($0.address, $0.counts) }, other.sites.map { ($0.address, $0.counts) }, sign: 1))
        pages = Self.pages(Self.merge(pages.map { ($0.page, $0.counts) }, other.pages.map { ($0.page, $0.counts) }, sign: 1))
    }

    private static func merge(_ a: [(UInt64, [TrapCause: UInt64])], _ b: [(UInt64, [TrapCause: UInt64])],
                              sign: Int) -> [UInt64: [TrapCause: UInt64]] {
        var merged: [UInt64: [TrapCause: UInt64]] = [:]
        for (address, counts) in a { merged[address, default: [:]].merge(counts, uniquingKeysWith: &+) }
        for (address, counts) in b {
            for (cause, value) in counts {
                merged[address, default: [:]][cause, default: 0] = sign > 0
                    ? (merged[address]?[cause] ?? 0) &+ value : (merged[address]?[cause] ?? 0) &- min(value, merged[address]?[cause] ?? 0)
            }
        }
        return merged.compactMapValues { counts in
            let kept = counts.filter { $0.value > 0 }
            return kept.isEmpty ? nil : kept
        }
    }

    private static func sites(_ merged: [UInt64: [TrapCause: UInt64]]) -> [TrapSite] {
        merged.map { TrapSite(address: $0.key, counts: $0.value) }
            .sorted { ($0.total, $1.address) > ($1.total, $0.address) }
    }

    private static func pages(_ merged: [UInt64: [TrapCause: UInt64]]) -> [PageTraps] {
        merged.map { PageTraps(page: $0.key, counts: $0.value) }.sorted { $0.page < $1.page }
    }
}
