import CostModel
import Foundation
import Replay
import Workloads

/// Bad input to the gate (baseline, manifest, trace list, threshold); one line naming the problem.
public struct GateError: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// How a gate run is set up beyond the baseline.
public struct GateOptions: Sendable {
    /// Command-line thresholds; they override the baseline's entry for the same selector.
    public var thresholds: [String: Threshold]
    /// Record the numbers as the new baseline instead of failing on changes.
    public var update: Bool
    /// The corpus manifest whose traces are gated when none are named (ignored when the file is absent).
    public var manifestPath: String?

    public init(thresholds: [String: Threshold] = [:], update: Bool = false,
                manifestPath: String? = "Traces/manifest.json") {
        self.thresholds = thresholds
        self.update = update
        self.manifestPath = manifestPath
    }
}

/// One number that moved: where, from what, to what, and what the gate makes of it.
public struct GateChange: Sendable, Equatable {
    public enum Kind: String, Sendable {
        /// Grew beyond its threshold, or a strategy's availability changed: the gate fails.
        case regression
        /// Went down: reported, and the baseline could be updated.
        case improvement
        /// Grew, but not beyond its threshold.
        case withinThreshold = "within threshold"
    }
    public var trace: String
    /// A strategy name, or "-" for a number of the trace itself.
    public var strategy: String
    /// A baseline profile entry, or "-" for metrics that no profile affects.
    public var profile: String
    /// A trap cause, `scanned`, `translated`, `cycles`, `slowdown`, `instructions` or `available`.
    public var metric: String
    public var baseline: Double
    public var now: Double
    public var threshold: Threshold
    public var kind: Kind

    public var change: Double { now - baseline }
    /// Change in percent of the baseline; nil when the baseline is 0.
    public var percent: Double? { baseline != 0 ? (now - baseline) / abs(baseline) * 100 : nil }
}

/// What a gate run found.
public struct GateOutcome: Sendable {
    /// Traces replayed, in order.
    public var traces: [String]
    public var strategies: [String]
    public var profiles: [String]
    /// Numbers compared with the baseline.
    public var compared: Int
    /// Every number that moved, in trace, strategy, profile, metric order.
    public var changes: [GateChange]
    /// The numbers measured now, per trace.
    public var measured: [TraceMeasurement]
    /// With `--update`: the baseline to write.
    public var updatedBaseline: Baseline?

    public var regressions: [GateChange] { changes.filter { $0.kind == .regression } }
    public var improvements: [GateChange] { changes.filter { $0.kind == .improvement } }
    public var withinThreshold: [GateChange] { changes.filter { $0.kind == .withinThreshold } }
    /// 0 when nothing regressed (always 0 when updating), 1 otherwise.
    public var exitCode: Int32 { updatedBaseline != nil || regressions.isEmpty ? 0 : 1 }
}

/// The CI performance gate: replay traces, compare every number with a committed baseline.
public enum Gate {
    /// Replays `traces` under the baseline's strategies, profiles and parameters and compares every
    /// (trace, strategy, profile, metric) with it. Throws `GateError` on bad input: a trace the baseline
    /// does not hold (unless updating), a trace file that does not exist, an unknown strategy, profile,
    /// parameter or threshold selector.
    public static func check(baseline: Baseline, traces: [String], options: GateOptions = GateOptions()) throws -> GateOutcome {
        let setup = try GateMeasure.Setup(baseline)
        for selector in (Array(baseline.thresholds.keys) + Array(options.thresholds.keys)).sorted()
        where !GateMetric.isSelector(selector) {
            throw GateError(GateMetric.unknownSelector(selector))
        }
        let thresholds = baseline.thresholds.merging(options.thresholds) { _, command in command }
        if traces.isEmpty { throw GateError("no traces to gate (name some, or list them in the manifest or the baseline)") }
        for path in traces {
            if !options.update {
                guard let entry = baseline.trace(path) else {
                    throw GateError("trace \(path) is not in the baseline (add it with --update)")
                }
                try checkComplete(entry, setup: setup)
            }
            if !FileManager.default.fileExists(atPath: path) {
                throw GateError(baseline.trace(path) != nil ? "trace \(path), listed in the baseline, does not exist"
                                                            : "trace \(path) does not exist")
            }
        }

        var changes: [GateChange] = []
        var compared = 0
        var measured: [TraceMeasurement] = []
        for path in traces {
            let now = try GateMeasure.measure(tracePath: path, setup: setup)
            measured.append(now)
            guard let before = baseline.trace(path) else { continue }
            let result = compare(before, now, strategies: setup.strategies,
                                 profiles: setup.profiles.map(\.entry), thresholds: thresholds)
            compared += result.compared
            changes += result.changes
        }

        var updated: Baseline?
        if options.update {
            var next = baseline
            next.strategies = setup.strategies
            for trace in measured {
                var entry = trace
                if let index = next.traces.firstIndex(where: { Baseline.normalise($0.path) == Baseline.normalise(trace.path) }) {
                    entry.path = next.traces[index].path
                    next.traces[index] = entry
                } else {
                    next.traces.append(entry)
                }
            }
            updated = next
        }
        return GateOutcome(traces: traces, strategies: setup.strategies, profiles: setup.profiles.map(\.entry),
                           compared: compared, changes: changes, measured: measured, updatedBaseline: updated)
    }

