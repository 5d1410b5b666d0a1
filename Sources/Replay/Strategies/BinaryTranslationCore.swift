import TraceModel

/// Binary translation with a code cache, shared by dbt-nolink, dbt-link and dbt-ibtc (docs/strategies.md).
/// Translation unit: one trace block. A block exit is judged when the thread's next block is known.
struct BinaryTranslationCore {
    enum Mode { case noLink, link, ibtc }

    private static let none = BlockID.max

    private let mode: Mode
    private let table: BlockTable
    private var sites: SiteCounters
    private let dispatchSlot: Int, syscallSlot: Int, farSlot: Int, linkSlot: Int
    private let ibtcSlot: Int, rasSlot: Int, writeSlot: Int, flushSlot: Int

    // Per block.
    private var translated: [Bool]
    /// Changes whenever the block's translation is discarded: a link or IBTC entry naming an older
    /// generation is stale.
    private var generation: [UInt32]
    /// Direct-exit links: taken (jmp, call, jcc taken) and fall-through (jcc not taken, split).
    private var takenTarget: [BlockID], takenGeneration: [UInt32]
    private var fallTarget: [BlockID], fallGeneration: [UInt32]
    // Per page: translated blocks overlapping it.
    private var liveBlocks: [UInt32]
    // Code cache.
    private let capacity: UInt64
    private var cacheUsed: UInt64 = 0
    private var translatedInstructions: UInt64 = 0
    private var translations: UInt64 = 0
    // IBTC, direct-mapped: index = target & (size - 1).
    private let ibtcMask: UInt64
    private var ibtcTag: [UInt64], ibtcBlock: [BlockID], ibtcGeneration: [UInt32]
    // Per thread.
    private let rasDepth: Int
    private var previous: [BlockID] = []
    private var previousGeneration: [UInt32] = []
    /// Return-address stacks, `rasDepth` entries per thread, flat.
    private var ras: [UInt64] = []
    private var rasTop: [Int] = []
    private var rasCount: [Int] = []

    init(context: ReplayContext, mode: Mode) {
        self.mode = mode
        table = context.table
        let causes: [TrapCause] = switch mode {
        case .noLink: [.dispatch, .dispatchSyscall, .dispatchFar, .pfWrite, .flush]
        case .link: [.dispatch, .dispatchSyscall, .dispatchFar, .link, .pfWrite, .flush]
        case .ibtc: [.dispatch, .dispatchSyscall, .dispatchFar, .link, .ibtcHit, .rasHit, .pfWrite, .flush]
        }
        sites = SiteCounters(causes: causes, blockCount: table.count)
        func slot(_ cause: TrapCause) -> Int { causes.firstIndex(of: cause) ?? -1 }
        dispatchSlot = slot(.dispatch)
        syscallSlot = slot(.dispatchSyscall)
        farSlot = slot(.dispatchFar)
        linkSlot = slot(.link)
        ibtcSlot = slot(.ibtcHit)
        rasSlot = slot(.rasHit)
        writeSlot = slot(.pfWrite)
        flushSlot = slot(.flush)
        let n = table.count
        translated = [Bool](repeating: false, count: n)
        generation = [UInt32](repeating: 0, count: n)
        takenTarget = [BlockID](repeating: Self.none, count: n)
        takenGeneration = [UInt32](repeating: 0, count: n)
        fallTarget = [BlockID](repeating: Self.none, count: n)
        fallGeneration = [UInt32](repeating: 0, count: n)
        liveBlocks = [UInt32](repeating: 0, count: table.pageCount)
        capacity = context.parameters.codeCache
        let ibtcSize = mode == .ibtc ? context.parameters.ibtcSize : 1
        ibtcMask = UInt64(ibtcSize - 1)
        ibtcTag = [UInt64](repeating: UInt64.max, count: ibtcSize)
        ibtcBlock = [BlockID](repeating: Self.none, count: ibtcSize)
        ibtcGeneration = [UInt32](repeating: 0, count: ibtcSize)
        rasDepth = context.parameters.rasDepth
    }

    private mutating func addThread(_ thread: Int) {
        while previous.count <= thread {
            previous.append(Self.none)
            previousGeneration.append(0)
            ras.append(contentsOf: repeatElement(0, count: max(rasDepth, 1)))
            rasTop.append(0)
            rasCount.append(0)
        }
    }

    mutating func replay(_ chunk: StreamChunk, thread: Int) {
        addThread(thread)
        var from = previous[thread]
        var fromGeneration = previousGeneration[thread]
        let writes = chunk.codeWrites
        var nextWrite = 0
        let first = chunk.firstEventIndex
        for (index, block) in chunk.blocks.enumerated() {
            if from == Self.none {
                sites.addEntry(block, .dispatch)  // a thread starts in the dispatcher
            } else {
                exit(from, fromGeneration: fromGeneration, to: block, thread: thread)
            }
            if !translated[Int(block)] { translate(block) }
            from = block
            fromGeneration = generation[Int(block)]
            let event = first &+ UInt64(index)
            while nextWrite < writes.count && writes[nextWrite].eventIndex <= event {
                codeWrite(writes[nextWrite], by: block)
                nextWrite += 1
            }
        }
        previous[thread] = from
        previousGeneration[thread] = fromGeneration
    }

