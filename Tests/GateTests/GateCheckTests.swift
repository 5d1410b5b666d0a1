import CostModel
import Foundation
import Testing
import Workloads
import TraceModel
@testable import Gate

/// The gate against baselines it made itself, then against copies with one number moved.
@Suite struct GateCheckTests {
    let scratch: Scratch
    let loop: String
    let baselinePath: String

    init() throws {
        scratch = try Scratch()
        loop = try LoopTrace.make("loop10", n: 10, in: scratch)
        baselinePath = scratch.path("baseline.json")
        _ = try Gate.run(baselinePath: baselinePath, traces: [loop], options: GateOptions(update: true, manifestPath: nil))
    }

    @Test func aFreshBaselineHoldsTheHandWorkedNumbersAndPasses() throws {
        let baseline = try Baseline.load(path: baselinePath)
        #expect(baseline.strategies == ["native", "hw", "sbe", "pagefault-nx", "pagefault-legacy", "dbt-nolink", "dbt-link", "dbt-ibtc", "dbt-qemu"])
        #expect(baseline.profiles == ["pentium3", "pentium4", "modern"])
        let entry = try #require(baseline.trace(loop))
        // 8 instructions in the first pass, 4 in each of the 9 others.
        #expect(entry.instructions == 44)
        let sbe = try #require(entry.strategies["sbe"])
        #expect(sbe.counts.filter { $0.value > 0 } == [.call: 10, .ret: 10, .syscall: 1])
        #expect(sbe.scanned == 9)
        // modern: 44 x 0.5 cpi + 21 int3 traps x 900 + 9 scanned x 50.
        #expect(sbe.estimate("modern") == CostEstimate(profile: "modern", cycles: 19372, slowdown: 19372.0 / 22))
        #expect(entry.strategies["pagefault-nx"]?.counts.filter { $0.value > 0 } == [.pfExec: 2, .syscall: 1])
        #expect(entry.strategies["pagefault-legacy"]?.unavailable != nil)

        let outcome = try Gate.run(baselinePath: baselinePath, traces: [loop], options: GateOptions(manifestPath: nil))
        #expect(outcome.exitCode == 0)
        #expect(outcome.changes.isEmpty)
        #expect(outcome.compared == entry.places.count)
        #expect(outcome.text(baselinePath: "b.json").contains("gate: PASS"))
    }

    @Test func loweringAnyOneNumberFailsNamingIt() throws {
        let baseline = try Baseline.load(path: baselinePath)
        let places = baseline.traces[0].places.filter { $0.1 > 0 }
        #expect(places.count > 40)
        for (place, value) in places {
            let delta = place.metric == "slowdown" ? -0.001 : -1
            let copy = baseline.moving(place, by: delta)
            let outcome = try Gate.check(baseline: copy, traces: [loop], options: GateOptions(manifestPath: nil))
            #expect(outcome.exitCode == 1, "\(place)")
            #expect(outcome.regressions.count == 1, "\(place)")
            #expect(outcome.improvements.isEmpty, "\(place)")
            let row = try #require(outcome.regressions.first)
            #expect(NumberPlace(strategy: row.strategy, profile: row.profile, metric: row.metric) == place)
            #expect(row.trace == loop)
            #expect(row.now == value && row.baseline == value + delta, "\(place)")
        }
    }

