import Calibrate
import CostModel
import Foundation
import LiveMonitor
import Recorder
import Replay
import TraceModel

/// One cause of one strategy: what the replay predicted and what the live monitor counted.
public struct FidelityRow: Sendable, Equatable {
    public var strategy: LiveStrategy
    public var cause: TrapCause
    public var replay: UInt64
    public var live: UInt64
    public var matches: Bool { replay == live }

    public init(strategy: LiveStrategy, cause: TrapCause, replay: UInt64, live: UInt64) {
        self.strategy = strategy
        self.cause = cause
        self.replay = replay
        self.live = live
    }
}

/// The replay of a recording held against live runs of the same program (docs/live.md).
public struct FidelityResult: Sendable {
    public var replay: TraceResults
    public var live: LiveResults
    /// Every cause either side counts, per live strategy, in the replay's cause order.
    public var rows: [FidelityRow]
    /// The profile the predicted slowdowns are under.
    public var profile: String
    /// The profile's cpi and trap keys in cycles, when `run` knew the whole profile (printed under the table).
    public var profileCosts: [(key: CostKey, cycles: Double)] = []
    /// This host's cycles per nanosecond (the clock `plexlab calibrate` uses), to turn cycles into seconds.
    public var cyclesPerNanosecond: Double?
    /// Seconds the monitor's own start and end add to a run, per strategy: the start probe run in the program's
    /// rounds (`LiveRunner.run(startProbe:)`), less its traps (`ShortRunEstimate.start`).
    public var monitorStart: [LiveStrategy: Double] = [:]
    /// What code writes cost the monitor beyond their counted causes (`LiveWriteCosts`), when measured.
    public var writeCosts = LiveWriteCosts()
    /// Per strategy, the start probe's own traps at the profile's prices (`LiveProfile.trapSeconds`).
    public var startProbeTrapSeconds: [LiveStrategy: Double] = [:]

    public var mismatches: [FidelityRow] { rows.filter { !$0.matches } }

    /// The replay's own slowdown: its cycles over instructions x cpi (docs/strategies.md section 4).
    public func replaySlowdown(_ strategy: LiveStrategy) -> Double? {
        replay.strategy(strategy.rawValue)?.estimate(profile)?.slowdown
    }

    /// Seconds the replay predicts the strategy adds to the program: its cycles beyond native (the traps and
    /// scans priced by the profile) at this host's clock, plus what its code writes cost the monitor beyond
    /// their causes (`writeSeconds`). Nil without the clock.
    public func predictedOverhead(_ strategy: LiveStrategy) -> Double? {
        guard let cyclesPerNanosecond, let estimate = replay.strategy(strategy.rawValue)?.estimate(profile),
              estimate.slowdown > 0 else { return nil }
        return (estimate.cycles - estimate.cycles / estimate.slowdown) / (cyclesPerNanosecond * 1e9) + writeSeconds(strategy)
    }

    /// The replay's code writes at `writeCosts` (docs/live.md section 3, "Code writes").
    public func writeSeconds(_ strategy: LiveStrategy) -> Double {
        guard let replayed = replay.strategy(strategy.rawValue) else { return 0 }
        return writeCosts.seconds(strategy, pfWrite: replayed[.pfWrite], selfWrites: replayed.selfWrites)
    }

    /// The predicted slowdown held against the measured one (docs/live.md section 3): the measured native
    /// run plus the monitor's start plus the replay's predicted overhead, over the measured native run.
    /// Without the clock (`compare` alone), the replay's own slowdown.
    public func predictedSlowdown(_ strategy: LiveStrategy) -> Double? {
        guard let overhead = predictedOverhead(strategy) else { return replaySlowdown(strategy) }
        let native = live.native.wall
        guard native > 0 else { return nil }
        return (native + (monitorStart[strategy] ?? 0) + overhead) / native
    }

