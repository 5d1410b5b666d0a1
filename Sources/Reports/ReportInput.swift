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
    /// Live runs held against the replay (`plexlab report --fidelity`): the fidelity section, when given.
    public var fidelity: [ReportFidelity]

    public init(title: String, profiles: [CostProfile], traces: [ReportTrace], top: Int = 10,
                fidelity: [ReportFidelity] = []) {
        self.title = title
        self.profiles = profiles
        self.traces = traces
        self.top = top
        self.fidelity = fidelity
    }
}

/// How many times one cause happened: one cell of the ordered lists the tables show (`ordered`).
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

/// One trace: its identity and every strategy's numbers.
public struct ReportTrace: Sendable, Equatable {
    /// Short name (the file name without extension).
    public var name: String
    public var path: String
    public var metadata: TraceMetadata
    public var summary: ReplaySummary
    /// Page size of the replay, for the pages view.
    public var pageSize: UInt64
    public var strategies: [StrategyResult]
    /// Module, symbol and instruction of the addresses the tables show (trap sites and page starts).
    public var locations: [UInt64: SiteLocation]
    /// The processes of a recorded process tree, each with its own traps (empty for one process).
    public var processes: [ProcessResults] = []

    public init(name: String, path: String, metadata: TraceMetadata, summary: ReplaySummary, pageSize: UInt64 = 4096,
                strategies: [StrategyResult], locations: [UInt64: SiteLocation] = [:]) {
        self.name = name
        self.path = path
        self.metadata = metadata
        self.summary = summary
        self.pageSize = pageSize
        self.strategies = strategies
        self.locations = locations
    }

    public func strategy(_ name: String) -> StrategyResult? { strategies.first { $0.name == name } }
}

extension ProcessResults {
    /// The command line as shown in the process tables.
    public var command: String { process.argv.joined(separator: " ") }

    /// Traps of the named strategy in this process alone; nil when it has no numbers here.
    public func traps(_ strategy: String) -> UInt64? {
        strategies.first { $0.name == strategy && $0.unavailable == nil }?.traps
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

extension Dictionary where Key == TrapCause, Value == UInt64 {
    /// The counts in table order (`TrapCause` order), zeros kept.
    public var ordered: [CauseCount] { sorted { $0.key < $1.key }.map { CauseCount(cause: $0.key, count: $0.value) } }
}

extension ReplaySummary {
    /// The figures as one sentence (digits and words only, so it needs no escaping in either format).
    public var sentence: String {
        "\(NumberFormat.integer(instructions)) instructions, \(NumberFormat.integer(blocks)) blocks "
            + "(\(NumberFormat.integer(distinctBlocks)) distinct), \(NumberFormat.integer(codePages)) code pages, "
            + "\(NumberFormat.integer(threads)) threads, \(NumberFormat.integer(codeWrites)) code writes, "
            + "\(NumberFormat.integer(syscalls)) syscalls"
    }
}
