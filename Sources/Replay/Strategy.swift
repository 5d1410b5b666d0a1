import TraceModel

/// One way of keeping guest code from running untranslated. A new strategy is one file under
/// Strategies/ plus one line in `StrategyRegistry.all`; docs/strategies.md says what it counts.
///
/// The engine decodes each chunk once and hands it to every selected strategy in turn, so the per-block
/// loop inside `replay` is monomorphic; strategies keep their per-block state in arrays indexed by BlockID.
public protocol ReplayStrategy: AnyObject {
    /// The name used on the command line, in tables and in JSON.
    static var name: String { get }
    /// One line for `--help` and the docs.
    static var summary: String { get }
    /// Whether the strategy needs data-touch events (without them it reports why instead of numbers).
    static var needsDataTouches: Bool { get }
    /// Whether the strategy scans pages (needs code page bytes).
    static var scansPages: Bool { get }
    /// The `--param` keys that change its counts (listed with its results).
    static var parameterNames: [String] { get }
    init(context: ReplayContext)
    /// Replays one chunk of thread `thread` (a dense index: 0, 1, ... in order of first appearance).
    func replay(_ chunk: StreamChunk, thread: Int)
    /// The trace has ended: charge what the last block of each thread still owes.
    func finish()
    func counts() -> StrategyCounts
}

extension ReplayStrategy {
    public static var needsDataTouches: Bool { false }
    public static var scansPages: Bool { false }
    public static var parameterNames: [String] { scansPages ? ["page-size"] : [] }
}

/// What every strategy of one replay shares, read-only.
public final class ReplayContext: @unchecked Sendable {
    public let parameters: ReplayParameters
    public let table: BlockTable
    public let code: CodeImage
    public let arch: GuestArch
    /// Executions of each block so far, counted by the engine before it hands a chunk to the strategies.
    /// A count that is the same for every execution of a block is derived from this at the end instead of
    /// being counted in every strategy's per-block loop.
    let executions: StateArray<UInt64>
    /// Page scans made so far, for the scanning strategies to share.
    let scans = ScanMemo()

    public init(parameters: ReplayParameters, table: BlockTable, code: CodeImage, arch: GuestArch) {
        self.parameters = parameters
        self.table = table
        self.code = code
        self.arch = arch
        executions = StateArray(repeating: 0, count: table.count)
    }
}

/// A strategy's raw counts, before the engine adds instructions, parameters and cost estimates.
public struct StrategyCounts: Sendable, Equatable {
    /// Set when the strategy cannot give numbers for this trace, with the reason.
    public var unavailable: String?
    public var counts: [TrapCause: UInt64] = [:]
    /// Instructions decoded by page scans.
    public var scanned: UInt64 = 0
    /// Number of scans (first scans, rescans and extensions).
    public var scans: UInt64 = 0
    /// Instructions translated into the code cache.
    public var translated: UInt64 = 0
    /// Blocks translated.
    public var translations: UInt64 = 0
    /// Trap sites, most counts first.
    public var sites: [TrapSite] = []
    /// Counts per page (page-aligned address in the replay's page size), lowest address first.
    public var pages: [PageTraps] = []

    public init(unavailable: String? = nil) { self.unavailable = unavailable }
}

/// Counts by cause at one guest address: the trapping instruction (a block's last instruction for exit
/// causes, its first for entry causes; docs/strategies.md).
public struct TrapSite: Sendable, Equatable {
    public var address: UInt64
    public var counts: [TrapCause: UInt64]
    public var total: UInt64 { counts.values.reduce(0, &+) }
    public init(address: UInt64, counts: [TrapCause: UInt64]) {
        self.address = address
        self.counts = counts
    }
}

/// Counts by cause on one page.
public struct PageTraps: Sendable, Equatable {
    public var page: UInt64
    public var counts: [TrapCause: UInt64]
    public init(page: UInt64, counts: [TrapCause: UInt64]) {
        self.page = page
        self.counts = counts
    }
}

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

    /// Totals, sites and pages. Sites and pages gather one row of `width` counts per address first, so
    /// only one dictionary is touched per nonzero (block, cause).
    func summarize(into result: inout StrategyCounts, table: BlockTable) {
        var totals = [UInt64](repeating: 0, count: width)
        var siteRows: [UInt64: Int] = [:], siteCounts: [UInt64] = []
        var pageRows: [UInt64: Int] = [:], pageCounts: [UInt64] = []
        func row(_ key: UInt64, _ rows: inout [UInt64: Int], _ counts: inout [UInt64]) -> Int {
            if let known = rows[key] { return known }
            rows[key] = counts.count / width
            counts.append(contentsOf: repeatElement(0, count: width))
            return rows[key]!
        }
        let isDataCause = causes.map { $0 == .pfData || $0 == .dataMap }
        let siteIsExit = causes.map(\.siteIsExit)
        func record(_ slot: Int, _ count: UInt64, at address: UInt64) {
            totals[slot] &+= count
            siteCounts[row(address, &siteRows, &siteCounts) * width + slot] &+= count
            if !isDataCause[slot] {
                pageCounts[row((address >> table.pageShift) << table.pageShift, &pageRows, &pageCounts) * width + slot] &+= count
            }
        }
        for block in 0..<table.count {
            for slot in 0..<width {
                let count = counts[block * width + slot]
                if count == 0 { continue }
                record(slot, count, at: siteIsExit[slot] ? table.lastInstruction[block] : table.address[block])
            }
        }
        for (block, byCause) in entryCounts {
            for (cause, count) in byCause { record(slot(cause), count, at: table.address[Int(block)]) }
        }
        for (page, byCause) in dataPageCounts {
            for (cause, count) in byCause {
                pageCounts[row((page >> table.pageShift) << table.pageShift, &pageRows, &pageCounts) * width + slot(cause)] &+= count
            }
        }
        func byCause(_ counts: [UInt64], row: Int) -> [TrapCause: UInt64] {
            var result = [TrapCause: UInt64](minimumCapacity: width)
            for slot in 0..<width where counts[row * width + slot] != 0 { result[causes[slot]] = counts[row * width + slot] }
            return result
        }
        result.counts = Dictionary(uniqueKeysWithValues: zip(causes, totals))
        result.sites = siteRows.map { address, row in
            (total: (0..<width).reduce(0) { $0 &+ siteCounts[row * width + $1] }, site: TrapSite(address: address, counts: byCause(siteCounts, row: row)))
        }
        .sorted { ($0.total, $1.site.address) > ($1.total, $0.site.address) }
        .map(\.site)
        result.pages = pageRows.map { PageTraps(page: $0.key, counts: byCause(pageCounts, row: $0.value)) }.sorted { $0.page < $1.page }
    }
}
