import CostModel
import TraceModel
import TraceStore
import X86Decode

/// Why a replay could not run; one line naming the trace and the problem.
public struct ReplayError: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// One set of strategies under one set of parameters, replayed side by side with other variants in one
/// pass (a sweep's grid point; docs/sweep.md).
public struct ReplayVariant: Sendable, Equatable {
    public var strategies: [String]
    public var parameters: ReplayParameters
    public init(strategies: [String], parameters: ReplayParameters) {
        self.strategies = strategies
        self.parameters = parameters
    }
}

/// Streams a trace once and feeds every selected strategy (docs/strategies.md).
public enum ReplayEngine {
    /// Replays the trace file at `tracePath`.
    public static func run(tracePath: String, strategies: [String], parameters: ReplayParameters = ReplayParameters(),
                           profiles: [CostProfile] = CostProfile.builtIn) throws -> TraceResults {
        let reader = try TraceReader(path: tracePath)
        guard !reader.isFastForm else { throw TraceStoreError.notPacked(path: tracePath) }
        return try run(source: reader, path: tracePath, strategies: strategies, parameters: parameters, profiles: profiles)
    }

    /// Replays any source (a file reader or an `InMemoryTrace`); `path` only names it in results and errors.
    public static func run(source: some ReplaySource, path: String, strategies names: [String],
                           parameters: ReplayParameters = ReplayParameters(),
                           profiles: [CostProfile] = CostProfile.builtIn) throws -> TraceResults {
        try run(source: source, path: path, variants: [ReplayVariant(strategies: names, parameters: parameters)],
                profiles: profiles)[0]
    }

    /// Replays every variant (strategies under their own parameters) in the same single pass over the
    /// source: each variant has its own strategy instances and shared state, as if replayed alone, and the
    /// results come in variant order. A process tree is replayed once per variant.
    public static func run(source: some ReplaySource, path: String, variants: [ReplayVariant],
                           profiles: [CostProfile] = CostProfile.builtIn) throws -> [TraceResults] {
        let typesOfVariant = try variants.map { try resolve($0.strategies) }
        guard !variants.isEmpty else { throw ReplayError("no strategy selected") }
        let metadata = source.metadata
        // A system trace's kernel blocks are decoded once more for their privileged instructions.
        let isSystem = metadata.guestMode == .system
        let definitions = try source.blockDefinitions(includingBytes: isSystem)
        let decoder = X86Decoder(arch: metadata.arch)
        var tables: [UInt64: BlockTable] = [:]
        for variant in variants where tables[variant.parameters.pageSize] == nil {
            tables[variant.parameters.pageSize] = BlockTable(definitions: definitions, pageSize: variant.parameters.pageSize) { block in
                block.lastInstructionOffset ?? lastInstructionOffset(of: block, decoder: decoder)
            }
        }
        let pages = try source.codePages()
        let code = CodeImage(pages: pages)
        if typesOfVariant.joined().contains(where: { $0.scansPages }) {
            var checked = (page: UInt64.max, version: UInt32.max)
            for (id, block) in definitions.enumerated() {
                let page = block.pageAddress & ~UInt64(CodePage.size - 1)
                // Blocks that follow each other mostly share a page: each run of them is checked once.
                if (page, block.codeVersion) == checked { continue }
                checked = (page, block.codeVersion)
                if code.bytes(page: page, version: block.codeVersion) == nil {
                    throw ReplayError("\(path): block \(id) at 0x\(String(block.address, radix: 16)) needs code page 0x\(String(page, radix: 16)) version \(block.codeVersion), which the trace does not hold")
                }
            }
        }
        let system = isSystem ? SystemFacts(definitions: definitions, arch: metadata.arch) : nil
        let processes = try source.processes()
        if processes.count > 1 {
            return try zip(variants, typesOfVariant).map { variant, types in
                try ProcessTreeReplay.run(source: source, path: path, types: types, table: tables[variant.parameters.pageSize]!,
                                          code: code, parameters: variant.parameters, profiles: profiles, processes: processes)
            }
        }
        let blockCount = definitions.count
        let executions = StateArray<UInt64>(repeating: 0, count: blockCount)
        var active: [any ReplayStrategy] = []
        var unavailable: [[Int: String]] = []
        var activeOfVariant: [[(index: Int, strategy: any ReplayStrategy)]] = []
        for (variant, types) in zip(variants, typesOfVariant) {
            let context = ReplayContext(parameters: variant.parameters, table: tables[variant.parameters.pageSize]!,
                                        code: code, arch: metadata.arch, executions: executions, system: system)
            var mine: [(index: Int, strategy: any ReplayStrategy)] = []
            var reasons: [Int: String] = [:]
            for (index, type) in types.enumerated() {
                if type.needsDataTouches && !metadata.hasDataTouches {
                    reasons[index] = "needs --data-pages: the trace has no data-touch events"
                } else {
                    mine.append((index, type.init(context: context)))
                }
            }
            active += mine.map(\.strategy)
            activeOfVariant.append(mine)
            unavailable.append(reasons)
        }

        var summary = ReplaySummary()
        summary.distinctBlocks = UInt64(blockCount)
        var threadIndex: [UInt32: Int] = [:]
        let sliceBlocks = Self.sliceBlocks
        let clock = ContinuousClock()
        let start = clock.now
        let needsTouches = active.contains { type(of: $0).needsDataTouches }
        try source.forEachChunk(dataTouches: needsTouches) { chunk in
            let thread: Int
            if let known = threadIndex[chunk.thread] { thread = known } else {
                thread = threadIndex.count
                threadIndex[chunk.thread] = thread
            }
            // Checked once here, so strategies may index per-block state by these ids without checks.
            let limit = UInt32(truncatingIfNeeded: blockCount)
            let valid = chunk.blocks.withUnsafeBufferPointer { blocks in
                let counts = executions.pointer
                for block in blocks {
                    guard block < limit else { return false }
                    counts[Int(block)] &+= 1
                }
                return true
            }
            guard valid else {
                throw ReplayError("\(path): chunk \(chunk.sequence) (thread \(chunk.thread)) names a block id beyond the \(blockCount) defined blocks")
            }
            summary.blocks &+= UInt64(chunk.blocks.count)
            summary.chunks += 1
            summary.codeWrites &+= UInt64(chunk.codeWrites.count)
            summary.dataTouches &+= chunk.dataTouchCount
            summary.syscalls &+= UInt64(chunk.syscalls.count)
            if !chunk.systemEvents.isEmpty { summary.addSystemEvents(chunk.systemEvents) }
            if chunk.blocks.count <= sliceBlocks {
                for strategy in active { strategy.replay(chunk, thread: thread) }
            } else {
                var slices = ChunkSlices(chunk, size: sliceBlocks)
                while let slice = slices.next() {
                    for strategy in active { strategy.replay(slice, thread: thread) }
                }
            }
        }
        for strategy in active { strategy.finish() }
        let anyTable = tables.values.first!
        for block in 0..<blockCount { summary.instructions &+= executions[block] &* UInt64(anyTable.instructions[block]) }
        if let system {
            var split = summary.system ?? SystemSummary()
            for block in 0..<blockCount where system.isKernel(block) {
                split.kernelBlocks &+= executions[block]
                split.kernelInstructions &+= executions[block] &* UInt64(anyTable.instructions[block])
            }
            summary.system = split
        }
        summary.seconds = Double((clock.now - start).components.attoseconds) / 1e18
            + Double((clock.now - start).components.seconds)
        summary.threads = UInt64(threadIndex.count)

        return variants.indices.map { v in
            let parameters = variants[v].parameters
            let types = typesOfVariant[v]
            var own = summary
            own.codePages = UInt64(tables[parameters.pageSize]!.pageCount)
            var rawCounts = [StrategyCounts](repeating: StrategyCounts(), count: types.count)
            for (index, reason) in unavailable[v] { rawCounts[index] = StrategyCounts(unavailable: reason) }
            for entry in activeOfVariant[v] { rawCounts[entry.index] = entry.strategy.counts() }
            let all = parameters.all
            let results = types.enumerated().map { index, type in
                StrategyResult(name: type.name, translator: type.translator,
                               parameters: all.filter { type.parameterNames.contains($0.key) },
                               counts: rawCounts[index], summary: own, profiles: profiles)
            }
            return TraceResults(path: path, metadata: metadata, parameters: parameters, summary: own, strategies: results)
        }
    }

