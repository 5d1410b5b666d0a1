import Replay
import TraceModel

/// What a sweep replays (docs/sweep.md): traces x strategies x grid points x profiles.
public struct SweepSpec: Sendable, Equatable {
    /// Trace files (absolute paths, so shards run from any directory).
    public var traces: [String]
    /// Strategy names ("all" expanded), in registry order.
    public var strategies: [String]
    public var grid: SweepGrid
    /// `--param key=value` settings that hold for every point.
    public var fixed: [String]
    /// `--profile` options (files as absolute paths); rows are made for each profile they select.
    public var profiles: [String]
    /// Points per shard (one pass over its trace); 0: all of a trace's points in one shard.
    public var pointsPerShard: Int

    public init(traces: [String], strategies: [String], grid: SweepGrid, fixed: [String] = [],
                profiles: [String] = ["modern"], pointsPerShard: Int = 0) {
        self.traces = traces
        self.strategies = strategies
        self.grid = grid
        self.fixed = fixed
        self.profiles = profiles
        self.pointsPerShard = pointsPerShard
    }
}

/// One strategy on one trace under one combination of the swept values it depends on.
public struct SweepPoint: Sendable, Equatable {
    /// Position in the plan: names the point's result file.
    public var id: Int
    /// Index into `SweepSpec.traces`.
    public var trace: Int
    public var strategy: String
    /// Values of the swept keys the strategy depends on (its `parameterNames`); a strategy that depends
    /// on none has one point with none.
    public var swept: [String: String]
    /// Every parameter of the replay: defaults, `--param`, then `swept`.
    public var parameters: ReplayParameters
}

/// Points replayed together in one pass over one trace.
public struct SweepShard: Sendable, Equatable {
    public var trace: Int
    public var points: [Int]
}

/// Every point of a spec and how they are split into shards; derived from the spec alone, so a plan
/// directory only stores the spec.
public struct SweepPlan: Sendable, Equatable {
    public var spec: SweepSpec
    public private(set) var points: [SweepPoint] = []
    public private(set) var shards: [SweepShard] = []

    public init(spec: SweepSpec) throws {
        self.spec = spec
        var base: ReplayParameters
        do { base = try ReplayParameters(arguments: spec.fixed) } catch let error as ReplayParameterError {
            throw SweepError(error.description)
        }
        let types = try spec.strategies.map { name -> any ReplayStrategy.Type in
            guard let type = StrategyRegistry.strategy(named: name) else { throw SweepError("unknown strategy \"\(name)\"") }
            return type
        }
        guard !spec.traces.isEmpty else { throw SweepError("no trace given") }
        guard !types.isEmpty else { throw SweepError("no strategy selected") }
        // Per trace: each combination of swept values, then the strategies that depend on exactly those
        // keys, so points with equal parameters sit next to each other in a shard.
        for trace in spec.traces.indices {
            var ofTrace: [SweepPoint] = []
            for type in types {
                for swept in spec.grid.points(over: Set(type.parameterNames)) {
                    var parameters = base
                    for (key, value) in swept { try? parameters.set(key, to: value) }
                    ofTrace.append(SweepPoint(id: 0, trace: trace, strategy: type.name, swept: swept, parameters: parameters))
                }
            }
            var order: [ReplayParameters] = []
            for point in ofTrace where !order.contains(point.parameters) { order.append(point.parameters) }
            let sorted = order.flatMap { parameters in ofTrace.filter { $0.parameters == parameters } }
            let first = points.count
            for var point in sorted {
                point.id = points.count
                points.append(point)
            }
            let ids = Array(first..<points.count)
            let size = spec.pointsPerShard > 0 ? spec.pointsPerShard : ids.count
            for start in stride(from: 0, to: ids.count, by: size) {
                shards.append(SweepShard(trace: trace, points: Array(ids[start..<min(start + size, ids.count)])))
            }
        }
    }
}
