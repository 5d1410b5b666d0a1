import TraceModel

/// Binary translation with a code cache, shared by dbt-nolink, dbt-link and dbt-ibtc (docs/strategies.md).
/// Translation unit: one trace block. A block exit is judged when the thread's next block is known.
///
/// Exits that go to the dispatcher on every execution (syscall and far exits; under dbt-link also
/// returns and indirect branches; under dbt-nolink every exit) are counted from the engine's executions
/// per block in `finish`. The per-block loop follows only what depends on the path: translations,
/// links, the IBTC and the return stacks.
struct BinaryTranslationCore {
    enum Mode { case noLink, link, ibtc }

    private static let none = BlockID.max

    /// What the per-block loop does with a block's exit under this strategy.
    private enum Route: UInt8 {
        /// Counted in `finish`, the same on every execution.
        case counted
        /// Direct exits: the link slot used is taken (jmp, call), fall-through (split), or taken unless
        /// the next block starts at the fall-through address (jcc).
        case taken, fallThrough, jcc
        /// dbt-ibtc: a direct call (pushes its return address, then as `taken`), a return (the return
        /// stack, then the IBTC), an indirect jump (the IBTC), an indirect call (push, then the IBTC).
        case call, ret, indirect, indirectCall
    }

    /// What an exit needs to know about its block, together in one place.
    private struct ExitFacts {
        var address: UInt64
        var fallThrough: UInt64
        var instructions: UInt32
        var route: Route
        /// `ExitKind.rawValue`, for `finish`.
        var kind: UInt8
    }

    /// One direct-exit link slot: the target's block and the version of its translation when linked.
    private struct Link {
        var target = BinaryTranslationCore.none
        var version: UInt32 = 0
    }

    /// IBTC entry, direct-mapped by target address.
    private struct IBTCEntry {
        var tag = UInt64.max
        var block = BinaryTranslationCore.none
        var version: UInt32 = 0
    }

    /// Where a thread stands between two of its chunks.
    private struct ThreadState {
        var previous = BinaryTranslationCore.none
        var previousVersion: UInt32 = 0
        /// Return-address stack: a ring of `rasDepth` entries (the oldest is overwritten when full).
        var ras: StateArray<UInt64>
        var rasTop = 0
        var rasCount = 0
    }

    private let mode: Mode
    private let table: BlockTable
    private let executions: StateArray<UInt64>
    private var sites: SiteCounters
    private let dispatchSlot: Int, syscallSlot: Int, farSlot: Int, linkSlot: Int
    private let ibtcSlot: Int, rasSlot: Int, writeSlot: Int, flushSlot: Int

    private let facts: StateArray<ExitFacts>
    /// Per block, the version of its translation: odd while translated, even while not; every translation
    /// and every discard adds one. A link or IBTC entry naming another version is stale, and a block whose
    /// version changed between its entry and its exit discarded its own translation meanwhile.
    private let versions: StateArray<UInt32>
    /// Two link slots per block: `links[2 * block]` taken, `links[2 * block + 1]` fall-through.
    private let links: StateArray<Link>
    /// Per page: translated blocks overlapping it.
    private let liveBlocks: StateArray<UInt32>
    /// Per page: the blocks translated since the page was last written (a superset of its live blocks:
    /// a flush or a write to a block's other page leaves it listed), so a code write visits only these.
    private var listedBlocks: [[BlockID]]
    /// Per block, whether it is in `listedBlocks` of its first page (bit 0) and of its last page (bit 1).
    private let listed: StateArray<UInt8>
    // Code cache.
    private let capacity: UInt64
    private var cacheUsed: UInt64 = 0
    private var translatedInstructions: UInt64 = 0
    private var translations: UInt64 = 0
    // IBTC, direct-mapped: index = target & (size - 1).
    private let ibtcMask: UInt64
    private let ibtc: StateArray<IBTCEntry>
    private let rasDepth: Int
    private var threads: [ThreadState] = []