    /// How control leaves `from` for `to`.
    @inline(__always)
    private mutating func exit(_ from: BlockID, fromGeneration: UInt32, to: BlockID, thread: Int) {
        let f = Int(from)
        let kind = table.exitKind[f]
        if kind == .syscall { sites.add(from, syscallSlot); return }
        if kind == .far { sites.add(from, farSlot); return }
        // The return stack follows every call and return, whatever path the exit then takes.
        var predictedReturn: UInt64? = nil
        if mode == .ibtc {
            if kind == .call || kind == .callInd { pushReturn(table.fallThrough[f], thread: thread) }
            if kind == .ret { predictedReturn = popReturn(thread: thread) }
        }
        // The block's own store discarded its translation while it ran: its exit goes to the dispatcher.
        if mode == .noLink || generation[f] != fromGeneration {
            sites.add(from, dispatchSlot)
            return
        }
        let t = Int(to)
        switch kind {
        case .jmp, .call, .jcc, .split:
            let taken = kind == .jmp || kind == .call || (kind == .jcc && table.address[t] != table.fallThrough[f])
            if taken {
                if takenTarget[f] == to && takenGeneration[f] == generation[t] && translated[t] { return }
            } else {
                if fallTarget[f] == to && fallGeneration[f] == generation[t] && translated[t] { return }
            }
            sites.add(from, dispatchSlot)
            if !translated[t] { translate(to) }
            // A flush during that translation discarded `from` too: nothing left to patch.
            guard translated[f] else { return }
            sites.add(from, linkSlot)
            if taken {
                takenTarget[f] = to
                takenGeneration[f] = generation[t]
            } else {
                fallTarget[f] = to
                fallGeneration[f] = generation[t]
            }
        case .ret:
            if mode == .ibtc {
                if let predicted = predictedReturn, predicted == table.address[t], translated[t] {
                    sites.add(from, rasSlot)
                    return
                }
                indirect(from, to: to)
            } else {
                sites.add(from, dispatchSlot)
            }
        case .jmpInd, .callInd:
            if mode == .ibtc { indirect(from, to: to) } else { sites.add(from, dispatchSlot) }
        case .syscall, .far:
            break  // handled above
        }
    }

    /// The IBTC path of an indirect exit: hit, or dispatch and fill.
    @inline(__always)
    private mutating func indirect(_ from: BlockID, to: BlockID) {
        let t = Int(to)
        let target = table.address[t]
        let index = Int(target & ibtcMask)
        if ibtcTag[index] == target && ibtcBlock[index] == to && ibtcGeneration[index] == generation[t] && translated[t] {
            sites.add(from, ibtcSlot)
            return
        }
        sites.add(from, dispatchSlot)
        if !translated[t] { translate(to) }
        ibtcTag[index] = target
        ibtcBlock[index] = to
        ibtcGeneration[index] = generation[t]
    }

    private mutating func pushReturn(_ address: UInt64, thread: Int) {
        guard rasDepth > 0 else { return }
        // A full stack drops its oldest entry: the ring buffer overwrites it.
        ras[thread &* rasDepth &+ rasTop[thread]] = address
        rasTop[thread] = rasTop[thread] + 1 == rasDepth ? 0 : rasTop[thread] + 1
        rasCount[thread] = min(rasCount[thread] + 1, rasDepth)
    }

    private mutating func popReturn(thread: Int) -> UInt64? {
        guard rasDepth > 0, rasCount[thread] > 0 else { return nil }
        rasTop[thread] = rasTop[thread] == 0 ? rasDepth - 1 : rasTop[thread] - 1
        rasCount[thread] -= 1
        return ras[thread &* rasDepth &+ rasTop[thread]]
    }

    private mutating func translate(_ block: BlockID) {
        let b = Int(block)
        let size = UInt64(table.instructions[b])
        if capacity > 0 && cacheUsed + size > capacity && cacheUsed > 0 {
            sites.add(block, flushSlot)
            for other in 0..<table.count where translated[other] { discard(other) }
        }
        translated[b] = true
        cacheUsed += size
        translatedInstructions += size
        translations += 1
        liveBlocks[Int(table.page[b])] += 1
        if table.lastPage[b] != table.page[b] { liveBlocks[Int(table.lastPage[b])] += 1 }
    }

    private mutating func discard(_ b: Int) {
        translated[b] = false
        generation[b] &+= 1
        takenTarget[b] = Self.none
        fallTarget[b] = Self.none
        cacheUsed -= UInt64(table.instructions[b])
        liveBlocks[Int(table.page[b])] -= 1
        if table.lastPage[b] != table.page[b] { liveBlocks[Int(table.lastPage[b])] -= 1 }
    }

    private mutating func codeWrite(_ write: CodeWrite, by block: BlockID) {
        forEachPage(of: write, table) { page in
            guard liveBlocks[page] > 0 else { return }
            sites.add(block, writeSlot)
            for other in table.blocksOnPage[page] where translated[Int(other)] { discard(Int(other)) }
        }
    }

    /// End of trace: a thread's last exit is charged only for syscall and far exits (the ones that end
    /// threads); any other last block means recording stopped and where control went is unknown.
    mutating func finish() {
        for from in previous where from != Self.none {
            switch table.exitKind[Int(from)] {
            case .syscall: sites.add(from, syscallSlot)
            case .far: sites.add(from, farSlot)
            default: break
            }
        }
    }

    func counts() -> StrategyCounts {
        var result = StrategyCounts()
        sites.summarize(into: &result, table: table)
        result.translated = translatedInstructions
        result.translations = translations
        return result
    }
}
