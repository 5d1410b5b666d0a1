import Foundation
import Replay

/// A strategy the live monitor really runs (docs/live.md).
public enum LiveStrategy: String, Sendable, CaseIterable {
    case sbe = "sbe"
    case pagefaultNX = "pagefault-nx"

    /// Parses a comma-separated list ("sbe,pagefault-nx"); "all" means every live strategy.
    public static func parse(_ list: String) throws -> [LiveStrategy] {
        var result: [LiveStrategy] = []
        for name in list.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !name.isEmpty {
            if name == "all" { return allCases }
            guard let strategy = LiveStrategy(rawValue: name) else {
                throw LiveError.badStrategy(name)
            }
            if !result.contains(strategy) { result.append(strategy) }
        }
        guard !result.isEmpty else { throw LiveError.badStrategy(list) }
        return result
    }

    /// The causes the strategy counts, as its replay lists them (zeros included in results).
    var causes: [TrapCause] {
        switch self {
        case .sbe: [.call, .jcc, .jmp, .ret, .jmpInd, .callInd, .syscall, .far, .sensitive, .pageCross, .pfWrite]
        case .pagefaultNX: [.pfExec, .int3Fill, .syscall, .far, .sensitive, .pageCross, .pfWrite]
        }
    }
}

/// Wall and CPU seconds of one run.
public struct RunTimes: Sendable, Equatable {
    public var wall: Double
    /// The program's own CPU seconds (user + system, all its threads).
    public var cpu: Double
    /// The monitor's CPU seconds (zero for a plain run).
    public var monitorCPU: Double

    public init(wall: Double = 0, cpu: Double = 0, monitorCPU: Double = 0) {
        self.wall = wall
        self.cpu = cpu
        self.monitorCPU = monitorCPU
    }
}

/// How a run ended.
public enum RunEnd: Sendable, Equatable {
    case exited(Int32)
    case killed(signal: Int32)

    public var description: String {
        switch self {
        case .exited(let status): "exit \(status)"
        case .killed(let signal): "killed by signal \(signal)"
        }
    }
}

/// One strategy's exact counts from one monitored run.
public struct LiveStrategyResult: Sendable, Equatable {
    public var strategy: LiveStrategy
    /// Every cause the strategy counts, zeros included: the sum over threads.
    public var counts: [TrapCause: UInt64]
    /// Per thread (in the order threads started), the same causes.
    public var threads: [[TrapCause: UInt64]]
    /// Instructions decoded by every scan, and the number of scans and extensions (docs/strategies.md section 2).
    public var scanned: UInt64
    public var scans: UInt64
    /// pf_writes by a store on the page it wrote (each stepped alone; the replay's `selfWrites`).
    public var selfWrites: UInt64 = 0
    public var times: RunTimes
    public var end: RunEnd

    /// Monitor entries: the sum of the counts whose cause is a trap.
    public var traps: UInt64 { counts.filter { $0.key.isTrap }.values.reduce(0, &+) }
    public subscript(cause: TrapCause) -> UInt64 { counts[cause] ?? 0 }
    /// The causes with a nonzero count.
    public var nonzero: [TrapCause: UInt64] { counts.filter { $0.value != 0 } }
}

/// One round of a repeated short run: a plain run and the monitored run right after it (wall seconds).
public struct LiveRound: Sendable, Equatable {
    public var plain: Double
    public var monitored: Double

    public init(plain: Double, monitored: Double) {
        self.plain = plain
        self.monitored = monitored
    }
}

/// The monitor-start probe (an exit-only program of the run's mode) run in the same rounds as the program
/// it prices (docs/live.md section 3, "Short runs").
public struct LiveStartProbe: Sendable, Equatable {
    public var program: String
    /// The probe's baseline, taken as the program's (fastest of three, or median of every plain run).
    public var native: Double
    /// Per strategy the kept monitored run (the median of its rounds), with its exact counts.
    public var strategies: [LiveStrategyResult]
    /// Per strategy every round, in the order run: round i of the probe follows round i of the program.
    public var rounds: [LiveStrategy: [LiveRound]]

    public init(program: String, native: Double, strategies: [LiveStrategyResult], rounds: [LiveStrategy: [LiveRound]]) {
        self.program = program
        self.native = native
        self.strategies = strategies
        self.rounds = rounds
    }

    public func strategy(_ strategy: LiveStrategy) -> LiveStrategyResult? { strategies.first { $0.strategy == strategy } }
}

/// A program run plainly and then under each live strategy.
public struct LiveResults: Sendable, Equatable {
    public var program: String
    public var arguments: [String]
    public var is32Bit: Bool
    public var native: RunTimes
    public var nativeEnd: RunEnd
    public var strategies: [LiveStrategyResult]
    /// Per strategy every round (one unless the run was short and repeated), in the order run.
    public var rounds: [LiveStrategy: [LiveRound]] = [:]
    /// The monitor-start probe, when `LiveRunner.run` was asked to run one alongside.
    public var startProbe: LiveStartProbe? = nil

    public func strategy(_ strategy: LiveStrategy) -> LiveStrategyResult? { strategies.first { $0.strategy == strategy } }

    /// Measured live slowdown: monitored wall seconds over native wall seconds (docs/live.md).
    public func slowdown(_ strategy: LiveStrategy) -> Double? {
        guard let result = self.strategy(strategy), native.wall > 0 else { return nil }
        return result.times.wall / native.wall
    }
}
