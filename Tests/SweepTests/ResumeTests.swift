import Foundation
import Reports
import Sweep
import Testing

/// Finished points survive and are not replayed again; a rerun equals an uninterrupted run.
@Suite struct ResumeTests {
    static func spec(_ pointsPerShard: Int) throws -> SweepSpec {
        try SweepSpec(traces: [corpusTrace], strategies: ["sbe", "dbt-ibtc"],
                      grid: ["page-size=4096,2097152", "ras-depth=0,16"], fixed: [], profiles: ["modern"],
                      pointsPerShard: pointsPerShard)
    }

    @Test func aRerunReplaysOnlyThePointsNotFinishedAndEqualsAnUninterruptedRun() throws {
        let scratch = try scratchDirectory("resume")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let plan = try SweepPlan(spec: Self.spec(1))
        // sbe: 2 page sizes; dbt-ibtc: 2 x 2.
        #expect(plan.points.count == 6 && plan.shards.count == 6)

        let whole = SweepDirectory(scratch + "/whole")
        try whole.create(plan)
        #expect(try SweepRunner.runAll(plan, in: whole, jobs: 1) == 6)
        _ = try SweepOutputs.merge(whole, kneeFraction: 0.05)

        // An interrupted run: points 0, 2 and 4 finished; point 5 half written (not valid JSON).
        let resumed = SweepDirectory(scratch + "/resumed")
        try resumed.create(plan)
        for id in [0, 2, 4] { try FileManager.default.copyItem(atPath: whole.pointPath(id), toPath: resumed.pointPath(id)) }
        try Data("{\"schema\": \"plexlab-sweep-po".utf8).write(to: URL(fileURLWithPath: resumed.pointPath(5)))
        let kept = try [0, 2, 4].map { try FileManager.default.attributesOfItem(atPath: resumed.pointPath($0))[.modificationDate] as? Date }
        #expect(Set(resumed.finished(plan).keys) == [0, 2, 4])
        #expect(throws: SweepError("3 of 6 points are not finished (point 1 first; shards 1,3,5)")) {
            try SweepOutputs.merge(resumed, kneeFraction: 0.05)
        }

        let collected = Lines()
        #expect(try SweepRunner.runAll(plan, in: resumed, jobs: 2) { collected.append($0) } == 3)
        let lines = collected.all
        #expect(lines.first == "sweep: 3 of 6 points already finished in \(resumed.path), replaying the rest")
        #expect(lines.count == 4 && lines.last?.hasPrefix("sweep: 6/6 points, ") == true)
        let after = try [0, 2, 4].map { try FileManager.default.attributesOfItem(atPath: resumed.pointPath($0))[.modificationDate] as? Date }
        #expect(after == kept)
        _ = try SweepOutputs.merge(resumed, kneeFraction: 0.05)
        for file in ["results.json", "results.csv", "report.html"] {
            #expect(try String(contentsOfFile: resumed.path + "/" + file, encoding: .utf8)
                    == String(contentsOfFile: whole.path + "/" + file, encoding: .utf8), "\(file)")
        }
        // Nothing left: a third run replays nothing.
        #expect(try SweepRunner.runAll(plan, in: resumed, jobs: 2) == 0)
    }

    @Test func aDirectoryOfAnotherSweepIsRefused() throws {
        let scratch = try scratchDirectory("other")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let directory = SweepDirectory(scratch + "/s")
        try directory.create(SweepPlan(spec: Self.spec(0)))
        try directory.create(SweepPlan(spec: Self.spec(0)))
        #expect(throws: SweepError("\(directory.path) holds another sweep (plan.json differs); use a new directory or remove it")) {
            try directory.create(SweepPlan(spec: Self.spec(2)))
        }
        #expect(try directory.load() == SweepPlan(spec: Self.spec(0)))
    }
}

/// Progress lines from the runner's threads.
final class Lines: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func append(_ line: String) { lock.withLock { lines.append(line) } }
    var all: [String] { lock.withLock { lines } }
}
