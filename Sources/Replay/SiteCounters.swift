import TraceModel

/// Per-block counters for a strategy's causes: `counts[block * width + slot]`.
/// Counting per block keeps the hot loop to one add; sites, pages and totals are derived at the end.
/// Counts that are the same for every execution of a block (an sbe exit trap, sensitive instructions)
/// are not counted per execution at all: the strategy multiplies them by the block's executions at the end.
struct SiteCounters {
    let causes: [TrapCause]
    let width: Int
    let counts: StateArray<UInt64>
    /// Counts whose site is a block's start although the cause is normally an exit (a thread's entry dispatch).
    var entryCounts: [BlockID: [TrapCause: UInt64]] = [:]
    /// Counts attributed to a data page instead of the site's page (pf_data, data_map).
    var dataPageCounts: [UInt64: [TrapCause: UInt64]] = [:]

    init(causes: [TrapCause], blockCount: Int) {
        self.causes = causes
        width = causes.count
        counts = StateArray(repeating: 0, count: blockCount * causes.count)
    }

    /// The slot of `cause` (a programming error if the strategy did not declare it).
    func slot(_ cause: TrapCause) -> Int { causes.firstIndex(of: cause)! }

    /// The slot of `cause`, or -1 when the strategy does not count it.
    func slotIfCounted(_ cause: TrapCause) -> Int { causes.firstIndex(of: cause) ?? -1 }

    @inline(__always)
    func add(_ block: BlockID, _ slot: Int, _ amount: UInt64 = 1) {
        counts[Int(block) &* width &+ slot] &+= amount
    }

    /// Adds `perExecution(block)` times the block's executions to its `slot(block)` (nil: nothing).
    func addPerExecution(_ executions: StateArray<UInt64>, _ perExecution: (Int) -> (slot: Int, count: UInt64)?) {
        for block in 0..<executions.count where executions[block] != 0 {
            if let (slot, count) = perExecution(block), count != 0 {
                counts[block &* width &+ slot] &+= executions[block] &* count
            }
        }
    }

    /// The counts an INT3-planting strategy (sbe, the page-fault family) knows per block: each execution's
    /// exit trap in `exitSlot[block]` (-1: none) and the block's sensitive instructions in `sensitiveSlot`.
    func addExitAndSensitiveTraps(_ executions: StateArray<UInt64>, exitSlot: [Int8], sensitiveSlot: Int, table: BlockTable) {
        addPerExecution(executions) { block in
            exitSlot[block] >= 0 ? (Int(exitSlot[block]), 1) : nil
        }
        addPerExecution(executions) { block in
            (sensitiveSlot, UInt64(table.sensitive[block]))
        }
    }

    mutating func addEntry(_ block: BlockID, _ cause: TrapCause) {
        entryCounts[block, default: [:]][cause, default: 0] += 1
    }

    mutating func addDataPage(_ page: UInt64, _ cause: TrapCause, _ amount: UInt64) {
        dataPageCounts[page, default: [:]][cause, default: 0] += amount
    }

