import CostModel
import Replay
import Symbols
import TraceModel

/// Everything a report shows, independent of how the numbers were produced. `ReplayAdapter` builds one
/// from replay results; tests build them by hand. Renderers only read this.
public struct ReportInput: Sendable, Equatable {
    /// Heading of the report ("PlexLab report: 3 traces").
    public var title: String
    /// The cost profiles shown, in column order; the first is the primary one (site ranking, verdict order).
    public var profiles: [CostProfile]
    public var traces: [ReportTrace]
    /// How many trap sites and pages each table lists.
    public var top: Int

    public init(title: String, profiles: [CostProfile], traces: [ReportTrace], top: Int = 10) {
        self.title = title
        self.profiles = profiles
        self.traces = traces
        self.top = top
    }
}

/// How many times one cause happened.
public struct CauseCount: Sendable, Equatable {
    public var cause: TrapCause
    public var count: UInt64
    /// Whether it is an entry into the monitor (counted as a trap), rather than e.g. an IBTC hit or a link.
    public var isTrap: Bool { cause.isTrap }

    public init(cause: TrapCause, count: UInt64) {
        self.cause = cause
        self.count = count
    }
}

/// Figures about one trace.
public struct ReportSummary: Sendable, Equatable {
    public var instructions: UInt64
    public var blocks: UInt64
    public var distinctBlocks: UInt64
    public var codePages: UInt64
    public var threads: UInt64
    public var codeWrites: UInt64
    public var syscalls: UInt64
    public var dataTouches: UInt64

    public init(instructions: UInt64, blocks: UInt64, distinctBlocks: UInt64 = 0, codePages: UInt64 = 0,
                threads: UInt64 = 1, codeWrites: UInt64 = 0, syscalls: UInt64 = 0, dataTouches: UInt64 = 0) {
        self.instructions = instructions
        self.blocks = blocks
        self.distinctBlocks = distinctBlocks
        self.codePages = codePages
        self.threads = threads
        self.codeWrites = codeWrites
        self.syscalls = syscalls
        self.dataTouches = dataTouches
    }

    /// The figures as one sentence (digits and words only, so it needs no escaping in either format).
    public var sentence: String {
        "\(NumberFormat.integer(instructions)) instructions, \(NumberFormat.integer(blocks)) blocks "
            + "(\(NumberFormat.integer(distinctBlocks)) distinct), \(NumberFormat.integer(codePages)) code pages, "
            + "\(NumberFormat.integer(threads)) threads, \(NumberFormat.integer(codeWrites)) code writes, "
            + "\(NumberFormat.integer(syscalls)) syscalls"
    }
}

/// One trace: its identity and every strategy's numbers.
public struct ReportTrace: Sendable, Equatable {
    /// Short name (the file name without extension).
    public var name: String
    public var path: String
    public var metadata: TraceMetadata
    public var summary: ReportSummary
    /// Page size of the replay, for the pages view.
    public var pageSize: UInt64
    public var strategies: [ReportStrategy]
    /// Module, symbol and instruction of the addresses the tables show (trap sites and page starts).
    public var locations: [UInt64: SiteLocation]

    public init(name: String, path: String, metadata: TraceMetadata, summary: ReportSummary, pageSize: UInt64 = 4096,
                strategies: [ReportStrategy], locations: [UInt64: SiteLocation] = [:]) {
        self.name = name
        self.path = path
        self.metadata = metadata
        self.summary = summary
        self.pageSize = pageSize
        self.strategies = strategies
        self.locations = locations
    }

    public func strategy(_ name: String) -> ReportStrategy? { strategies.first { $0.name == name } }
}

/// Where a shown address lies and what is there.
public struct SiteLocation: Sendable, Equatable {
    public var symbolized: SymbolizedAddress
    /// Intel-syntax disassembly of the instruction at the address, when the trace holds its bytes.
    public var instruction: String?

    public init(symbolized: SymbolizedAddress, instruction: String? = nil) {
        self.symbolized = symbolized
        self.instruction = instruction
    }
}

/// One strategy's numbers for one trace.
public struct ReportStrategy: Sendable, Equatable {
    public var name: String
    /// The translator kind that runs its guest code.
    public var translator: TranslatorKind
    /// Why there are no numbers, else nil.
    public var unavailable: String?
    /// Every cause the strategy counts, in table order (zeros allowed).
    public var counts: [CauseCount]
    public var traps: UInt64
    public var trapsPerKiloInstruction: Double
    public var scanned: UInt64
    public var translated: UInt64
    public var estimates: [CostEstimate]
    /// Counts by guest address (the trapping instruction).
    public var sites: [ReportSite]
    /// Counts by page.
    public var pages: [ReportPage]

    public init(name: String, translator: TranslatorKind = .none, unavailable: String? = nil, counts: [CauseCount], traps: UInt64,
                trapsPerKiloInstruction: Double, scanned: UInt64 = 0, translated: UInt64 = 0,
                estimates: [CostEstimate], sites: [ReportSite] = [], pages: [ReportPage] = []) {
        self.name = name
        self.translator = translator
        self.unavailable = unavailable
        self.counts = counts
        self.traps = traps
        self.trapsPerKiloInstruction = trapsPerKiloInstruction
        self.scanned = scanned
        self.translated = translated
        self.estimates = estimates
        self.sites = sites
        self.pages = pages
    }

    public func estimate(_ profile: String) -> CostEstimate? { estimates.first { $0.profile == profile } }
}

/// Counts by cause at one guest address.
public struct ReportSite: Sendable, Equatable {
    public var address: UInt64
    public var counts: [CauseCount]

    public init(address: UInt64, counts: [CauseCount]) {
        self.address = address
        self.counts = counts
    }

    public var traps: UInt64 { counts.reduce(0) { $1.isTrap ? $0 &+ $1.count : $0 } }
}

/// Counts by cause on one page.
public struct ReportPage: Sendable, Equatable {
    public var page: UInt64
    public var counts: [CauseCount]

    public init(page: UInt64, counts: [CauseCount]) {
        self.page = page
        self.counts = counts
    }

    public var traps: UInt64 { counts.reduce(0) { $1.isTrap ? $0 &+ $1.count : $0 } }
}