    /// The prediction's error (predicted / measured - 1) in each round of the strategy's runs, each round
    /// priced with its own plain run and its own start probe (`ShortRunEstimate.roundErrors`): one value
    /// unless the run was short and repeated. Empty without the clock.
    public func roundErrors(_ strategy: LiveStrategy) -> [Double] {
        guard let overhead = predictedOverhead(strategy), let rounds = live.rounds[strategy] else { return [] }
        return ShortRunEstimate.roundErrors(program: rounds, probe: live.startProbe?.rounds[strategy] ?? [],
                                            trapSeconds: startProbeTrapSeconds[strategy] ?? 0,
                                            start: monitorStart[strategy] ?? 0, overhead: overhead)
    }
}

public enum Fidelity {
    /// Monitored runs shorter than 0.1 s are run this many times and the median kept; the monitor start is
    /// measured in the same rounds (docs/live.md section 3, "Short runs").
    public static let shortRunRepetitions = 9

    /// Records `program` under qemu-user into `directory`, replays the recording under the live strategies,
    /// runs the program live, and compares cause by cause. Without `profile`, the prediction is under the
    /// live profile (`LiveProfile.calibrate`): this host's monitor round trips, measured first. With `timing`
    /// false (counts only), the monitor start and code-write probes are not run and short runs not repeated.
    public static func run(program: String, arguments: [String], strategies: [LiveStrategy] = LiveStrategy.allCases,
                           profile: CostProfile? = nil, directory: String, timing: Bool = true) throws -> FidelityResult {
        let probes = (directory as NSString).appendingPathComponent("probes")
        let calibration = profile == nil ? try LiveProfile.calibrate(directory: probes) : nil
        let profile = profile ?? calibration!.profile
        let trace = (directory as NSString).appendingPathComponent("fidelity.plextrace")
        _ = try Recorder.record(program: program, arguments: arguments, options: RecordOptions(output: trace, overwrite: true))
        let replay = try ReplayEngine.run(tracePath: trace, strategies: strategies.map(\.rawValue), profiles: [profile])
        let start = (directory as NSString).appendingPathComponent("start")
        let live = try LiveRunner.run(program: program, arguments: arguments, strategies: strategies,
                                      shortRunRepetitions: timing ? shortRunRepetitions : 1,
                                      startProbe: timing ? { try LiveProfile.startProbe(directory: start, arch: $0 ? .i386 : .x86_64) } : nil)
        var result = compare(replay: replay, live: live, profile: profile.name)
        result.profileCosts = [CostKey.cpi, .trapInt3, .trapInt3Fill, .trapPF, .trapWP, .scanPerInsn].map { ($0, profile[$0]) }
        result.cyclesPerNanosecond = try Calibrator.clock().cyclesPerNanosecond
        guard timing else { return result }
        result.writeCosts = try calibration?.writeCosts
            ?? LiveProfile.measureWriteCosts(directory: probes, profile: profile, cyclesPerNanosecond: result.cyclesPerNanosecond!)
        if let probe = live.startProbe {
            for run in probe.strategies {
                let trapSeconds = LiveProfile.trapSeconds(run.counts, profile: profile, cyclesPerNanosecond: result.cyclesPerNanosecond!)
                result.startProbeTrapSeconds[run.strategy] = trapSeconds
                result.monitorStart[run.strategy] = ShortRunEstimate.start(monitored: run.times.wall, native: probe.native,
                                                                           trapSeconds: trapSeconds)
            }
        }
        return result
    }

    /// Rows for every live strategy the replay also has: a cause appears when either side counts it.
    public static func compare(replay: TraceResults, live: LiveResults, profile: String) -> FidelityResult {
        var rows: [FidelityRow] = []
        for result in live.strategies {
            let replayed = replay.strategy(result.strategy.rawValue)?.counts ?? [:]
            let causes = Set(replayed.keys).union(result.counts.keys).sorted()
            for cause in causes {
                rows.append(FidelityRow(strategy: result.strategy, cause: cause, replay: replayed[cause] ?? 0,
                                        live: result[cause]))
            }
        }
        return FidelityResult(replay: replay, live: live, rows: rows, profile: profile)
    }

