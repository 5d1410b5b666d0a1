import Replay
import TraceModel

/// How much a metric may grow before the gate calls it a regression.
public enum Threshold: Sendable, Equatable, CustomStringConvertible {
    /// Growth up to `fraction` of the baseline value passes (`rel:0.02` = 2 %).
    case relative(Double)
    /// Growth up to `amount` passes (`abs:10`).
    case absolute(Double)

    /// Counts and cycles of a deterministic replay may not grow at all.
    public static let exact = Threshold.absolute(0)

    /// Parses `rel:0.02` or `abs:10` (non-negative, finite).
    public init(parsing text: String) throws {
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2, let value = Double(parts[1]), value.isFinite, value >= 0 else {
            throw GateError("threshold \"\(text)\" is not rel:FRACTION or abs:AMOUNT with a number >= 0")
        }
        switch parts[0] {
        case "rel": self = .relative(value)
        case "abs": self = .absolute(value)
        default: throw GateError("threshold \"\(text)\" is not rel:FRACTION or abs:AMOUNT with a number >= 0")
        }
    }

    /// Parses `--threshold` settings, `METRIC=rel:0.02` or `METRIC=abs:10`, into a table by metric (a later
    /// setting of a metric wins); a metric must be a selector (`GateMetric.isSelector`).
    public static func table(settings: [String]) throws -> [String: Threshold] {
        var table: [String: Threshold] = [:]
        for setting in settings {
            guard let equals = setting.firstIndex(of: "="), equals != setting.startIndex else {
                throw GateError("--threshold \"\(setting)\" is not METRIC=rel:FRACTION or METRIC=abs:AMOUNT")
            }
            let metric = String(setting[..<equals])
            let threshold = try Threshold(parsing: String(setting[setting.index(after: equals)...]))
            guard GateMetric.isSelector(metric) else {
                throw GateError(GateMetric.unknownSelector(metric))
            }
            table[metric] = threshold
        }
        return table
    }

    public var description: String {
        switch self {
        case .relative(let fraction): "rel:\(NumberFormat.plain(fraction))"
        case .absolute(let amount): "abs:\(NumberFormat.plain(amount))"
        }
    }

    /// The growth allowed over `baseline`.
    public func allowance(over baseline: Double) -> Double {
        switch self {
        case .relative(let fraction): fraction * abs(baseline)
        case .absolute(let amount): amount
        }
    }
}

/// The metrics the gate compares, and the names thresholds select them by.
public enum GateMetric {
    /// Metrics that do not depend on a cost profile.
    public static let profileFree = ["instructions", "scanned", "translated"]
    /// Metrics computed per cost profile.
    public static let perProfile = ["cycles", "slowdown"]
    /// Selects every trap count by cause.
    public static let countsSelector = "counts"
    /// Selects every metric.
    public static let allSelector = "*"

    /// Whether `name` can be given a threshold: a metric, a cause, `counts` or `*`.
    public static func isSelector(_ name: String) -> Bool {
        name == countsSelector || name == allSelector || profileFree.contains(name) || perProfile.contains(name)
            || TrapCause(rawValue: name) != nil
    }

    /// The one-line error for a selector that is none.
    static func unknownSelector(_ name: String) -> String {
        "unknown threshold metric \"\(name)\" (a trap cause, scanned, translated, cycles, slowdown, instructions, counts or *)"
    }

    /// The threshold for `metric`: its own entry, else `counts` for a cause, else `*`, else exact.
    public static func threshold(for metric: String, isCause: Bool, in table: [String: Threshold]) -> Threshold {
        if let own = table[metric] { return own }
        if isCause, let counts = table[countsSelector] { return counts }
        return table[allSelector] ?? .exact
    }
}
