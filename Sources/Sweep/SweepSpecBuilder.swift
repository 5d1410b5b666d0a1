import CostModel
import Foundation
import Replay

extension SweepSpec {
    /// A spec from command-line values: traces and profile files made absolute (shards may run elsewhere),
    /// strategies resolved ("all" expanded), grid and fixed parameters checked; one-line errors.
    public init(traces: [String], strategies: [String], grid: [String], fixed: [String], profiles: [String],
                pointsPerShard: Int) throws {
        let current = FileManager.default.currentDirectoryPath
        func absolute(_ path: String) -> String {
            (path.hasPrefix("/") ? path : current + "/" + path).replacingOccurrences(of: "/./", with: "/")
        }
        for trace in traces {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: trace, isDirectory: &isDirectory), !isDirectory.boolValue else {
                throw SweepError("\(trace): no such trace file")
            }
        }
        do { _ = try ReplayParameters(arguments: fixed) } catch let error as ReplayParameterError {
            throw SweepError(error.description)
        }
        let types: [any ReplayStrategy.Type]
        do { types = try ReplayEngine.resolve(strategies) } catch let error as ReplayError { throw SweepError(error.description) }
        let order = StrategyRegistry.names
        let names = types.map { $0.name }.sorted { order.firstIndex(of: $0)! < order.firstIndex(of: $1)! }
        let profileTexts = profiles.map { text -> String in
            if case .file(let path) = ProfileOption(text) { return absolute(path) }
            return text
        }
        _ = try ProfileSelection(profileTexts)
        guard pointsPerShard >= 0 else { throw SweepError("--points-per-shard must be 0 (all of a trace) or more") }
        self.init(traces: traces.map(absolute), strategies: names, grid: try SweepGrid(arguments: grid, fixed: fixed),
                  fixed: fixed, profiles: profileTexts, pointsPerShard: pointsPerShard)
    }
}
