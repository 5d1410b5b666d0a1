import CostModel
import TraceModel

/// One way of keeping guest code from running untranslated.
///
/// A new strategy is one file under Strategies/ conforming to this protocol plus one line in
/// `StrategyRegistry.all`; everything else follows from the conformance: `--strategy`/`--strategies`
/// and their `--help` (name, `summary`), `all`, the tables, the JSON, the report, the cost estimate
/// (`translator` picks the profile's translated-code keys) and the gate's counts. What it touches besides:
/// - docs/strategies.md section 3: its definition, with what it counts, in formulas (the code follows it);
///   the README's strategy list.
/// - A cause it counts that no strategy counted before: a `TrapCause` case (its JSON spelling), whose
///   exhaustive switches make you decide `costKey` (the one cost key it is charged at, or free), `isTrap`
///   (a monitor entry or not), `siteIsExit` and `order` (table position); the cause table of
///   docs/strategies.md. Reports, gate baselines and the JSON pick the cause up from there.
/// - A cost that no key prices yet: a `CostKey` case with its `defaultValue` (so existing profile files
///   still load), a cost and a source in each built-in profile (Sources/CostModel/BuiltInProfiles.swift),
///   docs/cost-profiles.md and docs/cost-profile-format.md.
/// - A parameter: a `ReplayParameters` field, its case in `set(_:to:)` and `all`, the strategy's
///   `parameterNames`, docs/strategies.md section 5.
/// - Committed numbers: tests that list every strategy, and the gate baseline (`plexlab gate --update`
///   after review).
///
/// The engine decodes each chunk once and hands it to every selected strategy in turn (a large chunk in
/// slices, each to every strategy before the next), so the per-block loop inside `replay` is monomorphic;
/// a chunk or slice boundary is like any other point of its thread's stream. Every strategy gets every
/// `replay` call and then one `finish` (strategies that share work, like the dbt variants, rely on it).
/// Strategies keep their per-block state in arrays indexed by BlockID.
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
    /// Which translator runs its guest code: the profile keys its code is charged at (docs/strategies.md section 4).
    static var translator: TranslatorKind { get }
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
    public static var translator: TranslatorKind { .none }
}

/// What every strategy of one replay shares, read-only.
public final class ReplayContext: @unchecked Sendable {
    public let parameters: ReplayParameters
    public let table: BlockTable
    public let code: CodeImage
    public let arch: GuestArch
    /// Per-block facts of a system trace (privilege levels, privileged instructions); nil for a user-mode
    /// trace (docs/strategies.md, "System traces").
    public let system: SystemFacts?
    /// Executions of each block so far, counted by the engine before it hands a chunk to the strategies.
    /// A count that is the same for every execution of a block is derived from this at the end instead of
    /// being counted in every strategy's per-block loop.
    let executions: StateArray<UInt64>
    /// State that several strategies of this replay share, one object per type (`shared(_:)`): the page
    /// scans made so far (`ScanMemo`), the dbt variants' code cache (`BinaryTranslationFamily`).
    private var sharedState: [ObjectIdentifier: AnyObject] = [:]

    public convenience init(parameters: ReplayParameters, table: BlockTable, code: CodeImage, arch: GuestArch,
                            system: SystemFacts? = nil) {
        self.init(parameters: parameters, table: table, code: code, arch: arch,
                  executions: StateArray(repeating: 0, count: table.count), system: system)
    }

    /// A context whose executions counter is shared with other contexts of the same pass (a sweep's
    /// parameter variants: the engine counts each chunk once for all of them).
    init(parameters: ReplayParameters, table: BlockTable, code: CodeImage, arch: GuestArch, executions: StateArray<UInt64>,
         system: SystemFacts? = nil) {
        self.system = system
        self.parameters = parameters
        self.table = table
        self.code = code
        self.arch = arch
        self.executions = executions
    }