    /// Totals, sites and pages. Every nonzero (block, cause) count is sited at one address: its exit causes
    /// at the block's last instruction, its entry causes at its start, `entryCounts` at their block's start.
    /// The sites of all blocks come sorted by address from the table (`SiteOrder`, shared by every
    /// strategy of the replay); walking them merges each address's counts into one row of `width` counts,
    /// without hashing, and pages come out in address order as sites do.
    func summarize(into result: inout StrategyCounts, table: BlockTable) {
        let width = self.width
        var exitSlots: UInt32 = 0, dataSlots: UInt32 = 0
        for (slot, cause) in causes.enumerated() {
            if cause.siteIsExit { exitSlots |= 1 << UInt32(slot) }
            if cause == .pfData || cause == .dataMap { dataSlots |= 1 << UInt32(slot) }
        }
        let counts = self.counts.pointer
        var totals = [UInt64](repeating: 0, count: width)
        // Per block: bit 0 when it has exit counts, bit 1 when it has entry counts.
        var present = [UInt8](repeating: 0, count: table.count)
        // Nonzero (block, slot) counts: every site holds at least one, so this bounds sites and values.
        var nonzero = 0
        totals.withUnsafeMutableBufferPointer { totals in
            present.withUnsafeMutableBufferPointer { present in
                for block in 0..<table.count {
                    let row = counts + block &* width
                    var bits: UInt8 = 0
                    for slot in 0..<width where row[slot] != 0 {
                        totals[slot] &+= row[slot]
                        bits |= (exitSlots >> UInt32(slot)) & 1 == 1 ? 1 : 2
                        nonzero &+= 1
                    }
                    present[block] = bits
                }
            }
        }
        // The rare entry counts, as rows of their own, in address order.
        var extra: [UInt64] = []
        var extraSites: [(address: UInt64, row: Int)] = []
        for (block, byCause) in entryCounts {
            let row = extraSites.count
            extra.append(contentsOf: repeatElement(0, count: width))
            for (cause, count) in byCause {
                totals[slot(cause)] &+= count
                extra[row * width + slot(cause)] &+= count
            }
            extraSites.append((table.address[Int(block)], row))
        }
        extraSites.sort { $0.address < $1.address }

        // Slots in cause order: the compact form of a row lists its nonzero counts in that order.
        let slotsInOrder = (0..<width).sorted { causes[$0].order < causes[$1].order }
        let bit = causes.map { UInt64(1) << UInt64($0.order) }
        var sites: [SiteRow] = [], siteValues: [UInt64] = []
        sites.reserveCapacity(nonzero + extraSites.count)
        siteValues.reserveCapacity(nonzero + extra.count)
        var pageAddresses: [UInt64] = [], pageCounts: [UInt64] = []
        let order = table.siteOrder.sites(table)
        // The merged counts of one address, and the code counts of the page being walked.
        // `row` is all zeros between sites: emitting a site's counts clears them.
        let row = UnsafeMutablePointer<UInt64>.allocate(capacity: width)
        let pageRow = UnsafeMutablePointer<UInt64>.allocate(capacity: width)
        row.initialize(repeating: 0, count: width)
        // Slots in cause order with their cause bits, and whether each is a code (not data-page) count.
        let emitOrder = UnsafeMutablePointer<(slot: Int, bit: UInt64, isCode: Bool)>.allocate(capacity: width)
        for (index, slot) in slotsInOrder.enumerated() {
            emitOrder[index] = (slot, bit[slot], (dataSlots >> UInt32(slot)) & 1 == 0)
        }
        defer { row.deallocate(); pageRow.deallocate(); emitOrder.deallocate() }
        // Walks the sites in address order (keys and their addresses read in order; a block's counts are
        // read only where it has some), merging the counts of each address into `row`.
        order.keys.withUnsafeBufferPointer { keys in
            order.addresses.withUnsafeBufferPointer { addresses in
                present.withUnsafeBufferPointer { present in
                    @inline(__always) func hasCounts(_ key: UInt32) -> Bool {
                        present[Int(key >> 1)] & (1 << UInt8(key & 1)) != 0
                    }
                    var next = 0, nextExtra = 0
                    while true {
                        while next < keys.count && !hasCounts(keys[next]) { next += 1 }
                        let here: UInt64
                        if next < keys.count {
                            here = nextExtra < extraSites.count ? min(addresses[next], extraSites[nextExtra].address) : addresses[next]
                        } else if nextExtra < extraSites.count {
                            here = extraSites[nextExtra].address
                        } else {
                            break
                        }
                        var codeCount = false
                        while next < keys.count && addresses[next] == here {
                            let key = keys[next]
                            next += 1
                            guard hasCounts(key) else { continue }
                            let isExit = key & 1 == 0
                            let counts = counts + Int(key >> 1) &* width
                            for slot in 0..<width where counts[slot] != 0 && ((exitSlots >> UInt32(slot)) & 1 == 1) == isExit {
                                row[slot] &+= counts[slot]
                                if (dataSlots >> UInt32(slot)) & 1 == 0 { codeCount = true }
                            }
                        }
                        while nextExtra < extraSites.count && extraSites[nextExtra].address == here {
                            let base = extraSites[nextExtra].row * width
                            for slot in 0..<width where extra[base + slot] != 0 {
                                row[slot] &+= extra[base + slot]
                                if (dataSlots >> UInt32(slot)) & 1 == 0 { codeCount = true }
                            }
                            nextExtra += 1
                        }
                        if codeCount {
                            let page = (here >> table.pageShift) << table.pageShift
                            if pageAddresses.last != page {
                                if !pageAddresses.isEmpty { pageCounts.append(contentsOf: UnsafeBufferPointer(start: pageRow, count: width)) }
                                pageAddresses.append(page)
                                pageRow.initialize(repeating: 0, count: width)
                            }
                        }
                        var total: UInt64 = 0, presentCauses: UInt64 = 0
                        for index in 0..<width {
                            let (slot, bit, isCode) = emitOrder[index]
                            let value = row[slot]
                            guard value != 0 else { continue }
                            row[slot] = 0
                            total &+= value
                            presentCauses |= bit
                            siteValues.append(value)
                            if codeCount && isCode { pageRow[slot] &+= value }
                        }
                        sites.append(SiteRow(address: here, total: total, present: presentCauses, end: siteValues.count))
                    }
                    if !pageAddresses.isEmpty { pageCounts.append(contentsOf: UnsafeBufferPointer(start: pageRow, count: width)) }
                }
            }
        }
        // Data-page counts join the row of their page (binary search: the rows are in address order).
        var pages = pageAddresses.indices.map { (page: pageAddresses[$0], row: $0) }
        for (dataPage, byCause) in dataPageCounts {
            let page = (dataPage >> table.pageShift) << table.pageShift
            var low = 0, high = pageAddresses.count
            while low < high {
                let middle = (low + high) / 2
                if pageAddresses[middle] < page { low = middle + 1 } else { high = middle }
            }
            let target: Int
            if low < pageAddresses.count && pageAddresses[low] == page {
                target = low
            } else if let known = pages[pageAddresses.count...].first(where: { $0.page == page }) {
                target = known.row
            } else {
                target = pageCounts.count / width
                pageCounts.append(contentsOf: repeatElement(0, count: width))
                pages.append((page, target))
            }
            for (cause, count) in byCause { pageCounts[target * width + slot(cause)] &+= count }
        }
        result.counts = Dictionary(uniqueKeysWithValues: zip(causes, totals))
        // Most counts first, then lowest address (addresses are distinct: a total order). The sites are in
        // address order already, so a stable sort by total does it.
        let ranked = Self.stableOrderByDescendingKey(sites.map(\.total))
        result.sites = ranked.map { index in
            TrapSite(address: sites[index].address, compact: CauseCountList(
                present: sites[index].present, values: siteValues[(index == 0 ? 0 : sites[index - 1].end)..<sites[index].end]))
        }
        pages.sort { $0.page < $1.page }
        var pageValues: [UInt64] = []
        var pagePresent: [UInt64] = [], pageEnd: [Int] = []
        for (_, row) in pages {
            var present: UInt64 = 0
            for slot in slotsInOrder where pageCounts[row * width + slot] != 0 {
                present |= bit[slot]
                pageValues.append(pageCounts[row * width + slot])
            }
            pagePresent.append(present)
            pageEnd.append(pageValues.count)
        }
        result.pages = pages.indices.map { index in
            PageTraps(page: pages[index].page, compact: CauseCountList(
                present: pagePresent[index], values: pageValues[(index == 0 ? 0 : pageEnd[index - 1])..<pageEnd[index]]))
        }
    }

