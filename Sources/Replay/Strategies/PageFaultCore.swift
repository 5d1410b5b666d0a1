import TraceModel

/// The page-fault translation proposal, shared by pagefault-nx and pagefault-legacy (docs/strategies.md):
/// a page is translated (scanned) when control first enters it; untranslated parts of a translated page
/// hold INT3; branches run native; a store to a translated page makes it untranslated again.
struct PageFaultCore {
    enum Mode { case nx, legacyNotPresent, legacyMapData }

    private let mode: Mode
    private let table: BlockTable
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
    /// map-data: data pages holding no code (page numbers) that are mapped.
    private var mappedDataOnly: Set<UInt64> = []
    /// Page (dense index) of each thread's previous block, -1 at its start (escapes count page entries).
    private var previousPage: [Int] = []

    init(context: ReplayContext, mode: Mode) {
        self.mode = mode
        table = context.table
        pages = ScannedPages(context: context)
        var causes: [TrapCause] = [.pfExec, .int3Fill, .syscall, .far, .sensitive, .pageCross, .pfWrite]
        switch mode {
        case .nx: break
        case .legacyNotPresent: causes.append(.pfData)
        case .legacyMapData: causes += [.dataMap, .escapes]
        }
        sites = SiteCounters(causes: causes, blockCount: table.count)
        func slot(_ cause: TrapCause) -> Int { causes.firstIndex(of: cause) ?? -1 }
        sensitiveSlot = slot(.sensitive)
        execSlot = slot(.pfExec)
        fillSlot = slot(.int3Fill)
        writeSlot = slot(.pfWrite)
        dataSlot = slot(.pfData)
        mapSlot = slot(.dataMap)
        escapeSlot = slot(.escapes)
        var exitSlot = [Int8](repeating: -1, count: table.count)
        for block in 0..<table.count {
            let cause: TrapCause? = if table.lastPage[block] != table.page[block] { .pageCross }
                else if table.exitKind[block] == .syscall { .syscall }
                else if table.exitKind[block] == .far { .far }
                else { nil }
            if let cause { exitSlot[block] = Int8(slot(cause)) }
        }
        self.exitSlot = exitSlot
        scanPending = [Bool](repeating: false, count: table.pageCount)
        dataMapped = [Bool](repeating: false, count: table.pageCount)
    }

    mutating func replay(_ chunk: StreamChunk, thread: Int) {
        while previousPage.count <= thread { previousPage.append(-1) }
        var lastPage = previousPage[thread]
        let writes = chunk.codeWrites, touches = chunk.dataTouches
        var nextWrite = 0, nextTouch = 0
        let first = chunk.firstEventIndex
        let legacy = mode != .nx
        table.sensitive.withUnsafeBufferPointer { sensitive in
            exitSlot.withUnsafeBufferPointer { exitSlot in
                table.page.withUnsafeBufferPointer { pageOf in
                    for (index, block) in chunk.blocks.enumerated() {
                        let b = Int(block)
                        let page = Int(pageOf[b])
                        if !pages.isKnownCovered(b) { enter(block, page: page, entering: page != lastPage) }
                        lastPage = page
                        let sensitiveCount = sensitive[b]
                        if sensitiveCount != 0 { sites.add(block, sensitiveSlot, UInt64(sensitiveCount)) }
                        let event = first &+ UInt64(index)
                        // Data accesses are judged against the page states at the block's entry, then its
                        // code writes apply (docs/strategies.md, ordering inside a block).
                        if legacy {
                            while nextTouch < touches.count && touches[nextTouch].eventIndex <= event {
                                dataTouch(touches[nextTouch], by: block)
                                nextTouch += 1
                            }
                        }
                        while nextWrite < writes.count && writes[nextWrite].eventIndex <= event {
                            codeWrite(writes[nextWrite], by: block)
                            nextWrite += 1
                        }
                        let slot = exitSlot[b]
                        if slot >= 0 { sites.add(block, Int(slot)) }
                    }
                }
            }
        }
        previousPage[thread] = lastPage
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
        let pageNumber = touch.page >> table.pageShift
        let page = table.pageIndex(ofAddress: touch.page).map { Int($0) }
        if let page, pages.valid[page] { return }  // translated: present (stores to it are code writes)
        switch mode {
        case .nx: return
        case .legacyNotPresent:
            sites.add(block, dataSlot, accesses)
            sites.addDataPage(touch.page, .pfData, accesses)
        case .legacyMapData:
            if let page {
                if dataMapped[page] { return }
                dataMapped[page] = true
            } else {
                if !mappedDataOnly.insert(pageNumber).inserted { return }
            }
            sites.add(block, mapSlot)
            sites.addDataPage(touch.page, .dataMap, 1)
        }
    }

    private mutating func codeWrite(_ write: CodeWrite, by block: BlockID) {
        forEachPage(of: write, table) { page in
            guard pages.valid[page] else { return }
            sites.add(block, writeSlot)
            pages.invalidate(page: page)
            scanPending[page] = false
            if mode == .legacyMapData { dataMapped[page] = true }  // mapped writable so the store completes
            if Int(table.page[Int(block)]) == page && mode != .legacyMapData {
                // The writer resumes on the page it made untranslated: that fetch faults at once.
                sites.add(block, execSlot)
                pages.revalidateEmpty(page: page)
                scanPending[page] = true
            }
        }
    }

    func counts() -> StrategyCounts {
        var result = StrategyCounts()
        sites.summarize(into: &result, table: table)
        result.scanned = pages.scanned
        result.scans = pages.scans
        return result
    }
}