    /// This replay's one object of type `T`, made by `make` on the first request (strategies construct on
    /// one thread, before the replay starts).
    func shared<T: AnyObject>(_ make: () -> T) -> T {
        if let existing = sharedState[ObjectIdentifier(T.self)] { return existing as! T }
        let made = make()
        sharedState[ObjectIdentifier(T.self)] = made
        return made
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
    /// The `pf_write`s whose writing block starts on the page it wrote (sbe, pagefault-*): not a cause of
    /// its own (each is one `pf_write`), counted for the live monitor, which steps such a store alone
    /// (docs/live.md section 3, "Self-writes").
    public var selfWrites: UInt64 = 0
    /// Instructions translated into the code cache.
    public var translated: UInt64 = 0
    /// Blocks translated.
    public var translations: UInt64 = 0
    /// Trap sites, most counts first.
    public var sites: [TrapSite] = []
    /// Counts per page (page-aligned address in the replay's page size), lowest address first.
    public var pages: [PageTraps] = []
    /// System traces: the counts sited at kernel blocks (CPL < 3).
    public var kernelCounts: [TrapCause: UInt64] = [:]

    public init(unavailable: String? = nil) { self.unavailable = unavailable }
}

/// Counts by cause at one guest address: the trapping instruction (a block's last instruction for exit
/// causes, its first for entry causes; docs/strategies.md).
public struct TrapSite: Sendable, Equatable {
    public var address: UInt64
    var compact: CauseCountList
    /// Built on each read from a compact form: a replay makes tens of thousands of sites, most never read.
    public var counts: [TrapCause: UInt64] {
        get { compact.dictionary }
        set { compact = CauseCountList(newValue) }
    }
    public var total: UInt64 { compact.total }
    public init(address: UInt64, counts: [TrapCause: UInt64]) {
        self.address = address
        compact = CauseCountList(counts)
    }
    init(address: UInt64, compact: CauseCountList) {
        self.address = address
        self.compact = compact
    }
}

/// Counts by cause on one page.
public struct PageTraps: Sendable, Equatable {
    public var page: UInt64
    var compact: CauseCountList
    /// Built on each read from a compact form, as `TrapSite.counts`.
    public var counts: [TrapCause: UInt64] {
        get { compact.dictionary }
        set { compact = CauseCountList(newValue) }
    }
    public init(page: UInt64, counts: [TrapCause: UInt64]) {
        self.page = page
        compact = CauseCountList(counts)
    }
    init(page: UInt64, compact: CauseCountList) {
        self.page = page
        self.compact = compact
    }
}

/// A `[TrapCause: UInt64]` without a hash table: one bit per cause present (by `TrapCause.order`) and
/// their counts in that order, as a slice of a buffer that every site of a summary shares, so making a
/// site allocates nothing.
struct CauseCountList: Sendable, Equatable {
    /// Bit `order` set for each cause present (64 causes fit).
    var present: UInt64
    /// The counts of the present causes, lowest order first.
    var values: ArraySlice<UInt64>

    init(present: UInt64, values: ArraySlice<UInt64>) {
        self.present = present
        self.values = values
    }

    init(_ counts: [TrapCause: UInt64]) {
        present = 0
        var values: [UInt64] = []
        for cause in counts.keys.sorted() {
            present |= 1 << UInt64(cause.order)
            values.append(counts[cause]!)
        }
        self.values = values[...]
    }

    var dictionary: [TrapCause: UInt64] {
        var result = [TrapCause: UInt64](minimumCapacity: values.count)
        var bits = present, index = values.startIndex
        while bits != 0 {
            result[TrapCause.byOrder[bits.trailingZeroBitCount]] = values[index]
            bits &= bits - 1
            index += 1
        }
        return result
    }

    var total: UInt64 { values.reduce(0, &+) }

    static func == (a: CauseCountList, b: CauseCountList) -> Bool {
        a.present == b.present && a.values.elementsEqual(b.values)
    }
}