    /// Side-by-side table: counts per strategy and cause, then predicted against measured slowdown.
    public static func render(_ result: FidelityResult) -> String {
        var out = "\(result.live.program) \(result.live.arguments.joined(separator: " "))\n"
        out += "strategy      cause        replay        live  \n"
        for row in result.rows where row.replay != 0 || row.live != 0 {
            out += row.strategy.rawValue.padding(toLength: 14, withPad: " ", startingAt: 0)
                + row.cause.rawValue.padding(toLength: 11, withPad: " ", startingAt: 0)
                + String(format: "%9llu %11llu  %@\n", row.replay, row.live, row.matches ? "=" : "DIFFERS")
        }
        out += "\nslowdown (predicted under \(result.profile): native + monitor start + the replay's overhead, over native; "
            + "measured: wall ratio; native \(String(format: "%.4f", result.live.native.wall)) s)\n"
        if !result.profileCosts.isEmpty {
            out += "  profile \(result.profile): " + result.profileCosts.map {
                "\($0.key.rawValue) \(String(format: "%.1f", $0.cycles))" }.joined(separator: ", ") + " cycles\n"
        }
        for live in result.live.strategies {
            let predicted = result.predictedSlowdown(live.strategy).map { String(format: "%.2fx", $0) } ?? "-"
            let measured = result.live.slowdown(live.strategy).map { String(format: "%.2fx", $0) } ?? "-"
            var line = "  \(live.strategy.rawValue.padding(toLength: 13, withPad: " ", startingAt: 0)) predicted \(predicted)  measured \(measured)"
            if let p = result.predictedSlowdown(live.strategy), let m = result.live.slowdown(live.strategy), m > 0 {
                line += String(format: "  (%+.0f%%", (p / m - 1) * 100)
                let errors = result.roundErrors(live.strategy)
                if errors.count > 1, let low = errors.min(), let high = errors.max() {
                    line += String(format: "; %+.0f%% to %+.0f%% over %d rounds", low * 100, high * 100, errors.count)
                }
                line += ")"
            }
            out += line + "\n"
        }
        let mismatches = result.mismatches.count
        out += mismatches == 0 ? "\nevery count agrees\n" : "\n\(mismatches) count(s) differ\n"
        return out
    }

    public static func json(_ result: FidelityResult) throws -> String {
        let rows: [JSONText] = result.rows.map {
            ["strategy": .string($0.strategy.rawValue), "cause": .string($0.cause.rawValue), "replay": JSONText($0.replay),
             "live": JSONText($0.live), "matches": .bool($0.matches)]
        }
        func number(_ value: Double?) -> JSONText { JSONText(value.map(JSONText.init)) }
        let slowdowns: [JSONText] = result.live.strategies.map {
            ["strategy": .string($0.strategy.rawValue), "profile": .string(result.profile),
             "predicted": number(result.predictedSlowdown($0.strategy)),
             "measured": number(result.live.slowdown($0.strategy)),
             "replay_slowdown": number(result.replaySlowdown($0.strategy)),
             "predicted_overhead_seconds": number(result.predictedOverhead($0.strategy)),
             "monitor_start_seconds": number(result.monitorStart[$0.strategy]),
             "round_errors": .array(result.roundErrors($0.strategy).map { JSONText($0) }),
             "self_writes": JSONText(result.replay.strategy($0.strategy.rawValue)?.selfWrites ?? 0),
             "write_seconds": JSONText(result.writeSeconds($0.strategy)),
             "native_seconds": JSONText(result.live.native.wall), "monitored_seconds": JSONText($0.times.wall)]
        }
        let costs = JSONText.object(Dictionary(uniqueKeysWithValues: result.profileCosts.map { ($0.key.rawValue, JSONText($0.cycles)) }))
        let document: JSONText = ["schema": "plexlab-fidelity/1", "program": .string(result.live.program),
                                  "profile_costs": costs, "cycles_per_ns": number(result.cyclesPerNanosecond),
                                  "arguments": .array(result.live.arguments.map(JSONText.string)), "rows": .array(rows),
                                  "slowdowns": .array(slowdowns), "agrees": .bool(result.mismatches.isEmpty)]
        return JSONWriter.write(document, style: .indented(escapingSlashes: true))
    }
}
