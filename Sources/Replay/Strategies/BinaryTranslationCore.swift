import TraceModel

/// Binary translation with a code cache for dbt-nolink, dbt-link, dbt-ibtc and dbt-qemu (docs/strategies.md).
/// Translation unit: one trace block. A block exit is judged when the thread's next block is known.
///
/// The three variants translate the same blocks at the same moments (first execution, first after a
/// discard), flush and discard alike, dbt-ibtc links direct exits exactly as dbt-link does, and dbt-qemu links
/// the same-page ones among them exactly as dbt-link does (a link slot's history is the same). So one
/// replay keeps one code cache, one set of link slots and one per-block loop for all the variants it runs
/// (`BinaryTranslationFamily`), and each variant keeps only its own counters, plus the IBTC and the
/// return stacks for dbt-ibtc.
///
/// Exits that go to the dispatcher on every execution (syscall and far exits; under dbt-link also
/// returns and indirect branches; under dbt-nolink every exit) are counted from the engine's executions
/// per block in `finish`. The per-block loop follows only what depends on the path: translations,
/// links, the IBTC and the return stacks.
struct BinaryTranslationCore {
    enum Mode: Int, CaseIterable { case noLink, link, ibtc, qemu }

    private static let none = BlockID.max

    /// What the per-block loop does with a block's exit.
    private enum Route: UInt8 {
        /// Nothing on the path: counted in `finish` where a variant counts it.
        case counted
        /// Direct exits: the link slot used is taken (jmp, call), fall-through (split), or taken unless
        /// the next block starts at the fall-through address (jcc).
        case taken, fallThrough, jcc
        /// With dbt-ibtc: a direct call (pushes its return address, then as `taken`), a return (the return
        /// stack, then the IBTC), an indirect jump (the IBTC), an indirect call (push, then the IBTC).
        case call, ret, indirect, indirectCall
        /// With dbt-qemu and without dbt-ibtc: an indirect exit (ret, jmp_ind, call_ind), a TB lookup.
        case lookup
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

    /// One variant's counters and the slots of its causes (-1: the variant has no such cause).
    private struct Variant {
        let mode: Mode
        var sites: SiteCounters
        let dispatch: Int, syscall: Int, far: Int, link: Int, ibtcHit: Int, rasHit: Int, tbLookup: Int, write: Int, flush: Int
        let system: SystemCharges

        init(_ mode: Mode, blockCount: Int, system facts: SystemFacts?) {
            self.mode = mode
            var causes: [TrapCause] = switch mode {
            case .noLink: [.dispatch, .dispatchSyscall, .dispatchFar, .pfWrite, .flush]
            case .link: [.dispatch, .dispatchSyscall, .dispatchFar, .link, .pfWrite, .flush]
            case .ibtc: [.dispatch, .dispatchSyscall, .dispatchFar, .link, .ibtcHit, .rasHit, .pfWrite, .flush]
            case .qemu: [.dispatch, .dispatchSyscall, .dispatchFar, .link, .tbLookup, .pfWrite, .flush]
            }
            if facts != nil { causes += SystemCharges.causes(.binaryTranslation) }
            sites = SiteCounters(causes: causes, blockCount: blockCount)
            system = SystemCharges(.binaryTranslation, system: facts, sites: sites)
            dispatch = sites.slotIfCounted(.dispatch)
            syscall = sites.slotIfCounted(.dispatchSyscall)
            far = sites.slotIfCounted(.dispatchFar)
            link = sites.slotIfCounted(.link)
            ibtcHit = sites.slotIfCounted(.ibtcHit)
            rasHit = sites.slotIfCounted(.rasHit)
            tbLookup = sites.slotIfCounted(.tbLookup)
            write = sites.slotIfCounted(.pfWrite)
            flush = sites.slotIfCounted(.flush)
        }

        /// Whether this variant sends an exit of `kind` to the dispatcher on every execution.
        func dispatchesEveryTime(_ kind: UInt8) -> Bool {
            switch mode {
            case .noLink: true
            case .link: kind == ExitKind.syscall.rawValue || kind == ExitKind.far.rawValue
                || kind == ExitKind.ret.rawValue || kind == ExitKind.jmpInd.rawValue || kind == ExitKind.callInd.rawValue
            case .ibtc, .qemu: kind == ExitKind.syscall.rawValue || kind == ExitKind.far.rawValue
            }
        }
    }

