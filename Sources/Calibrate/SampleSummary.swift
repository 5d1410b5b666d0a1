/// The center and spread of one measurement's per-operation figures.
public struct SampleSummary: Sendable, Equatable {
    public var count: Int
    public var median: Double
    /// 10th and 90th percentiles (nearest rank).
    public var p10: Double
    public var p90: Double
    /// Median absolute deviation from the median (unscaled).
    public var mad: Double

    /// Summarizes `values`; nil when there are none.
    public init?(_ values: [Double]) {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        count = sorted.count
        let center = Self.median(ofSorted: sorted)
        median = center
        p10 = Self.percentile(0.10, ofSorted: sorted)
        p90 = Self.percentile(0.90, ofSorted: sorted)
        mad = Self.median(ofSorted: sorted.map { abs($0 - center) }.sorted())
    }

    public init(count: Int, median: Double, p10: Double, p90: Double, mad: Double) {
        self.count = count
        self.median = median
        self.p10 = p10
        self.p90 = p90
        self.mad = mad
    }

    /// The same summary with every figure multiplied by `factor` (a unit conversion).
    public func scaled(by factor: Double) -> SampleSummary {
        SampleSummary(count: count, median: median * factor, p10: p10 * factor, p90: p90 * factor,
                      mad: mad * factor)
    }

    static func median(ofSorted sorted: [Double]) -> Double {
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    /// Nearest-rank percentile: the smallest value with at least `fraction` of the values at or below it.
    static func percentile(_ fraction: Double, ofSorted sorted: [Double]) -> Double {
        let rank = Int((fraction * Double(sorted.count)).rounded(.up))
        return sorted[min(max(rank, 1), sorted.count) - 1]
    }
}
