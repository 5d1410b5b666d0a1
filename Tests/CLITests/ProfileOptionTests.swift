import Foundation
import Testing

/// compare, replay, report and gate resolve `--profile` (a gate baseline's `profiles`) by one rule: a user
/// file named like a built-in, after `all`, is the profile of that name in all four (issue 21).
@Suite struct ProfileOptionTests {
    /// The worked example (N = 3: 16 instructions) as a trace, and a profile file `modern.json` (no "name":
    /// it is named "modern") with cpi 5, in a fresh directory.
    static func setUp() throws -> String {
        let directory = NSTemporaryDirectory() + "profile-option-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try GateCommandTests.loop.write(toFile: directory + "/loop.jsonl", atomically: true, encoding: .utf8)
        let imported = try PlexlabRun(["import", "loop.jsonl", "--out", "loop.plextrace"], in: directory)
        #expect(imported.status == 0, "\(imported.stderr)")
        let keys = ["cpi": 5.0, "trap_int3": 1, "trap_pf": 1, "trap_wp": 1, "emulate_data": 1, "scan_per_insn": 1,
                    "translate_per_insn": 1, "dispatch": 1, "link": 1, "ibtc_hit": 1, "ras_hit": 1, "vmexit": 1]
        try JSONSerialization.data(withJSONObject: keys).write(to: URL(fileURLWithPath: directory + "/modern.json"))
        return directory
    }

    /// native's estimates by profile name in a results document (compare/replay --json, report's results.json).
    static func nativeCycles(_ json: String) throws -> [String: Double] {
        let document = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let trace = try #require((document["traces"] as? [[String: Any]])?.first)
        let native = try #require((trace["strategies"] as? [[String: Any]])?.first { $0["name"] as? String == "native" })
        let estimates = try #require(native["estimates"] as? [[String: Any]])
        return Dictionary(uniqueKeysWithValues: estimates.map { ($0["profile"] as! String, $0["cycles"] as! Double) })
    }

    @Test func allFourUseTheFileNamedLikeABuiltIn() throws {
        let directory = try Self.setUp()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // native under the file: 16 instructions * cpi 5; pentium3 (cpi 1) and pentium4 (cpi 1.5) built in.
        let expected = ["pentium3": 16.0, "pentium4": 24, "modern": 80]
        let profiles = ["--profile", "all", "--profile", "modern.json"]

        let compare = try PlexlabRun(["compare", "loop.plextrace", "--strategies", "native", "--json"] + profiles, in: directory)
        #expect(compare.status == 0, "\(compare.stderr)")
        #expect(try Self.nativeCycles(compare.stdout) == expected)

        let replay = try PlexlabRun(["replay", "loop.plextrace", "--strategy", "native", "--json"] + profiles, in: directory)
        #expect(replay.status == 0, "\(replay.stderr)")
        #expect(try Self.nativeCycles(replay.stdout) == expected)
        // The table shows the first selected profile.
        let table = try PlexlabRun(["replay", "loop.plextrace", "--strategy", "native"] + profiles, in: directory)
        #expect(table.stdout.contains("cycles (pentium3)"))

        let report = try PlexlabRun(["report", "loop.plextrace", "--out", "report"] + profiles, in: directory)
        #expect(report.status == 0, "\(report.stderr)")
        #expect(try Self.nativeCycles(String(contentsOfFile: directory + "/report/results.json", encoding: .utf8)) == expected)

        try #"{"schema": "plexlab-baseline/1", "strategies": ["native"], "profiles": ["all", "modern.json"], "parameters": {}, "traces": []}"#
            .write(toFile: directory + "/baseline.json", atomically: true, encoding: .utf8)
        let gate = try PlexlabRun(["gate", "--baseline", "baseline.json", "--update", "loop.plextrace"], in: directory)
        #expect(gate.status == 0, "\(gate.stderr)")
        let baseline = try String(contentsOfFile: directory + "/baseline.json", encoding: .utf8)
        #expect(baseline.contains("\"modern.json\": 80"))
        #expect(baseline.contains("\"pentium3\": 16"))
        #expect(!baseline.contains("\"modern\": "))
        #expect(try PlexlabRun(["gate", "--baseline", "baseline.json", "loop.plextrace"], in: directory).status == 0)
    }

    @Test func allFourRefuseTheFileNextToTheBuiltInNamedExplicitly() throws {
        let directory = try Self.setUp()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let clash = "profiles \"modern\" and \"modern.json\" are both named \"modern\""
        let profiles = ["--profile", "modern", "--profile", "modern.json"]
        for arguments in [["compare", "loop.plextrace"], ["replay", "loop.plextrace", "--strategy", "native"],
                          ["report", "loop.plextrace", "--out", "report"]] {
            let run = try PlexlabRun(arguments + profiles, in: directory)
            #expect(run.status == 2)
            #expect(run.stderr.hasPrefix("plexlab: error: \(clash)"), "\(arguments[0]): \(run.stderr)")
            #expect(run.stdout.isEmpty)
        }
        #expect(!FileManager.default.fileExists(atPath: directory + "/report"))
        try #"{"schema": "plexlab-baseline/1", "strategies": ["native"], "profiles": ["modern", "modern.json"], "parameters": {}, "traces": []}"#
            .write(toFile: directory + "/baseline.json", atomically: true, encoding: .utf8)
        let gate = try PlexlabRun(["gate", "--baseline", "baseline.json", "--update", "loop.plextrace"], in: directory)
        #expect(gate.status == 2)
        #expect(gate.stderr == "plexlab: error: baseline: \(clash)\n")
    }
}
