import CostModel
import TraceModel

/// Figures about the replayed trace itself.
public struct ReplaySummary: Sendable, Equatable {
    public var instructions: UInt64 = 0
    public var blocks: UInt64 = 0
    public var distinctBlocks: UInt64 = 0
    /// Distinct pages holding code, in the replay's page size.
    public var codePages: UInt64 = 0
    public var threads: UInt64 = 0
    public var chunks: UInt64 = 0
    public var codeWrites: UInt64 = 0
    public var dataTouches: UInt64 = 0
    public var syscalls: UInt64 = 0
    /// A system trace's kernel/user split and its events; nil for a user-mode trace.
    public var system: SystemSummary?
    /// Wall time of the replay loop (all strategies together).
    public var seconds: Double = 0
    public var blocksPerSecond: Double { seconds > 0 ? Double(blocks) / seconds : 0 }
    public init() {}
}

/// What a system trace holds besides blocks (docs/strategies.md, "System traces").
public struct SystemSummary: Sendable, Equatable {
    /// Executed blocks and instructions at CPL < 3 (the rest ran in user mode).
    public var kernelBlocks: UInt64 = 0
    public var kernelInstructions: UInt64 = 0
    public var interrupts: UInt64 = 0
    /// Exceptions other than page faults.
    public var exceptions: UInt64 = 0
    public var pageFaults: UInt64 = 0
    public var pageTableStores: UInt64 = 0
    public init() {}
}

extension ReplaySummary {
    mutating func addSystemEvents(_ events: [SystemEvent]) {
        var system = self.system ?? SystemSummary()
        for event in events {
            switch event.kind {
            case .interrupt: system.interrupts += 1
            case .pageTableStore: system.pageTableStores += 1
            case .exception: if event.isPageFault { system.pageFaults += 1 } else { system.exceptions += 1 }
            }
        }
        self.system = system
    }
}

/// One strategy's numbers for one trace (docs/results-schema.md).
public struct StrategyResult: Sendable, Equatable {
    public var name: String
    /// Which translator runs its guest code (docs/strategies.md section 4).
    public var translator: TranslatorKind
    /// The parameters that affect this strategy, as set.
    public var parameters: [String: String]
    /// Why there are no numbers (pagefault-legacy on a trace without data touches), else nil.
    public var unavailable: String?
    /// Count of every cause the strategy counts (zeros included).
    public var counts: [TrapCause: UInt64]
    /// System traces: the part of `counts` sited at kernel blocks (CPL < 3); empty for user-mode traces.
    public var kernelCounts: [TrapCause: UInt64] = [:]
    /// Entries into the monitor: the sum of the counts whose cause `isTrap`.
    public var traps: UInt64
    public var trapsPerKiloInstruction: Double
    public var instructions: UInt64
    public var blocks: UInt64
    public var scanned: UInt64
    public var scans: UInt64
    /// `pf_write`s by a block starting on the page it wrote (`StrategyCounts.selfWrites`).
    public var selfWrites: UInt64 = 0
    public var translated: UInt64
    public var translations: UInt64
    public var sites: [TrapSite]
    public var pages: [PageTraps]
    public var estimates: [CostEstimate]

    /// The count of one cause (0 when the strategy does not count it).
    public subscript(cause: TrapCause) -> UInt64 { counts[cause] ?? 0 }

    /// The estimate under the named profile.
    public func estimate(_ profile: String) -> CostEstimate? { estimates.first { $0.profile == profile } }
}

/// Every selected strategy's numbers for one trace.
public struct TraceResults: Sendable, Equatable {
    public var path: String
    public var metadata: TraceMetadata
    public var parameters: ReplayParameters
    public var summary: ReplaySummary
    public var strategies: [StrategyResult]
    /// Each process of a recorded process tree on its own (empty for a trace of one process); the
    /// strategies' figures above are their sums.
    public var processes: [ProcessResults] = []

    public func strategy(_ name: String) -> StrategyResult? { strategies.first { $0.name == name } }
}

extension StrategyResult {
    /// Adds instructions, parameters and estimates to a strategy's raw counts.
    init(name: String, translator: TranslatorKind, parameters: [String: String], counts raw: StrategyCounts,
         summary: ReplaySummary, profiles: [CostProfile]) {
        self.name = name
        self.translator = translator
        self.parameters = parameters
        unavailable = raw.unavailable
        counts = raw.counts
        kernelCounts = raw.kernelCounts
        traps = raw.counts.filter { $0.key.isTrap }.values.reduce(0, &+)
        instructions = summary.instructions
        blocks = summary.blocks
        trapsPerKiloInstruction = summary.instructions > 0 ? Double(traps) * 1000 / Double(summary.instructions) : 0
        scanned = raw.scanned
        scans = raw.scans
        selfWrites = raw.selfWrites
        translated = raw.translated
        translations = raw.translations
        sites = raw.sites
        pages = raw.pages
        if raw.unavailable != nil {
            estimates = []
            return
        }
        let events = TrapCause.costEvents(raw.counts.map { (cause: $0.key, count: $0.value) })
        estimates = profiles.map { profile in
            let cycles = profile.breakdown(instructions: summary.instructions, blocks: summary.blocks,
                                           translator: translator, events: events,
                                           scanned: raw.scanned, translated: raw.translated).reduce(0) { $0 + $1.cycles }
            let native = Double(summary.instructions) * profile[.cpi]
            return CostEstimate(profile: profile.name, cycles: cycles, slowdown: native > 0 ? cycles / native : 1)
        }
    }
}

extension ReplaySummary {
    /// A summary with the trace figures given (views and tests build them by hand; a replay fills its own).
    public init(instructions: UInt64, blocks: UInt64, distinctBlocks: UInt64 = 0, codePages: UInt64 = 0,
                threads: UInt64 = 1, codeWrites: UInt64 = 0, syscalls: UInt64 = 0, dataTouches: UInt64 = 0) {
        self.init()
        self.instructions = instructions
        self.blocks = blocks
        self.distinctBlocks = distinctBlocks
        self.codePages = codePages
        self.threads = threads
        self.codeWrites = codeWrites
        self.syscalls = syscalls
        self.dataTouches = dataTouches
    }
}

extension StrategyResult {
    /// A result with the numbers given (views and tests build them by hand); `traps` and traps per 1000
    /// instructions are derived from `counts` as the replay derives them.
    public init(name: String, translator: TranslatorKind = .none, unavailable: String? = nil,
                counts: [TrapCause: UInt64], instructions: UInt64 = 0, blocks: UInt64 = 0, scanned: UInt64 = 0,
                translated: UInt64 = 0, estimates: [CostEstimate], sites: [TrapSite] = [], pages: [PageTraps] = [],
                parameters: [String: String] = [:]) {
        self.name = name
        self.translator = translator
        self.parameters = parameters
        self.unavailable = unavailable
        self.counts = counts
        traps = counts.filter { $0.key.isTrap }.values.reduce(0, &+)
        trapsPerKiloInstruction = instructions > 0 ? Double(traps) * 1000 / Double(instructions) : 0
        self.instructions = instructions
        self.blocks = blocks
        self.scanned = scanned
        scans = 0
        self.translated = translated
        translations = 0
        self.sites = sites
        self.pages = pages
        self.estimates = estimates
    }
}