    /// One site of a summary: its counts are `siteValues[previous end ..< end]`.
    private struct SiteRow {
        var address: UInt64
        var total: UInt64
        var present: UInt64
        var end: Int
    }

    /// The indices of `keys` ordered by key, largest first, equal keys in index order: an LSD radix sort
    /// over the key bytes in use (a summary ranks tens of thousands of sites; comparison sorts cost several
    /// times more).
    static func stableOrderByDescendingKey(_ keys: [UInt64]) -> [Int] {
        var order = Array(keys.indices), spare = order
        let bytes = (64 - (keys.max() ?? 0).leadingZeroBitCount + 7) / 8
        var histogram = [Int](repeating: 0, count: 256)
        for byte in 0..<bytes {
            let shift = UInt64(byte * 8)
            for slot in 0..<256 { histogram[slot] = 0 }
            // Digits of the complement: descending keys in an ascending sort.
            for key in keys { histogram[Int(~(key >> shift) & 0xFF)] += 1 }
            var start = 0
            for slot in 0..<256 { (histogram[slot], start) = (start, start + histogram[slot]) }
            for index in order {
                let slot = Int(~(keys[index] >> shift) & 0xFF)
                spare[histogram[slot]] = index
                histogram[slot] += 1
            }
            swap(&order, &spare)
        }
        return order
    }
}
