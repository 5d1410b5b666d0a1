import TraceModel

/// The page-fault translation proposal, shared by pagefault-nx and pagefault-legacy (docs/strategies.md):
/// a page is translated (scanned) when control first enters it; untranslated parts of a translated page
/// hold INT3; branches run native; a store to a translated page makes it untranslated again.
struct PageFaultCore {
    enum Mode { case nx, legacyNotPresent, legacyMapData }

    /// A page touched by data (keyed by its number in the replay's page size).
    private struct DataPage {
        /// Dense index of the replay page when code lies on it, else -1.
        var codePage: Int32
        /// map-data: mapped for data (pages holding code keep this in `dataMapped`).
        var mapped = false
        var pfData: UInt64 = 0
        var dataMap: UInt64 = 0
    }

    private let mode: Mode
    private let table: BlockTable
    private let executions: StateArray<UInt64>
    private var pages: ScannedPages
    private var sites: SiteCounters
    private let exitSlot: [Int8]
    private let sensitiveSlot: Int, execSlot: Int, fillSlot: Int, writeSlot: Int
    private let dataSlot: Int, mapSlot: Int, escapeSlot: Int
    /// A page re-translated by the fault taken when its own writer resumed on it: its next uncovered
    /// entry is scanned without another trap (docs/strategies.md, "code writes").
    private var scanPending: [Bool]
    /// map-data: pages (dense index) mapped for data and not translated.
    private var dataMapped: [Bool]
    private var dataPageIndex = PageNumberTable()
    private var dataPages: [DataPage] = []
    /// Page (dense index) of each thread's last block so far, -1 before its first (escapes count page entries).
    private var previousPage: [Int] = []
    private let system: SystemCharges
    /// pf_writes by a block starting on the page it wrote (`StrategyCounts.selfWrites`).
    private var selfWrites: UInt64 = 0

    init(context: ReplayContext, mode: Mode) {
        self.mode = mode
        table = context.table
        executions = context.executions
        pages = ScannedPages(context: context)
        var causes: [TrapCause] = [.pfExec, .int3Fill, .syscall, .far, .sensitive, .pageCross, .pfWrite]
        switch mode {
        case .nx: break
        case .legacyNotPresent: causes.append(.pfData)
        case .legacyMapData: causes += [.dataMap, .escapes]
        }
        if context.system != nil { causes += SystemCharges.causes(.softwareTrap) }
        sites = SiteCounters(causes: causes, blockCount: table.count)
        system = SystemCharges(.softwareTrap, system: context.system, sites: sites)
        sensitiveSlot = sites.slotIfCounted(.sensitive)
        execSlot = sites.slotIfCounted(.pfExec)
        fillSlot = sites.slotIfCounted(.int3Fill)
        writeSlot = sites.slotIfCounted(.pfWrite)
        dataSlot = sites.slotIfCounted(.pfData)
        mapSlot = sites.slotIfCounted(.dataMap)
        escapeSlot = sites.slotIfCounted(.escapes)
        var exitSlot = [Int8](repeating: -1, count: table.count)
        for block in 0..<table.count {
            let cause: TrapCause? = if table.lastPage[block] != table.page[block] { .pageCross }
                else if table.exitKind[block] == .syscall { .syscall }
                else if table.exitKind[block] == .far { .far }
                else { nil }
            if let cause { exitSlot[block] = Int8(sites.slotIfCounted(SystemCharges.exitCause(cause, block, context.system))) }
        }
        self.exitSlot = exitSlot
        scanPending = [Bool](repeating: false, count: table.pageCount)
        dataMapped = [Bool](repeating: false, count: table.pageCount)
    }

    /// Blocks are entered in runs between side events; a block's data touches, then its code writes,
    /// apply after its entry (docs/strategies.md, ordering inside a block). Exit traps and sensitive
    /// instructions cost the same on every execution of a block: `finish` counts them from the executions.
    mutating func replay(_ chunk: StreamChunk, thread: Int) {
        system.replay(chunk, into: sites)
        while previousPage.count <= thread { previousPage.append(-1) }
        let writes = chunk.codeWrites
        let touches = mode == .nx ? [] : chunk.dataTouches
        chunk.blocks.withUnsafeBufferPointer { executed in
            var next = 0, nextWrite = 0, nextTouch = 0
            while true {
                let writeAt = nextWrite < writes.count ? chunk.position(ofEvent: writes[nextWrite].eventIndex) : Int.max
                let touchAt = nextTouch < touches.count ? chunk.position(ofEvent: touches[nextTouch].eventIndex) : Int.max
                let at = min(writeAt, touchAt)
                guard at < executed.count else { break }
                if at >= next {
                    enter(executed, next..<at + 1, thread: thread)
                    next = at + 1
                }
                while nextTouch < touches.count && chunk.position(ofEvent: touches[nextTouch].eventIndex) == at {
                    dataTouch(touches[nextTouch], by: executed[at])
                    nextTouch += 1
                }
                while nextWrite < writes.count && chunk.position(ofEvent: writes[nextWrite].eventIndex) == at {
                    codeWrite(writes[nextWrite], by: executed[at])
                    nextWrite += 1
                }
            }
            enter(executed, next..<executed.count, thread: thread)
            if let last = executed.last { previousPage[thread] = Int(table.page[Int(last)]) }
        }
    }