    /// Blocks per slice of a large chunk: every strategy walks the slice while it is still in the cache,
    /// instead of each streaming the whole chunk (megabytes) from memory in turn.
    static let sliceBlocks = 1 << 14

    /// Strategy types for names ("all" selects every strategy); duplicates are dropped.
    public static func resolve(_ names: [String]) throws -> [any ReplayStrategy.Type] {
        var types: [any ReplayStrategy.Type] = []
        for name in names {
            if name == "all" {
                for type in StrategyRegistry.all where !types.contains(where: { $0 == type }) { types.append(type) }
                continue
            }
            guard let type = StrategyRegistry.strategy(named: name) else {
                throw ReplayError("unknown strategy \"\(name)\" (\(StrategyRegistry.names.joined(separator: ", ")), all)")
            }
            if !types.contains(where: { $0 == type }) { types.append(type) }
        }
        if types.isEmpty { throw ReplayError("no strategy selected") }
        return types
    }

    /// Byte offset of a block's last instruction, by decoding its bytes (0 when they do not decode).
    static func lastInstructionOffset(of block: BlockDefinition, decoder: X86Decoder) -> UInt32 {
        var offset = 0
        let count = Int(block.instructionCount)
        guard count > 1 else { return 0 }
        return block.bytes.withUnsafeBytes { raw in
            for _ in 1..<count {
                guard offset < raw.count,
                      let instruction = decoder.decode(UnsafeRawBufferPointer(rebasing: raw[offset...]),
                                                       at: block.address &+ UInt64(offset)) else { return 0 }
                offset += instruction.length
            }
            return UInt32(offset)
        }
    }
}
