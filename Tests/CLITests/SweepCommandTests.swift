import Foundation
import Testing

/// `plexlab sweep` through the built executable (docs/sweep.md).
@Suite(.serialized) struct SweepCommandTests {
    /// A small committed corpus trace of calls across pages (Traces/manifest.json).
    static let trace = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Traces/micro-xpage-calls-64.plextrace").path

    static func scratch(_ name: String) throws -> String {
        let directory = NSTemporaryDirectory() + "plexlab-sweep-cli-\(name)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return directory
    }

    static func rows(_ directory: String) throws -> [[String: Any]] {
        let data = try Data(contentsOf: URL(fileURLWithPath: directory + "/results.json"))
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        return try #require(object["rows"] as? [[String: Any]])
    }

    @Test func eachPointEqualsReplayWithParam() throws {
        let directory = try Self.scratch("points")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let run = try PlexlabRun(["sweep", Self.trace, "--grid", "page-size=4096,2097152", "--strategies", "sbe,pagefault-nx",
                                  "--out", directory + "/out"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("knees (smallest value beyond which the metric improves by at most 5%)"))
        #expect(run.stderr.contains("sweep: 4/4 points, 1/1 passes"))
        let rows = try Self.rows(directory + "/out")
        #expect(rows.count == 4)
        for row in rows {
            let strategy = try #require(row["strategy"] as? String)
            let size = try #require((row["parameters"] as? [String: String])?["page-size"])
            let alone = try PlexlabRun(["replay", Self.trace, "--strategy", strategy, "--param", "page-size=\(size)", "--json"])
            #expect(alone.status == 0, "\(alone.stderr)")
            let traces = try #require(try alone.json()["traces"] as? [[String: Any]])
            let result = try #require((traces.first?["strategies"] as? [[String: Any]])?.first)
            #expect(row["traps"] as? UInt64 == result["traps"] as? UInt64, "\(strategy) \(size)")
            #expect(NSDictionary(dictionary: row["counts"] as? [String: Any] ?? [:])
                    == NSDictionary(dictionary: result["counts"] as? [String: Any] ?? [:]), "\(strategy) \(size)")
            let estimate = (result["estimates"] as? [[String: Any]])?.first { $0["profile"] as? String == "modern" }
            #expect(row["slowdown"] as? Double == estimate?["slowdown"] as? Double)
        }
        let csv = try String(contentsOfFile: directory + "/out/results.csv", encoding: .utf8).split(separator: "\n")
        #expect(csv.count == 5 && csv[0].hasPrefix("trace,strategy,profile,page-size,unavailable,instructions,blocks,traps,"))
        let html = try String(contentsOfFile: directory + "/out/report.html", encoding: .utf8)
        #expect(html.components(separatedBy: "<svg class=\"chart\"").count - 1 == 4)  // traps and slowdown x 2 strategies
        #expect(html.contains("page-size (log scale)"))
    }