    private let table: BlockTable
    private let executions: StateArray<UInt64>
    private let parameters: ReplayParameters
    /// The variants this replay runs, by `Mode.rawValue`.
    private var variants: [Variant?] = [nil, nil, nil, nil]
    /// Set up when the first chunk arrives (the variants are known by then).
    private var prepared = false
    /// Whether direct exits are linked (dbt-link, dbt-ibtc or dbt-qemu), whether the IBTC and return stacks
    /// run, and whether dbt-qemu's page rule and TB lookups run.
    private var linking = false
    private var ibtcOn = false
    private var qemuOn = false
    // The hot loop's counters, copied out of `variants` by `prepare`: link dispatches and links go to both
    // linking variants; IBTC and return-stack hits, and indirect dispatches, to dbt-ibtc only.
    private var linkSites: [(sites: SiteCounters, dispatch: Int, link: Int)] = []
    private var ibtcSites: SiteCounters?
    private var ibtcDispatch = -1, ibtcHitSlot = -1, rasHitSlot = -1
    // dbt-qemu's counters: its same-page direct exits count as dbt-link's do, the rest are TB lookups.
    private var qemuSites: SiteCounters?
    private var qemuDispatch = -1, qemuLink = -1, qemuLookupSlot = -1

    private var facts = StateArray<ExitFacts>(repeating: ExitFacts(address: 0, fallThrough: 0, instructions: 0,
                                                                   route: .counted, kind: 0), count: 0)
    /// Per block, the version of its translation: odd while translated, even while not; every translation
    /// and every discard adds one. A link or IBTC entry naming another version is stale, and a block whose
    /// version changed between its entry and its exit discarded its own translation meanwhile.
    private let versions: StateArray<UInt32>
    /// Two link slots per block: `links[2 * block]` taken, `links[2 * block + 1]` fall-through.
    private var links = StateArray<Link>(repeating: Link(), count: 0)
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
    private var ibtcMask: UInt64 = 0
    private var ibtc = StateArray<IBTCEntry>(repeating: IBTCEntry(), count: 0)
    private var rasDepth = 0
    private var threads: [ThreadState] = []
    private let systemFacts: SystemFacts?

    init(context: ReplayContext) {
        systemFacts = context.system
        table = context.table
        executions = context.executions
        parameters = context.parameters
        versions = StateArray(repeating: 0, count: table.count)
        liveBlocks = StateArray(repeating: 0, count: table.pageCount)
        listedBlocks = [[BlockID]](repeating: [], count: table.pageCount)
        listed = StateArray(repeating: 0, count: table.count)
        capacity = context.parameters.codeCache
    }

    /// Adds a variant; all of them join before the first chunk.
    mutating func join(_ mode: Mode) {
        precondition(!prepared, "a dbt variant joined after the replay started")
        if variants[mode.rawValue] == nil { variants[mode.rawValue] = Variant(mode, blockCount: table.count, system: systemFacts) }
    }

    private mutating func prepare() {
        prepared = true
        ibtcOn = variants[Mode.ibtc.rawValue] != nil
        qemuOn = variants[Mode.qemu.rawValue] != nil
        linking = ibtcOn || qemuOn || variants[Mode.link.rawValue] != nil
        for case let variant? in variants where variant.mode == .link || variant.mode == .ibtc {
            linkSites.append((variant.sites, variant.dispatch, variant.link))
        }
        if let variant = variants[Mode.ibtc.rawValue] {
            ibtcSites = variant.sites
            ibtcDispatch = variant.dispatch
            ibtcHitSlot = variant.ibtcHit
            rasHitSlot = variant.rasHit
        }
        if let variant = variants[Mode.qemu.rawValue] {
            qemuSites = variant.sites
            qemuDispatch = variant.dispatch
            qemuLink = variant.link
            qemuLookupSlot = variant.tbLookup
        }
        let table = self.table, linking = self.linking, ibtcOn = self.ibtcOn, qemuOn = self.qemuOn
        facts = StateArray((0..<table.count).map { b in
            let kind = table.exitKind[b]
            let route: Route = switch (kind, linking, ibtcOn) {
            case (_, false, _), (.syscall, _, _), (.far, _, _): .counted
            case (.call, _, true): .call
            case (.jmp, _, _), (.call, _, _): .taken
            case (.split, _, _): .fallThrough
            case (.jcc, _, _): .jcc
            // ret, jmp_ind, call_ind without dbt-ibtc: a TB lookup under dbt-qemu, the dispatcher every time
            // under dbt-link (counted in `finish`).
            case (_, _, false): qemuOn ? .lookup : .counted
            case (.ret, _, _): .ret
            case (.jmpInd, _, _): .indirect
            case (.callInd, _, _): .indirectCall
            }
            return ExitFacts(address: table.address[b], fallThrough: table.fallThrough[b],
                             instructions: table.instructions[b], route: route, kind: kind.rawValue)
        })
        if linking { links = StateArray(repeating: Link(), count: 2 * table.count) }
        if ibtcOn {
            ibtcMask = UInt64(parameters.ibtcSize - 1)
            ibtc = StateArray(repeating: IBTCEntry(), count: parameters.ibtcSize)
            rasDepth = parameters.rasDepth
        }
    }

