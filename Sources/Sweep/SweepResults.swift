import CostModel
import Foundation
import Replay

/// One tidy row: a point under one profile (docs/sweep.md, "Outputs").
public struct SweepRow: Sendable, Equatable {
    public var trace: String
    public var strategy: String
    /// The swept values this strategy depends on (empty for a strategy no swept key affects).
    public var swept: [String: String]
    public var profile: String
    public var result: PointResult
    /// The estimate under `profile` (nil when the strategy has no numbers for the trace).
    public var estimate: CostEstimate? { result.estimates.first { $0.profile == profile } }
}

/// What a curve plots: monitor entries, or the slowdown under the first profile.
public enum SweepMetric: String, Sendable, CaseIterable {
    case traps
    case slowdown

    func value(_ row: SweepRow) -> Double? {
        guard row.result.unavailable == nil else { return nil }
        switch self {
        case .traps: return Double(row.result.traps)
        case .slowdown: return row.estimate?.slowdown
        }
    }
}

/// One line of a chart: a metric of one strategy on one trace against one swept key, the other swept
/// keys held at `held`; with its knee.
public struct SweepCurve: Sendable, Equatable {
    public var trace: String
    public var strategy: String
    public var key: String
    public var held: [String: String]
    public var metric: SweepMetric
    /// The profile of `slowdown` values.
    public var profile: String
    public var points: [(x: UInt64, y: Double)]
    /// Index into `points` of the knee (docs/sweep.md, "Knee").
    public var knee: Int

    public static func == (a: SweepCurve, b: SweepCurve) -> Bool {
        a.trace == b.trace && a.strategy == b.strategy && a.key == b.key && a.held == b.held && a.metric == b.metric
            && a.profile == b.profile && a.knee == b.knee && a.points.map(\.x) == b.points.map(\.x) && a.points.map(\.y) == b.points.map(\.y)
    }
}

/// Every row of a finished sweep, and its curves.
public struct SweepResults: Sendable {
    public var plan: SweepPlan
    /// Point by point, profile by profile, in plan order.
    public var rows: [SweepRow]
    public var kneeFraction: Double

    /// The results of `plan` from its finished points; a missing point is an error naming how many miss.
    public init(plan: SweepPlan, finished: [Int: PointResult], kneeFraction: Double) throws {
        self.plan = plan
        self.kneeFraction = kneeFraction
        let missing = plan.points.filter { finished[$0.id] == nil }
        if let first = missing.first {
            let shards = Set(missing.compactMap { point in plan.shards.firstIndex { $0.points.contains(point.id) } }).sorted()
            throw SweepError("\(missing.count) of \(plan.points.count) points are not finished (point \(first.id) first; shards \(shards.map(String.init).joined(separator: ",")))")
        }
        let profiles = try ProfileSelection(plan.spec.profiles).profiles.map(\.name)
        rows = plan.points.flatMap { point in
            profiles.map { SweepRow(trace: plan.spec.traces[point.trace], strategy: point.strategy, swept: point.swept,
                                    profile: $0, result: finished[point.id]!) }
        }
    }

    /// Every curve: per numeric swept key with at least two values, per strategy that depends on it, per
    /// trace, per combination of the other swept values; traps, then slowdown under the first profile.
    public var curves: [SweepCurve] {
        guard let profile = rows.first?.profile else { return [] }
        let primary = rows.filter { $0.profile == profile }
        var curves: [SweepCurve] = []
        for axis in plan.spec.grid.axes where axis.values.count > 1 && axis.values.allSatisfy({ UInt64($0) != nil }) {
            for strategy in plan.spec.strategies {
                // Grouped once: a corpus sweep has thousands of traces.
                let byTrace = Dictionary(grouping: primary.filter { $0.strategy == strategy && $0.swept[axis.key] != nil }, by: \.trace)
                for trace in plan.spec.traces {
                    let ofTrace = byTrace[trace] ?? []
                    var helds: [[String: String]] = []
                    for row in ofTrace {
                        let held = row.swept.filter { $0.key != axis.key }
                        if !helds.contains(held) { helds.append(held) }
                    }
                    for held in helds {
                        let line = ofTrace.filter { $0.swept.filter { $0.key != axis.key } == held }
                            .sorted { UInt64($0.swept[axis.key]!)! < UInt64($1.swept[axis.key]!)! }
                        for metric in SweepMetric.allCases {
                            let values = line.compactMap { row in metric.value(row).map { (x: UInt64(row.swept[axis.key]!)!, y: $0) } }
                            guard values.count == line.count, !values.isEmpty else { continue }
                            curves.append(SweepCurve(trace: trace, strategy: strategy, key: axis.key, held: held, metric: metric,
                                                     profile: profile, points: values,
                                                     knee: Knee.index(values.map(\.y), fraction: kneeFraction)))
                        }
                    }
                }
            }
        }
        return curves
    }
}

/// The knee of a curve whose metric falls (improves) as the swept value grows (docs/sweep.md):
/// the first point k with  y_k − min_{j≥k} y_j ≤ f · y_k, i.e. beyond which the metric improves by
/// less than the fraction f of its value there (by nothing, for the last point).
public enum Knee {
    public static func index(_ values: [Double], fraction: Double) -> Int {
        guard !values.isEmpty else { return 0 }
        var suffixMin = values
        for k in stride(from: values.count - 2, through: 0, by: -1) { suffixMin[k] = min(values[k], suffixMin[k + 1]) }
        for k in values.indices where values[k] - suffixMin[k] <= fraction * values[k] { return k }
        return values.count - 1
    }
}
