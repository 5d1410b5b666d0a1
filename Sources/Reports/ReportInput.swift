import Symbols
import TraceModel

/// Everything a report shows, independent of how the numbers were produced. `ReplayAdapter` builds one
/// from replay results; tests build them by hand. Renderers only read this.
public struct ReportInput: Sendable, Equatable {
    /// Heading of the report ("PlexLab report: 3 traces").
    public var title: String
    /// The cost profiles shown, in column order; the first is the primary one (site ranking, verdict order).
    public var profiles: [ReportProfile]
    public var traces: [ReportTrace]
    /// How many trap sites and pages each table lists.
    public var top: Int

    public init(title: String, profiles: [ReportProfile], traces: [ReportTrace], top: Int = 10) {
        self.title = title
        self.profiles = profiles
        self.traces = traces
        self.top = top
    }
}

/// What a profile charges, enough to split a strategy's cycles by cause.
public struct ReportProfile: Sendable, Equatable {
    public var name: String
    public var description: String
    public var cyclesPerInstruction: Double
    public var scanPerInstruction: Double
    public var translatePerInstruction: Double
    /// Cycles charged per count of each cause; causes that cost nothing by themselves are absent.
    public var causeCost: [String: Double]
    /// Per translator kind (`ReportStrategy.translator`): the factor on cpi its code runs at, and its cycles
    /// per executed block (docs/strategies.md section 4); absent kinds run at factor 1 with no block cost.
    public var codeFactor: [String: Double]
    public var blockCost: [String: Double]

    public init(name: String, description: String = "", cyclesPerInstruction: Double, scanPerInstruction: Double,
                translatePerInstruction: Double, causeCost: [String: Double], codeFactor: [String: Double] = [:],
                blockCost: [String: Double] = [:]) {
        self.codeFactor = codeFactor
        self.blockCost = blockCost
        self.name = name
        self.description = description
        self.cyclesPerInstruction = cyclesPerInstruction
        self.scanPerInstruction = scanPerInstruction
        self.translatePerInstruction = translatePerInstruction
        self.causeCost = causeCost
    }

    public func cost(of cause: String) -> Double { causeCost[cause] ?? 0 }
}

/// How many times one cause happened.
public struct CauseCount: Sendable, Equatable {
    public var cause: String
    public var count: UInt64
    /// Whether it is an entry into the monitor (counted as a trap), rather than e.g. an IBTC hit or a link.
    public var isTrap: Bool

    public init(cause: String, count: UInt64, isTrap: Bool = true) {
        self.cause = cause
        self.count = count
        self.isTrap = isTrap
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
    /// The processes of a recorded process tree, each with its own traps (empty for one process).
    public var processes: [ReportProcess] = []

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

/// One process of a tree: who it is, its blocks and each strategy's traps in it alone.
public struct ReportProcess: Sendable, Equatable {
    public var id: Int
    public var origin: String
    public var command: String
    /// "exit 0", "signal 9" or how it ended.
    public var end: String
    public var blocks: UInt64
    /// Traps per strategy name (strategies without numbers are absent).
    public var traps: [String: UInt64]
    public init(id: Int, origin: String, command: String, end: String, blocks: UInt64, traps: [String: UInt64]) {
        self.id = id
        self.origin = origin
        self.command = command
        self.end = end
        self.blocks = blocks
        self.traps = traps
    }
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
    /// The translator kind that runs its guest code ("none", "same-isa", "cross-isa").
    public var translator: String
    /// Why there are no numbers, else nil.
    public var unavailable: String?
    /// Every cause the strategy counts, in table order (zeros allowed).
    public var counts: [CauseCount]
    public var traps: UInt64
    public var trapsPerKiloInstruction: Double
    public var scanned: UInt64
    public var translated: UInt64
    public var estimates: [ReportEstimate]
    /// Counts by guest address (the trapping instruction).
    public var sites: [ReportSite]
    /// Counts by page.
    public var pages: [ReportPage]

    public init(name: String, translator: String = "none", unavailable: String? = nil, counts: [CauseCount], traps: UInt64,
                trapsPerKiloInstruction: Double, scanned: UInt64 = 0, translated: UInt64 = 0,
                estimates: [ReportEstimate], sites: [ReportSite] = [], pages: [ReportPage] = []) {
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

    public func estimate(_ profile: String) -> ReportEstimate? { estimates.first { $0.profile == profile } }
}

/// A strategy's cost under one profile, as the replay computed it.
public struct ReportEstimate: Sendable, Equatable {
    public var profile: String
    public var cycles: Double
    /// cycles / cycles of native under the same profile.
    public var slowdown: Double

    public init(profile: String, cycles: Double, slowdown: Double) {
        self.profile = profile
        self.cycles = cycles
        self.slowdown = slowdown
    }
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
