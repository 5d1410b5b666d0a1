import Replay

/// Why a sweep cannot run or its files cannot be read: one line.
public struct SweepError: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The swept parameters: `--grid key=v1,v2,...` per key, each value checked as `--param key=value` is
/// (docs/sweep.md). Values keep the order given; numeric keys are sorted ascending so curves run left
/// to right.
public struct SweepGrid: Sendable, Equatable {
    /// Swept keys in the order given, each with its distinct values.
    public private(set) var axes: [(key: String, values: [String])] = []

    public init() {}

    /// Parses every `--grid` argument over `fixed` (the `--param` settings, which must not name a swept key).
    public init(arguments: [String], fixed: [String] = []) throws {
        let fixedKeys = Set(fixed.compactMap { $0.split(separator: "=", maxSplits: 1).first.map(String.init) })
        for argument in arguments {
            guard let equals = argument.firstIndex(of: "="), equals != argument.startIndex else {
                throw SweepError("grid \"\(argument)\" is not key=v1,v2,...")
            }
            let key = String(argument[..<equals])
            let text = argument[argument.index(after: equals)...]
            guard !axes.contains(where: { $0.key == key }) else { throw SweepError("grid key \(key) is given twice") }
            guard !fixedKeys.contains(key) else { throw SweepError("\(key) is both swept (--grid) and fixed (--param)") }
            var values: [String] = []
            for piece in text.split(separator: ",", omittingEmptySubsequences: false) {
                let value = piece.trimmingCharacters(in: .whitespaces)
                guard !value.isEmpty else { throw SweepError("grid \(key): empty value in \"\(text)\"") }
                var probe = ReplayParameters()
                do { try probe.set(key, to: value) } catch let error as ReplayParameterError {
                    throw SweepError("--grid: \(error.description)")
                }
                // Spelt as the replay spells it (ibtc-size=0064 is 64), so duplicates are found and rows match.
                let canonical = probe.all[key] ?? value
                if !values.contains(canonical) { values.append(canonical) }
            }
            if values.allSatisfy({ UInt64($0) != nil }) { values.sort { UInt64($0)! < UInt64($1)! } }
            axes.append((key, values))
        }
    }

    public var keys: [String] { axes.map(\.key) }

    /// Every combination of the axes whose key is in `keys` (one empty combination when none is).
    public func points(over keys: Set<String>) -> [[String: String]] {
        var result: [[String: String]] = [[:]]
        for axis in axes where keys.contains(axis.key) {
            result = result.flatMap { partial in axis.values.map { value in partial.merging([axis.key: value]) { $1 } } }
        }
        return result
    }

    public static func == (a: SweepGrid, b: SweepGrid) -> Bool {
        a.axes.map(\.key) == b.axes.map(\.key) && a.axes.map(\.values) == b.axes.map(\.values)
    }
}