    @Test func interruptedSweepKeepsFinishedPointsAndTheRerunReplaysOnlyTheRest() throws {
        let directory = try Self.scratch("interrupt")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let arguments = [Self.trace, "--grid", "ras-depth=0,1,2,4,8,16", "--grid", "code-cache=0,64", "--strategies", "dbt-ibtc",
                         "--points-per-shard", "1", "--jobs", "1"]
        // Stopped with SIGINT, as Ctrl-C would, once two points are stored.
        let (process, _, errors) = try PlexlabRun.start(["sweep"] + arguments + ["--out", directory + "/cut"])
        let points = directory + "/cut/points"
        let deadline = Date().addingTimeInterval(120)
        func stored() -> Int { ((try? FileManager.default.contentsOfDirectory(atPath: points)) ?? []).filter { $0.hasSuffix(".json") && !$0.hasPrefix(".") }.count }
        while stored() < 2 && process.isRunning && Date() < deadline { usleep(20_000) }
        process.interrupt()
        process.waitUntilExit()
        let kept = stored()
        #expect(kept >= 2 && kept < 12, "\(kept) points stored before the interrupt")
        #expect(process.terminationStatus == 130)
        let said = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(said.hasSuffix("sweep: interrupted: \(kept) of 12 points kept in \(directory)/cut; run the same command again to finish\n"), "\(said)")

        let rerun = try PlexlabRun(["sweep"] + arguments + ["--out", directory + "/cut"])
        #expect(rerun.status == 0, "\(rerun.stderr)")
        #expect(rerun.stderr.contains("sweep: \(kept) of 12 points already finished"), "\(rerun.stderr)")
        #expect(rerun.stderr.components(separatedBy: "\n").filter { $0.contains("passes (") }.count == 12 - kept)
        let whole = try PlexlabRun(["sweep"] + arguments + ["--out", directory + "/whole"])
        #expect(whole.status == 0, "\(whole.stderr)")
        #expect(rerun.stdout == whole.stdout)
        for file in ["results.json", "results.csv", "report.html"] {
            #expect(try String(contentsOfFile: directory + "/cut/" + file, encoding: .utf8)
                    == String(contentsOfFile: directory + "/whole/" + file, encoding: .utf8), "\(file)")
        }
    }

    @Test(arguments: [
        (["--grid", "ibtc-size=100", "--out", "x"], "plexlab: error: --grid: parameter ibtc-size=100: must be a power of two from 1 to 16777216\n"),
        (["--grid", "ibtc-size=16"], "plexlab: error: give exactly one of --out, --plan, --shard, --run-plan, --merge (see 'plexlab sweep --help')\n"),
        (["--out", "x"], "plexlab: error: give at least one --grid key=v1,v2,... (see 'plexlab sweep --help')\n"),
        (["--grid", "ras-depth=1", "--param", "ras-depth=2", "--out", "x"], "plexlab: error: ras-depth is both swept (--grid) and fixed (--param)\n"),
    ])
    func badInputIsOneLine(arguments: [String], message: String) throws {
        let directory = try Self.scratch("bad")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let run = try PlexlabRun(["sweep", Self.trace] + arguments, in: directory)
        #expect(run.status == 2)
        #expect(run.stderr == message)
        #expect(!FileManager.default.fileExists(atPath: directory + "/x"))
    }

    @Test func mergeOfAnUnfinishedPlanAndAMissingShardAreOneLine() throws {
        let directory = try Self.scratch("merge")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let plan = try PlexlabRun(["sweep", Self.trace, "--grid", "page-size=4096,2097152", "--strategies", "sbe",
                                   "--points-per-shard", "1", "--plan", directory + "/plan"])
        #expect(plan.status == 0, "\(plan.stderr)")
        #expect(plan.stdout.hasPrefix("2 points in 2 shards: sbatch \(directory)/plan/sweep.sbatch"))
        let merge = try PlexlabRun(["sweep", "--merge", directory + "/plan"])
        #expect(merge.status == 2 && merge.stderr == "plexlab: error: 2 of 2 points are not finished (point 0 first; shards 0,1)\n")
        let shard = try PlexlabRun(["sweep", "--shard", directory + "/plan", "2"])
        #expect(shard.status == 2 && shard.stderr == "plexlab: error: shard 2 does not exist: the plan has shards 0 to 1\n")
        for k in ["1", "0"] {
            let run = try PlexlabRun(["sweep", "--shard", directory + "/plan", k])
            #expect(run.status == 0 && run.stderr == "sweep: shard \(k): 1 points replayed\n")
        }
        let again = try PlexlabRun(["sweep", "--shard", directory + "/plan", "0"])
        #expect(again.stderr == "sweep: shard 0: 0 points replayed\n")
        let merged = try PlexlabRun(["sweep", "--merge", directory + "/plan"])
        #expect(merged.status == 0, "\(merged.stderr)")
        let local = try PlexlabRun(["sweep", Self.trace, "--grid", "page-size=4096,2097152", "--strategies", "sbe", "--out", directory + "/local"])
        #expect(try Self.rows(directory + "/plan").count == 2)
        #expect(try String(contentsOfFile: directory + "/plan/results.json", encoding: .utf8)
                == String(contentsOfFile: directory + "/local/results.json", encoding: .utf8))
        #expect(merged.stdout == local.stdout)

        // The same plan on this machine's cores, without Slurm.
        let other = try PlexlabRun(["sweep", Self.trace, "--grid", "page-size=4096,2097152", "--strategies", "sbe",
                                    "--points-per-shard", "1", "--plan", directory + "/cores"])
        #expect(other.status == 0, "\(other.stderr)")
        let cores = try PlexlabRun(["sweep", "--run-plan", directory + "/cores", "--jobs", "2"])
        #expect(cores.status == 0, "\(cores.stderr)")
        #expect(cores.stdout == local.stdout)
        #expect(cores.stderr.contains("sweep: 2/2 points, 2/2 passes"))
        #expect(try String(contentsOfFile: directory + "/cores/results.csv", encoding: .utf8)
                == String(contentsOfFile: directory + "/local/results.csv", encoding: .utf8))
    }
}