    init(context: ReplayContext, mode: Mode) {
        self.mode = mode
        table = context.table
        executions = context.executions
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
        let table = context.table
        facts = StateArray((0..<table.count).map { b in
            let kind = table.exitKind[b]
            let route: Route = switch (mode, kind) {
            case (.noLink, _), (_, .syscall), (_, .far): .counted
            case (.ibtc, .call): .call
            case (_, .jmp), (_, .call): .taken
            case (_, .split): .fallThrough
            case (_, .jcc): .jcc
            case (.link, _): .counted  // ret, jmp_ind, call_ind: the dispatcher every time
            case (.ibtc, .ret): .ret
            case (.ibtc, .jmpInd): .indirect
            case (.ibtc, _): .indirectCall
            }
            return ExitFacts(address: table.address[b], fallThrough: table.fallThrough[b],
                             instructions: table.instructions[b], route: route, kind: kind.rawValue)
        })
        versions = StateArray(repeating: 0, count: table.count)
        links = StateArray(repeating: Link(), count: mode == .noLink ? 0 : 2 * table.count)
        liveBlocks = StateArray(repeating: 0, count: table.pageCount)
        listedBlocks = [[BlockID]](repeating: [], count: table.pageCount)
        listed = StateArray(repeating: 0, count: table.count)
        capacity = context.parameters.codeCache
        let ibtcSize = mode == .ibtc ? context.parameters.ibtcSize : 1
        ibtcMask = UInt64(ibtcSize - 1)
        ibtc = StateArray(repeating: IBTCEntry(), count: ibtcSize)
        rasDepth = mode == .ibtc ? context.parameters.rasDepth : 0
    }

    mutating func replay(_ chunk: StreamChunk, thread: Int) {
        while threads.count <= thread { threads.append(ThreadState(ras: StateArray(repeating: 0, count: rasDepth))) }
        var state = threads[thread]
        chunk.blocks.withUnsafeBufferPointer { executed in
            if state.previous == Self.none, let first = executed.first {
                sites.addEntry(first, .dispatch)  // a thread starts in the dispatcher
            }
            // Runs of blocks between code writes; a write applies after its block is entered.
            var next = 0
            for write in chunk.codeWrites {
                let at = chunk.position(ofEvent: write.eventIndex)
                guard at < executed.count else { break }
                if at >= next {
                    run(executed, next..<at + 1, &state)
                    next = at + 1
                }
                codeWrite(write, by: executed[at])
            }
            run(executed, next..<executed.count, &state)
        }
        threads[thread] = state
    }

    private mutating func run(_ executed: UnsafeBufferPointer<BlockID>, _ range: Range<Int>, _ state: inout ThreadState) {
        guard let last = range.last else { return }
        // The arrays never move: their base pointers stay in registers while slow paths go through self.
        let facts = self.facts.pointer, versions = self.versions.pointer
        if mode == .noLink {
            for index in range where versions[Int(executed[index])] & 1 == 0 { translate(executed[index]) }
            state.previous = executed[last]
            return
        }
        let links = self.links.pointer, ibtc = self.ibtc.pointer, ras = state.ras.pointer
        var from = state.previous, fromVersion = state.previousVersion
        var rasTop = state.rasTop, rasCount = state.rasCount
        for index in range {
            let to = executed[index], t = Int(to)
            if from != Self.none {
                let f = Int(from)
                let version = versions[t]
                // False when the block's own store discarded its translation while it ran: its exit then
                // goes to the dispatcher, whatever the links, the IBTC or the return stack say.
                let intact = versions[f] == fromVersion
                /// A direct exit through link slot `slot`: free when linked to `to`'s current translation.
                func direct(_ slot: Int) {
                    let link = links[slot]
                    if !intact { sites.add(from, dispatchSlot) }
                    else if link.target != to || link.version != version { dispatchAndLink(from, to: to, slot: slot) }
                }
                /// An indirect exit: an IBTC hit, or the dispatcher. (An entry naming `to` holds its address.)
                func indirect() {
                    let entry = ibtc[Int(facts[t].address & ibtcMask)]
                    if !intact { sites.add(from, dispatchSlot) }
                    else if entry.block == to && entry.version == version { sites.add(from, ibtcSlot) }
                    else { dispatchAndFill(from, to: to) }
                }
                // The return stack follows every call and return, whatever path the exit then takes.
                func push() {
                    guard rasDepth > 0 else { return }
                    ras[rasTop] = facts[f].fallThrough
                    rasTop = rasTop + 1 == rasDepth ? 0 : rasTop + 1
                    rasCount = min(rasCount + 1, rasDepth)
                }
                // One switch on the route: block kinds follow each other irregularly, so every extra
                // branch on them is a likely misprediction.
                switch facts[f].route {
                case .counted: break
                case .taken: direct(2 * f)
                case .fallThrough: direct(2 * f + 1)
                case .jcc: direct(facts[t].address == facts[f].fallThrough ? 2 * f + 1 : 2 * f)
                case .call:
                    push()
                    direct(2 * f)
                case .indirect: indirect()
                case .indirectCall:
                    push()
                    indirect()
                case .ret:
                    var predicted: UInt64? = nil
                    if rasDepth > 0 && rasCount > 0 {
                        rasTop = rasTop == 0 ? rasDepth - 1 : rasTop - 1
                        rasCount -= 1
                        predicted = ras[rasTop]
                    }
                    if intact && predicted == facts[t].address && version & 1 == 1 { sites.add(from, rasSlot) }
                    else { indirect() }
                }
            }
            if versions[t] & 1 == 0 { translate(to) }
            from = to
            fromVersion = versions[t]
        }
        state.previous = from
        state.previousVersion = fromVersion
        state.rasTop = rasTop
        state.rasCount = rasCount
    }