    @inline(__always)
    private mutating func enter(_ executed: UnsafeBufferPointer<BlockID>, _ range: Range<Int>, thread: Int) {
        let knownCovered = pages.knownCoveredFlags
        for index in range where !knownCovered[Int(executed[index])] {
            let b = Int(executed[index])
            let page = Int(table.page[b])
            let previous = index > 0 ? Int(table.page[Int(executed[index - 1])]) : previousPage[thread]
            enter(executed[index], page: page, entering: page != previous)
        }
    }

    /// Control reached `block`, whose start is not known covered.
    private mutating func enter(_ block: BlockID, page: Int, entering: Bool) {
        let b = Int(block)
        if pages.valid[page] {
            if pages.checkCovered(b) { return }
            if scanPending[page] {
                scanPending[page] = false
            } else {
                sites.add(block, fillSlot)
            }
            pages.scan(from: b)
            return
        }
        if mode == .legacyMapData && dataMapped[page] {
            // Present and executable without NX: the code runs unscanned, nobody notices.
            if entering { sites.add(block, escapeSlot) }
            return
        }
        sites.add(block, execSlot)
        pages.scan(from: b)
    }

    private mutating func dataTouch(_ touch: DataTouch, by block: BlockID) {
        let accesses = UInt64(touch.reads) + UInt64(touch.writes)
        if accesses == 0 { return }
        let number = touch.page >> table.pageShift
        let index: Int
        if let known = dataPageIndex.index(of: number) { index = known } else {
            index = dataPageIndex.insert(number).index
            dataPages.append(DataPage(codePage: table.pageIndex(ofAddress: touch.page).map { Int32($0) } ?? -1))
        }
        let page = Int(dataPages[index].codePage)
        if page >= 0 && pages.valid[page] { return }  // translated: present (stores to it are code writes)
        switch mode {
        case .nx: return
        case .legacyNotPresent:
            sites.add(block, dataSlot, accesses)
            dataPages[index].pfData &+= accesses
        case .legacyMapData:
            if page >= 0 {
                if dataMapped[page] { return }
                dataMapped[page] = true
            } else {
                if dataPages[index].mapped { return }
                dataPages[index].mapped = true
            }
            sites.add(block, mapSlot)
            dataPages[index].dataMap &+= 1
        }
    }

    private mutating func codeWrite(_ write: CodeWrite, by block: BlockID) {
        forEachPage(of: write, table) { page in
            guard pages.valid[page] else { return }
            sites.add(block, writeSlot)
            pages.invalidate(page: page)
            scanPending[page] = false
            if mode == .legacyMapData { dataMapped[page] = true }  // mapped writable so the store completes
            if Int(table.page[Int(block)]) == page { selfWrites &+= 1 }
            if Int(table.page[Int(block)]) == page && mode != .legacyMapData {
                // The writer resumes on the page it made untranslated: that fetch faults at once.
                sites.add(block, execSlot)
                pages.revalidateEmpty(page: page)
                scanPending[page] = true
            }
        }
    }

    mutating func finish() {
        sites.addExitAndSensitiveTraps(executions, exitSlot: exitSlot, sensitiveSlot: sensitiveSlot, table: table)
        system.finish(executions, into: sites)
        // Data-page counts go to the pages table by the page touched (summarize groups by replay page).
        let numbers = dataPageIndex.keysByIndex()
        for (index, page) in dataPages.enumerated() {
            let address = numbers[index] << table.pageShift
            if page.pfData > 0 { sites.addDataPage(address, .pfData, page.pfData) }
            if page.dataMap > 0 { sites.addDataPage(address, .dataMap, page.dataMap) }
        }
    }

    func counts() -> StrategyCounts {
        var result = system.counts(sites, table: table)
        result.scanned = pages.scanned
        result.scans = pages.scans
        result.selfWrites = selfWrites
        return result
    }
}
