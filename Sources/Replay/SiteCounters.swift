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

    mutating func addEntry(_ block: BlockID, _ cause: TrapCause) {
        entryCounts[block, default: [:]][cause, default: 0] += 1
    }

    mutating func addDataPage(_ page: UInt64, _ cause: TrapCause, _ amount: UInt64) {
        dataPageCounts[page, default: [:]][cause, default: 0] += amount
    }

    /// Where some of a block's nonzero counts are sited: its exit causes at its last instruction, its
    /// entry causes at its start, or one of `entryCounts` (`source` indexes `extra` rows then).
    private struct Contribution {
        enum Kind: UInt8 { case exit, entry, extra }
        var address: UInt64
        var source: Int32
        var kind: Kind
    }

    /// Totals, sites and pages. Every nonzero (block, cause) count is sited at one address; the
    /// contributions are sorted by address once and merged, so each site and page is one row of `width`
    /// counts built without hashing, and pages come out in address order as sites do.
    func summarize(into result: inout StrategyCounts, table: BlockTable) {
        let width = self.width
        let siteIsExit = causes.map(\.siteIsExit)
        let isDataCause = causes.map { $0 == .pfData || $0 == .dataMap }
        var totals = [UInt64](repeating: 0, count: width)
        var contributions: [Contribution] = []
        let counts = self.counts.pointer
        for block in 0..<table.count {
            var exit = false, entry = false
            for slot in 0..<width {
                let count = counts[block &* width &+ slot]
                if count == 0 { continue }
                totals[slot] &+= count
                if siteIsExit[slot] { exit = true } else { entry = true }
            }
            if exit { contributions.append(Contribution(address: table.lastInstruction[block], source: Int32(block), kind: .exit)) }
            if entry { contributions.append(Contribution(address: table.address[block], source: Int32(block), kind: .entry)) }
        }
        // The rare entry counts, as rows of their own.
        var extra: [UInt64] = []
        for (block, byCause) in entryCounts {
            let row = extra.count / width
            extra.append(contentsOf: repeatElement(0, count: width))
            for (cause, count) in byCause {
                totals[slot(cause)] &+= count
                extra[row * width + slot(cause)] &+= count
            }
            contributions.append(Contribution(address: table.address[Int(block)], source: Int32(row), kind: .extra))
        }
        contributions.sort { $0.address < $1.address }

        // Slots in cause order: the compact form of a row lists its nonzero counts in that order.
        let slotsInOrder = (0..<width).sorted { causes[$0].order < causes[$1].order }
        let bit = causes.map { UInt32(1) << UInt32($0.order) }
        var siteValues: [UInt64] = []
        var siteAddress: [UInt64] = [], siteTotal: [UInt64] = [], sitePresent: [UInt32] = [], siteEnd: [Int] = []
        var pageAddresses: [UInt64] = [], pageCounts: [UInt64] = []
        var row = [UInt64](repeating: 0, count: width)
        var next = 0
        while next < contributions.count {
            let address = contributions[next].address
            for slot in 0..<width { row[slot] = 0 }
            var hasCodeCount = false
            while next < contributions.count && contributions[next].address == address {
                let contribution = contributions[next]
                let source = Int(contribution.source)
                for slot in 0..<width {
                    let count: UInt64 = switch contribution.kind {
                    case .exit: siteIsExit[slot] ? counts[source &* width &+ slot] : 0
                    case .entry: siteIsExit[slot] ? 0 : counts[source &* width &+ slot]
                    case .extra: extra[source * width + slot]
                    }
                    if count == 0 { continue }
                    row[slot] &+= count
                    if !isDataCause[slot] { hasCodeCount = true }
                }
                next += 1
            }
            var total: UInt64 = 0, present: UInt32 = 0
            for slot in slotsInOrder where row[slot] != 0 {
                total &+= row[slot]
                present |= bit[slot]
                siteValues.append(row[slot])
            }
            siteAddress.append(address)
            siteTotal.append(total)
            sitePresent.append(present)
            siteEnd.append(siteValues.count)
            guard hasCodeCount else { continue }
            let page = (address >> table.pageShift) << table.pageShift
            if pageAddresses.last != page {
                pageAddresses.append(page)
                pageCounts.append(contentsOf: repeatElement(0, count: width))
            }
            let base = (pageAddresses.count - 1) * width
            for slot in 0..<width where !isDataCause[slot] { pageCounts[base + slot] &+= row[slot] }
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
        // Most counts first, then lowest address (addresses are distinct: a total order).
        let ranked = siteAddress.indices.sorted {
            siteTotal[$0] != siteTotal[$1] ? siteTotal[$0] > siteTotal[$1] : siteAddress[$0] < siteAddress[$1]
        }
        result.sites = ranked.map { index in
            TrapSite(address: siteAddress[index], compact: CauseCountList(
                present: sitePresent[index], values: siteValues[(index == 0 ? 0 : siteEnd[index - 1])..<siteEnd[index]]))
        }
        pages.sort { $0.page < $1.page }
        var pageValues: [UInt64] = []
        var pagePresent: [UInt32] = [], pageEnd: [Int] = []
        for (_, row) in pages {
            var present: UInt32 = 0
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
}
