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

    public var mismatches: [FidelityRow] { rows.filter { !$0.matches } }

    /// The replay's predicted slowdown of a strategy under `profile`.
    public func predictedSlowdown(_ strategy: LiveStrategy) -> Double? {
        replay.strategy(strategy.rawValue)?.estimate(profile)?.slowdown
    }
}

public enum Fidelity {
    /// Records `program` under qemu-user into `directory`, replays the recording under the live strategies,
    /// runs the program live, and compares cause by cause. Without `profile`, the prediction is under the
    /// live profile (`LiveProfile.measure`): this host's monitor round trips, measured first.
    public static func run(program: String, arguments: [String], strategies: [LiveStrategy] = LiveStrategy.allCases,
                           profile: CostProfile? = nil, directory: String) throws -> FidelityResult {
        let profile = try profile ?? LiveProfile.measure(directory: (directory as NSString).appendingPathComponent("probes"))
        let trace = (directory as NSString).appendingPathComponent("fidelity.plextrace")
        _ = try Recorder.record(program: program, arguments: arguments, options: RecordOptions(output: trace, overwrite: true))
        let replay = try ReplayEngine.run(tracePath: trace, strategies: strategies.map(\.rawValue), profiles: [profile])
        let live = try LiveRunner.run(program: program, arguments: arguments, strategies: strategies)
        var result = compare(replay: replay, live: live, profile: profile.name)
        result.profileCosts = [CostKey.cpi, .trapInt3, .trapPF, .trapWP, .scanPerInsn].map { ($0, profile[$0]) }
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
        out += "\nslowdown (replay predicted under \(result.profile) vs measured wall ratio, native \(String(format: "%.4f", result.live.native.wall)) s)\n"
        if !result.profileCosts.isEmpty {
            out += "  profile \(result.profile): " + result.profileCosts.map {
                "\($0.key.rawValue) \(String(format: "%.1f", $0.cycles))" }.joined(separator: ", ") + " cycles\n"
        }
        for live in result.live.strategies {
            let predicted = result.predictedSlowdown(live.strategy).map { String(format: "%.2fx", $0) } ?? "-"
            let measured = result.live.slowdown(live.strategy).map { String(format: "%.2fx", $0) } ?? "-"
            out += "  \(live.strategy.rawValue.padding(toLength: 13, withPad: " ", startingAt: 0)) predicted \(predicted)  measured \(measured)\n"
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
        let slowdowns: [JSONText] = result.live.strategies.map {
            ["strategy": .string($0.strategy.rawValue), "profile": .string(result.profile),
             "predicted": JSONText(result.predictedSlowdown($0.strategy).map(JSONText.init)),
             "measured": JSONText(result.live.slowdown($0.strategy).map(JSONText.init))]
        }
        let document: JSONText = ["schema": "plexlab-fidelity/1", "program": .string(result.live.program),
                                  "arguments": .array(result.live.arguments.map(JSONText.string)), "rows": .array(rows),
                                  "slowdowns": .array(slowdowns), "agrees": .bool(result.mismatches.isEmpty)]
        return JSONWriter.write(document, style: .indented(escapingSlashes: true))
    }
}