    /// A direct exit that is not linked to `to`'s current translation: dispatch, translate, link.
    @inline(never)
    private mutating func dispatchAndLink(_ from: BlockID, to: BlockID, slot: Int) {
        sites.add(from, dispatchSlot)
        if !isTranslated(to) { translate(to) }
        // A flush during that translation discarded `from` too: nothing left to patch.
        guard isTranslated(from) else { return }
        sites.add(from, linkSlot)
        links[slot] = Link(target: to, version: versions[Int(to)])
    }

    /// An indirect exit the IBTC did not resolve: dispatch, translate, fill the entry.
    @inline(never)
    private mutating func dispatchAndFill(_ from: BlockID, to: BlockID) {
        let target = facts[Int(to)].address
        sites.add(from, dispatchSlot)
        if !isTranslated(to) { translate(to) }
        ibtc[Int(target & ibtcMask)] = IBTCEntry(tag: target, block: to, version: versions[Int(to)])
    }

    private func isTranslated(_ block: BlockID) -> Bool { versions[Int(block)] & 1 == 1 }

    private mutating func translate(_ block: BlockID) {
        let b = Int(block)
        let size = UInt64(facts[b].instructions)
        if capacity > 0 && cacheUsed + size > capacity && cacheUsed > 0 {
            sites.add(block, flushSlot)
            for other in 0..<table.count where isTranslated(BlockID(other)) { discard(other) }
        }
        versions[b] &+= 1
        cacheUsed += size
        translatedInstructions += size
        translations += 1
        liveBlocks[Int(table.page[b])] += 1
        if listed[b] & 1 == 0 {
            listed[b] |= 1
            listedBlocks[Int(table.page[b])].append(block)
        }
        if table.lastPage[b] != table.page[b] {
            liveBlocks[Int(table.lastPage[b])] += 1
            if listed[b] & 2 == 0 {
                listed[b] |= 2
                listedBlocks[Int(table.lastPage[b])].append(block)
            }
        }
    }

    private mutating func discard(_ b: Int) {
        versions[b] &+= 1
        if mode != .noLink {
            links[2 * b] = Link()
            links[2 * b + 1] = Link()
        }
        cacheUsed -= UInt64(facts[b].instructions)
        liveBlocks[Int(table.page[b])] -= 1
        if table.lastPage[b] != table.page[b] { liveBlocks[Int(table.lastPage[b])] -= 1 }
    }

    private mutating func codeWrite(_ write: CodeWrite, by block: BlockID) {
        forEachPage(of: write, table) { page in
            guard liveBlocks[page] > 0 else { return }
            sites.add(block, writeSlot)
            // Every translated block overlapping the page is listed on it (the order of discards is immaterial).
            let blocks = listedBlocks[page]
            listedBlocks[page].removeAll(keepingCapacity: true)
            for other in blocks {
                let o = Int(other)
                listed[o] &= Int(table.page[o]) == page ? ~1 : ~2
                if isTranslated(other) { discard(o) }
            }
        }
    }

    /// End of trace: the exits the loop did not follow. Syscall and far exits go to the dispatcher on
    /// every execution, a thread's last one included (they end threads); the other counted exits do on
    /// every execution but a thread's last (recording stopped there and where control went is unknown).
    mutating func finish() {
        sites.addPerExecution(executions) { [facts, syscallSlot, farSlot, dispatchSlot] block in
            switch (facts[block].route, facts[block].kind) {
            case (.counted, ExitKind.syscall.rawValue): (syscallSlot, 1)
            case (.counted, ExitKind.far.rawValue): (farSlot, 1)
            case (.counted, _): (dispatchSlot, 1)
            default: nil
            }
        }
        for state in threads where state.previous != Self.none {
            let last = Int(state.previous)
            if facts[last].route == .counted && facts[last].kind != ExitKind.syscall.rawValue
                && facts[last].kind != ExitKind.far.rawValue {
                sites.add(state.previous, dispatchSlot, 0 &- 1)  // its last execution has no exit
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
