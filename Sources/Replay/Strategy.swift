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

    public init(parameters: ReplayParameters, table: BlockTable, code: CodeImage, arch: GuestArch) {
        self.parameters = parameters
        self.table = table
        self.code = code
        self.arch = arch
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
/// Counting per block keeps the hot loop to one add; sites and totals are derived at the end.
struct SiteCounters {
    let causes: [TrapCause]
    let width: Int
    var counts: [UInt64]
    /// Counts whose site is a block's start although the cause is normally an exit (a thread's entry dispatch).
    var entryCounts: [BlockID: [TrapCause: UInt64]] = [:]
    /// Counts attributed to a data page instead of the site's page (pf_data, data_map).
    var dataPageCounts: [UInt64: [TrapCause: UInt64]] = [:]

    init(causes: [TrapCause], blockCount: Int) {
        self.causes = causes
        width = causes.count
        counts = [UInt64](repeating: 0, count: max(blockCount * causes.count, 1))
    }

    /// The slot of `cause` (a programming error if the strategy did not declare it).
    func slot(_ cause: TrapCause) -> Int { causes.firstIndex(of: cause)! }

    @inline(__always)
    mutating func add(_ block: BlockID, _ slot: Int, _ amount: UInt64 = 1) {
        counts[Int(block) &* width &+ slot] &+= amount
    }

    mutating func addEntry(_ block: BlockID, _ cause: TrapCause) {
        entryCounts[block, default: [:]][cause, default: 0] += 1
    }

    mutating func addDataPage(_ page: UInt64, _ cause: TrapCause, _ amount: UInt64) {
        dataPageCounts[page, default: [:]][cause, default: 0] += amount
    }

    /// Totals, sites and pages.
    func summarize(into result: inout StrategyCounts, table: BlockTable) {
        var totals: [TrapCause: UInt64] = [:]
        var sites: [UInt64: [TrapCause: UInt64]] = [:]
        var pages: [UInt64: [TrapCause: UInt64]] = [:]
        let dataCauses: Set<TrapCause> = [.pfData, .dataMap]
        func record(_ cause: TrapCause, _ count: UInt64, at address: UInt64) {
            totals[cause, default: 0] += count
            sites[address, default: [:]][cause, default: 0] += count
            if !dataCauses.contains(cause) {
                pages[(address >> table.pageShift) << table.pageShift, default: [:]][cause, default: 0] += count
            }
        }
        for block in 0..<table.count {
            for slot in 0..<width {
                let count = counts[block * width + slot]
                if count == 0 { continue }
                let cause = causes[slot]
                record(cause, count, at: cause.siteIsExit ? table.lastInstruction[block] : table.address[block])
            }
        }
        for (block, byCause) in entryCounts {
            for (cause, count) in byCause { record(cause, count, at: table.address[Int(block)]) }
        }
        for (page, byCause) in dataPageCounts {
            for (cause, count) in byCause { pages[(page >> table.pageShift) << table.pageShift, default: [:]][cause, default: 0] += count }
        }
        for cause in causes where totals[cause] == nil { totals[cause] = 0 }
        result.counts = totals
        result.sites = sites.map { TrapSite(address: $0.key, counts: $0.value) }
            .sorted { ($0.total, $1.address) > ($1.total, $0.address) }
        result.pages = pages.map { PageTraps(page: $0.key, counts: $0.value) }.sorted { $0.page < $1.page }
    }
}