    @Test func theRegressionTableNamesTheNumber() throws {
        let baseline = try Baseline.load(path: baselinePath)
        let place = NumberPlace(strategy: "sbe", profile: "-", metric: "ret")
        let outcome = try Gate.check(baseline: baseline.moving(place, by: -2), traces: [loop], options: GateOptions(manifestPath: nil))
        let text = outcome.text(baselinePath: "b.json")
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.first == "Regressions (1):")
        #expect(lines[1].split(separator: " ") == ["trace", "strategy", "profile", "metric", "baseline", "now", "change", "%", "threshold"])
        #expect(lines[2].split(separator: " ") == [Substring(loop), "sbe", "-", "ret", "8", "10", "+2", "+25.00%", "abs:0"])
        #expect(lines.last?.hasPrefix("gate: FAIL: 1 regression(s); 0 improvement(s)") == true)
        let markdown = outcome.markdown(baselinePath: "b.json")
        #expect(markdown.hasPrefix("## PlexLab gate: **FAIL**, 1 regression(s)\n"))
        // Cells go through Escape.markdown (":" is escaped against emoji shortcodes).
        #expect(markdown.contains("| \(Escape.markdown(loop)) | sbe | - | ret | 8 | 10 | +2 | +25.00% | abs\\:0 |\n"))
    }

    @Test func raisingANumberIsAnImprovementThatPasses() throws {
        let baseline = try Baseline.load(path: baselinePath)
        let place = NumberPlace(strategy: "dbt-link", profile: "pentium4", metric: "cycles")
        let outcome = try Gate.check(baseline: baseline.moving(place, by: 1000), traces: [loop], options: GateOptions(manifestPath: nil))
        #expect(outcome.exitCode == 0)
        #expect(outcome.regressions.isEmpty)
        let row = try #require(outcome.improvements.first)
        #expect(outcome.improvements.count == 1)
        #expect(NumberPlace(strategy: row.strategy, profile: row.profile, metric: row.metric) == place)
        #expect(row.change == -1000)
        let text = outcome.text(baselinePath: "b.json")
        #expect(text.hasPrefix("Improvements (1):\n"))
        #expect(text.contains("--update"))
        #expect(text.contains("gate: PASS; 1 improvement(s)"))
    }

    @Test func updateRewritesOnlyWhatMovedAndKeepsSettings() throws {
        var baseline = try Baseline.load(path: baselinePath)
        baseline.thresholds = ["cycles": .relative(0.05)]
        let place = NumberPlace(strategy: "sbe", profile: "-", metric: "call")
        try baseline.moving(place, by: 3).write(to: baselinePath)
        let other = try LoopTrace.make("loop3", n: 3, in: scratch)
        let outcome = try Gate.run(baselinePath: baselinePath, traces: [loop, other], options: GateOptions(update: true, manifestPath: nil))
        #expect(outcome.exitCode == 0)
        #expect(outcome.improvements.map(\.metric) == ["call"])
        let updated = try Baseline.load(path: baselinePath)
        #expect(updated.thresholds == ["cycles": .relative(0.05)])
        #expect(updated.traces.map(\.path) == [loop, other])
        #expect(updated.traces[0] == baseline.traces[0])
        #expect(updated.trace(other)?.strategies["sbe"]?.counts[.call] == 3)
        // Written twice, the same text: key order is stable.
        let text = try String(contentsOfFile: baselinePath, encoding: .utf8)
        #expect(updated.jsonText() == text)
        let again = try Gate.run(baselinePath: baselinePath, traces: [], options: GateOptions(manifestPath: nil))
        #expect(again.traces == [loop, other] && again.exitCode == 0 && again.changes.isEmpty)
    }

    @Test func aStrategyChangingAvailabilityIsARegression() throws {
        let withData = try LoopTrace.make("data", n: 4, dataPage: "0x600000", in: scratch)
        let path = scratch.path("data.json")
        _ = try Gate.run(baselinePath: path, traces: [withData], options: GateOptions(update: true, manifestPath: nil))
        var baseline = try Baseline.load(path: path)
        let legacy = try #require(baseline.traces[0].strategies["pagefault-legacy"])
        // The one data touch is by the first block, on an untranslated page: one emulated access.
        #expect(legacy.counts[.pfData] == 1)
        baseline.traces[0].strategies["pagefault-legacy"] = .gated("pagefault-legacy", unavailable: "needs data touches")
        let outcome = try Gate.check(baseline: baseline, traces: [withData], options: GateOptions(manifestPath: nil))
        #expect(outcome.exitCode == 1)
        #expect(outcome.regressions.map { "\($0.strategy)/\($0.metric)" } == ["pagefault-legacy/available"])
    }

    @Test func theManifestAddsTracesTheBaselineMustHold() throws {
        let other = try LoopTrace.make("loop5", n: 5, in: scratch)
        let manifest = try scratch.write("manifest.json", """
            {"schema": "plexlab-corpus/1", "workloads": [{"name": "loop5", "trace": "loop5.plextrace"}]}
            """)
        #expect(try CorpusManifestFile.tracePaths(path: manifest) == [other])
        #expect(throws: CorpusManifestError("manifest \(scratch.path("bad.json")): workloads[0]: missing string field \"trace\"")) {
            try CorpusManifestFile.tracePaths(path: scratch.write("bad.json", #"{"schema": "plexlab-corpus/1", "workloads": [{"name": "x"}]}"#))
        }
        #expect(throws: GateError("trace \(other) is not in the baseline (add it with --update)")) {
            try Gate.run(baselinePath: baselinePath, traces: [], options: GateOptions(manifestPath: manifest))
        }
        let updated = try Gate.run(baselinePath: baselinePath, traces: [], options: GateOptions(update: true, manifestPath: manifest))
        #expect(updated.traces == [loop, other])
        let outcome = try Gate.run(baselinePath: baselinePath, traces: [], options: GateOptions(manifestPath: manifest))
        #expect(outcome.exitCode == 0 && outcome.traces == [loop, other])
    }
}
