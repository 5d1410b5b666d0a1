import CostModel
import Foundation
import Replay
import TraceStore

/// Replays a plan's shards (docs/sweep.md): each shard's unfinished points in one pass over its trace,
/// every point stored atomically as soon as the pass ends, finished points never replayed again.
public enum SweepRunner {
    /// Replays shard `index` of the plan in `directory` (points already stored are skipped); returns the
    /// number of points it replayed.
    @discardableResult
    public static func run(shard index: Int, of plan: SweepPlan, in directory: SweepDirectory) throws -> Int {
        guard plan.shards.indices.contains(index) else {
            throw SweepError("shard \(index) does not exist: the plan has shards 0 to \(plan.shards.count - 1)")
        }
        let shard = plan.shards[index]
        let finished = directory.finished(plan, among: shard.points)
        let remaining = shard.points.map { plan.points[$0] }.filter { finished[$0.id] == nil }
        guard !remaining.isEmpty else { return 0 }
        let selection = try ProfileSelection(plan.spec.profiles)
        let profileNames = selection.profiles.map(\.name)
        // One variant per distinct parameter set: the strategies of its points share it, as in a replay.
        var variants: [ReplayVariant] = []
        var pointsOfVariant: [[SweepPoint]] = []
        for point in remaining {
            if let at = variants.firstIndex(where: { $0.parameters == point.parameters }) {
                variants[at].strategies.append(point.strategy)
                pointsOfVariant[at].append(point)
            } else {
                variants.append(ReplayVariant(strategies: [point.strategy], parameters: point.parameters))
                pointsOfVariant.append([point])
            }
        }
        let path = plan.spec.traces[shard.trace]
        let reader = try TraceReader(path: path)
        guard !reader.isFastForm else { throw TraceStoreError.notPacked(path: path) }
        let results = try ReplayEngine.run(source: reader, path: path, variants: variants, profiles: selection.profiles)
        for (points, trace) in zip(pointsOfVariant, results) {
            for point in points {
                guard let result = trace.strategy(point.strategy) else { continue }
                try directory.store(PointResult(point: point.id, result: result, profiles: profileNames))
            }
        }
        return remaining.count
    }

    /// Replays every shard that has unfinished points, `jobs` at a time on threads of this process;
    /// `progress` gets one line per shard done. Returns the number of points replayed. The first error
    /// stops the handing out of shards and is thrown once the running ones end.
    @discardableResult
    public static func runAll(_ plan: SweepPlan, in directory: SweepDirectory, jobs: Int,
                              progress: @escaping @Sendable (String) -> Void = { _ in }) throws -> Int {
        let finished = directory.finished(plan)
        let todo = plan.shards.indices.filter { plan.shards[$0].points.contains { finished[$0] == nil } }
        let total = plan.points.count
        let state = RunState(done: finished.count)
        if !finished.isEmpty && !todo.isEmpty {
            progress("sweep: \(finished.count) of \(total) points already finished in \(directory.path), replaying the rest")
        }
        let clock = ContinuousClock()
        let start = clock.now
        let group = DispatchGroup()
        for _ in 0..<max(1, min(jobs, todo.count)) {
            group.enter()
            let thread = Thread {
                defer { group.leave() }
                while let next = state.next(todo.count) {
                    let shard = todo[next]
                    do {
                        let replayed = try run(shard: shard, of: plan, in: directory)
                        let (done, shards) = state.finished(points: replayed)
                        let elapsed = clock.now - start
                        let trace = URL(fileURLWithPath: plan.spec.traces[plan.shards[shard].trace]).lastPathComponent
                        progress("sweep: \(done)/\(total) points, \(shards)/\(todo.count) passes (\(trace), \(replayed) points), \(String(format: "%.1f", Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)) s")
                    } catch {
                        state.fail(error)
                    }
                }
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
        group.wait()
        if let error = state.error { throw error }
        return state.replayed
    }
}

/// The shared counters of `runAll`'s threads.
private final class RunState: @unchecked Sendable {
    private let lock = NSLock()
    private var handedOut = 0
    private var shardsDone = 0
    private var pointsDone: Int
    private(set) var replayed = 0
    private(set) var error: Error?

    init(done: Int) { pointsDone = done }

    /// The next shard to run (position in the to-do list), nil when none is left or a run failed.
    func next(_ count: Int) -> Int? {
        lock.withLock {
            guard error == nil, handedOut < count else { return nil }
            handedOut += 1
            return handedOut - 1
        }
    }

    func finished(points: Int) -> (points: Int, shards: Int) {
        lock.withLock {
            shardsDone += 1
            pointsDone += points
            replayed += points
            return (pointsDone, shardsDone)
        }
    }

    func fail(_ failure: Error) { lock.withLock { if error == nil { error = failure } } }
}