    /// Adds one `cause` (a slot of `Variant`) at `block` for every variant this replay runs.
    private func addToAll(_ block: BlockID, _ slot: KeyPath<Variant, Int>) {
        for case let variant? in variants { variant.sites.add(block, variant[keyPath: slot]) }
    }

    mutating func replay(_ chunk: StreamChunk, thread: Int) {
        if !prepared { prepare() }
        if systemFacts != nil && !chunk.systemEvents.isEmpty {
            for case let variant? in variants { variant.system.replay(chunk, into: variant.sites) }
        }
        while threads.count <= thread { threads.append(ThreadState(ras: StateArray(repeating: 0, count: rasDepth))) }
        var state = threads[thread]
        chunk.blocks.withUnsafeBufferPointer { executed in
            if state.previous == Self.none, let first = executed.first {
                for index in variants.indices { variants[index]?.sites.addEntry(first, .dispatch) }  // a thread starts in the dispatcher
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
        // The thread's stream ended: its return-address stack is never read again (`finish` needs only
        // `previous`), so a trace of many threads holds one stack per live thread, not per thread.
        if chunk.endsThread && state.ras.count > 0 { state.ras = StateArray(repeating: 0, count: 0) }
        threads[thread] = state
    }

    private mutating func run(_ executed: UnsafeBufferPointer<BlockID>, _ range: Range<Int>, _ state: inout ThreadState) {
        guard let last = range.last else { return }
        // The arrays never move: their base pointers stay in registers while slow paths go through self.
        let facts = self.facts.pointer, versions = self.versions.pointer
        if !linking {
            for index in range where versions[Int(executed[index])] & 1 == 0 { translate(executed[index]) }
            state.previous = executed[last]
            return
        }
        let links = self.links.pointer, ibtc = self.ibtc.pointer, ras = state.ras.pointer
        let ibtcCounts = ibtcSites?.counts.pointer, ibtcWidth = ibtcSites?.width ?? 0
        let ibtcHitSlot = self.ibtcHitSlot, rasHitSlot = self.rasHitSlot
        let qemuOn = self.qemuOn, qemuCounts = qemuSites?.counts.pointer, qemuWidth = qemuSites?.width ?? 0
        let qemuLookupSlot = self.qemuLookupSlot
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
                /// dbt-qemu's lookup_and_goto_ptr: a hit when `to` is translated (judged before anything below
                /// translates it), else the dispatcher; a block that discarded itself exits to the dispatcher.
                func lookup() {
                    if intact && version & 1 == 1 { qemuCounts![f &* qemuWidth &+ qemuLookupSlot] &+= 1 }
                    else { qemuSites!.add(from, qemuDispatch) }
                }
                /// A direct exit through link slot `slot`: free when linked to `to`'s current translation.
                /// dbt-qemu chains it only when `to` starts on the 4 KiB page of `from`'s first byte.
                func direct(_ slot: Int) {
                    let link = links[slot]
                    let chained = qemuOn && (facts[t].address ^ facts[f].address) >> 12 == 0
                    if qemuOn && !chained { lookup() }
                    if !intact { dispatchUnlinked(from, qemu: chained) }
                    else if link.target != to || link.version != version { dispatchAndLink(from, to: to, slot: slot, qemu: chained) }
                }
                /// An indirect exit (dbt-ibtc): an IBTC hit, or the dispatcher. (An entry naming `to` holds its address.)
                func indirect() {
                    let entry = ibtc[Int(facts[t].address & ibtcMask)]
                    if !intact { ibtcSites!.add(from, ibtcDispatch) }
                    else if entry.block == to && entry.version == version { ibtcCounts![f &* ibtcWidth &+ ibtcHitSlot] &+= 1 }
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
                case .indirect:
                    if qemuOn { lookup() }
                    indirect()
                case .indirectCall:
                    if qemuOn { lookup() }
                    push()
                    indirect()
                case .lookup: lookup()
                case .ret:
                    if qemuOn { lookup() }
                    var predicted: UInt64? = nil
                    if rasDepth > 0 && rasCount > 0 {
                        rasTop = rasTop == 0 ? rasDepth - 1 : rasTop - 1
                        rasCount -= 1
                        predicted = ras[rasTop]
                    }
                    if intact && predicted == facts[t].address && version & 1 == 1 {
                        ibtcCounts![f &* ibtcWidth &+ rasHitSlot] &+= 1
                    } else { indirect() }
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

    /// A direct exit of a block that discarded its own translation: the dispatcher, no link (for dbt-qemu
    /// too when `qemu`: its exit was a chained one).
    @inline(never)
    private func dispatchUnlinked(_ from: BlockID, qemu: Bool) {
        for variant in linkSites { variant.sites.add(from, variant.dispatch) }
        if qemu { qemuSites!.add(from, qemuDispatch) }
    }

    /// A direct exit that is not linked to `to`'s current translation: dispatch, translate, link (for
    /// dbt-qemu too when `qemu`: the exit is one it chains).
    @inline(never)
    private mutating func dispatchAndLink(_ from: BlockID, to: BlockID, slot: Int, qemu: Bool) {
        for variant in linkSites { variant.sites.add(from, variant.dispatch) }
        if qemu { qemuSites!.add(from, qemuDispatch) }
        if !isTranslated(to) { translate(to) }
        // A flush during that translation discarded `from` too: nothing left to patch.
        guard isTranslated(from) else { return }
        for variant in linkSites { variant.sites.add(from, variant.link) }
        if qemu { qemuSites!.add(from, qemuLink) }
        links[slot] = Link(target: to, version: versions[Int(to)])
    }

    /// An indirect exit the IBTC did not resolve (dbt-ibtc): dispatch, translate, fill the entry.
    @inline(never)
    private mutating func dispatchAndFill(_ from: BlockID, to: BlockID) {
        let target = facts[Int(to)].address
        ibtcSites!.add(from, ibtcDispatch)
        if !isTranslated(to) { translate(to) }
        ibtc[Int(target & ibtcMask)] = IBTCEntry(tag: target, block: to, version: versions[Int(to)])
    }

    private func isTranslated(_ block: BlockID) -> Bool { versions[Int(block)] & 1 == 1 }

    private mutating func translate(_ block: BlockID) {
        let b = Int(block)
        let size = UInt64(facts[b].instructions)
        if capacity > 0 && cacheUsed + size > capacity && cacheUsed > 0 {
            addToAll(block, \.flush)
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
        if linking {
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
            addToAll(block, \.write)
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
    /// every execution, a thread's last one included (they end threads); the other exits a variant
    /// dispatches every time do on every execution but a thread's last (recording stopped there and where
    /// control went is unknown).
    mutating func finish() {
        if !prepared { prepare() }
        let facts = self.facts
        for case let variant? in variants {
            variant.system.finish(executions, into: variant.sites)
            variant.sites.addPerExecution(executions) { block in
                let kind = facts[block].kind
                guard variant.dispatchesEveryTime(kind) else { return nil }
                return switch kind {
                case ExitKind.syscall.rawValue: (variant.syscall, 1)
                case ExitKind.far.rawValue: (variant.far, 1)
                default: (variant.dispatch, 1)
                }
            }
            for state in threads where state.previous != Self.none {
                let kind = facts[Int(state.previous)].kind
                if variant.dispatchesEveryTime(kind) && kind != ExitKind.syscall.rawValue && kind != ExitKind.far.rawValue {
                    variant.sites.add(state.previous, variant.dispatch, 0 &- 1)  // its last execution has no exit
                }
            }
        }
    }

    func counts(_ mode: Mode) -> StrategyCounts {
        let variant = variants[mode.rawValue]!
        var result = variant.system.counts(variant.sites, table: table)
        result.translated = translatedInstructions
        result.translations = translations
        return result
    }
}

/// The one `BinaryTranslationCore` of a replay, shared by the dbt strategies it runs. The engine hands each
/// chunk to every strategy in turn and then calls `finish` on each: the first variant's call does the work
/// for all of them, and the others' calls of the same round are skipped.
final class BinaryTranslationFamily {
    private var core: BinaryTranslationCore
    private var members = 0
    /// Calls still to skip in the current round (a chunk, or the finish).
    private var pending = 0

    private init(context: ReplayContext) { core = BinaryTranslationCore(context: context) }

    /// The replay's family, made by the first dbt strategy and joined by the others.
    static func join(_ context: ReplayContext, as mode: BinaryTranslationCore.Mode) -> BinaryTranslationFamily {
        let family = context.shared { BinaryTranslationFamily(context: context) }
        family.core.join(mode)
        family.members += 1
        return family
    }

    func replay(_ chunk: StreamChunk, thread: Int) {
        if pending == 0 {
            core.replay(chunk, thread: thread)
            pending = members
        }
        pending -= 1
    }

    func finish() {
        if pending == 0 {
            core.finish()
            pending = members
        }
        pending -= 1
    }

    func counts(_ mode: BinaryTranslationCore.Mode) -> StrategyCounts { core.counts(mode) }
}