    /// The whole `plexlab gate` run: loads the baseline (a fresh one when updating and it does not exist),
    /// picks the traces (named ones, else the manifest's and the baseline's), checks, and with
    /// `options.update` writes the new baseline. Without named traces an update keeps only the traces
    /// that exist, so deleting a trace and updating drops it.
    public static func run(baselinePath: String, traces named: [String], options: GateOptions) throws -> GateOutcome {
        var baseline: Baseline
        if options.update && !FileManager.default.fileExists(atPath: baselinePath) {
            baseline = fresh()
        } else {
            baseline = try Baseline.load(path: baselinePath)
        }
        var traces = named
        if named.isEmpty {
            let manifest = try options.manifestPath.flatMap { path in
                FileManager.default.fileExists(atPath: path) ? try manifestTraces(path) : nil
            } ?? []
            traces = defaultTraces(baseline: baseline, manifest: manifest)
            if options.update {
                let keep = Set(manifest.map(Baseline.normalise))
                baseline.traces.removeAll { !FileManager.default.fileExists(atPath: $0.path) && !keep.contains(Baseline.normalise($0.path)) }
                traces.removeAll { path in !FileManager.default.fileExists(atPath: path) && !keep.contains(Baseline.normalise(path)) }
            }
        }
        let outcome = try check(baseline: baseline, traces: traces, options: options)
        if let updated = outcome.updatedBaseline { try updated.write(to: baselinePath) }
        return outcome
    }

    /// The corpus manifest's traces (Workloads owns the format), its problems as bad input.
    static func manifestTraces(_ path: String) throws -> [String] {
        do { return try CorpusManifestFile.tracePaths(path: path) } catch let error as CorpusManifestError {
            throw GateError(error.description)
        }
    }

    /// A baseline entry must hold every strategy of the baseline and, where available, every profile.
    static func checkComplete(_ entry: TraceMeasurement, setup: GateMeasure.Setup) throws {
        for strategy in setup.strategies {
            guard let result = entry.strategies[strategy] else {
                throw GateError("baseline entry \(entry.path) has no numbers for strategy \"\(strategy)\" (refresh it with --update)")
            }
            if result.unavailable != nil { continue }
            for (profile, _) in setup.profiles where result.estimate(profile) == nil {
                throw GateError("baseline entry \(entry.path), strategy \(strategy), has no numbers for profile \"\(profile)\" (refresh it with --update)")
            }
        }
    }

    /// The baseline's traces in its order, then the manifest's that it does not hold.
    public static func defaultTraces(baseline: Baseline, manifest: [String]) -> [String] {
        var traces = baseline.traces.map(\.path)
        var seen = Set(traces.map(Baseline.normalise))
        for path in manifest where seen.insert(Baseline.normalise(path)).inserted { traces.append(path) }
        return traces
    }

    /// A new baseline: every strategy, the built-in profiles, default parameters, exact thresholds.
    public static func fresh() -> Baseline {
        Baseline(strategies: ["all"], profiles: CostProfile.builtIn.map(\.name), parameters: ReplayParameters().all)
    }

    /// Every number of one trace compared; counts a cause the other side lacks as 0.
    static func compare(_ before: TraceMeasurement, _ now: TraceMeasurement, strategies: [String], profiles: [String],
                        thresholds: [String: Threshold]) -> (compared: Int, changes: [GateChange]) {
        var changes: [GateChange] = []
        var compared = 0
        func check(_ strategy: String, _ profile: String, _ metric: String, _ old: Double, _ new: Double, isCause: Bool) {
            compared += 1
            guard old != new else { return }
            let threshold = GateMetric.threshold(for: metric, isCause: isCause, in: thresholds)
            let kind: GateChange.Kind = new < old ? .improvement
                : new - old > threshold.allowance(over: old) ? .regression : .withinThreshold
            changes.append(GateChange(trace: before.path, strategy: strategy, profile: profile, metric: metric,
                                      baseline: old, now: new, threshold: threshold, kind: kind))
        }
        check("-", "-", "instructions", Double(before.instructions), Double(now.instructions), isCause: false)
        for strategy in strategies {
            let old = before.strategies[strategy] ?? .gated(strategy, unavailable: "not in the baseline")
            let new = now.strategies[strategy] ?? .gated(strategy, unavailable: "not replayed")
            if (old.unavailable == nil) != (new.unavailable == nil) {
                compared += 1
                changes.append(GateChange(trace: before.path, strategy: strategy, profile: "-", metric: "available",
                                          baseline: old.unavailable == nil ? 1 : 0, now: new.unavailable == nil ? 1 : 0,
                                          threshold: .exact, kind: .regression))
                continue
            }
            if old.unavailable != nil { continue }
            for cause in Set(old.counts.keys).union(new.counts.keys).sorted() {
                check(strategy, "-", cause.rawValue, Double(old.counts[cause] ?? 0), Double(new.counts[cause] ?? 0), isCause: true)
            }
            check(strategy, "-", "scanned", Double(old.scanned), Double(new.scanned), isCause: false)
            check(strategy, "-", "translated", Double(old.translated), Double(new.translated), isCause: false)
            for profile in profiles {
                let (before, after) = (old.estimate(profile), new.estimate(profile))
                check(strategy, profile, "cycles", before?.cycles ?? 0, after?.cycles ?? 0, isCause: false)
                check(strategy, profile, "slowdown", before?.slowdown ?? 0, after?.slowdown ?? 0, isCause: false)
            }
        }
        return (compared, changes)
    }
}
