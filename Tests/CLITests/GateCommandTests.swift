import Foundation
import Testing

/// `plexlab gate` end to end: the built executable, its exit codes and its one-line errors.
@Suite struct GateCommandTests {
    /// The worked example with N = 3 as an import file (docs/import-format.md).
    static let loop = """
        {"type":"meta","arch":"x86_64","program":"/tmp/loop","argv":["loop"],"recorder":"hand","recorder_version":"1"}
        {"type":"code","address":"0x401000","bytes":"b903000000 e8f60f0000 ffc9 75f7 b83c000000 31ff 0f05 f4"}
        {"type":"code","address":"0x402000","bytes":"c3"}
        {"type":"exec","thread":0,"blocks":["0x401000","0x402000","0x40100a","0x401005","0x402000","0x40100a","0x401005","0x402000","0x40100a","0x40100e"]}
        {"type":"syscall","thread":0,"number":60}

        """

    @Test func exitCodesZeroOneTwo() throws {
        let directory = NSTemporaryDirectory() + "gate-cli-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Self.loop.write(toFile: directory + "/loop.jsonl", atomically: true, encoding: .utf8)
        #expect(try PlexlabRun(["import", "loop.jsonl", "--out", "Traces/loop.plextrace"], in: directory).status == 0)
        try #"{"schema": "plexlab-corpus/1", "workloads": [{"name": "loop", "trace": "loop.plextrace"}]}"#
            .write(toFile: directory + "/Traces/manifest.json", atomically: true, encoding: .utf8)

        // A fresh baseline from the manifest, then a pass.
        let update = try PlexlabRun(["gate", "--baseline", "baseline.json", "--update"], in: directory)
        #expect(update.status == 0, "\(update.stderr)")
        #expect(update.stdout.contains("gate: updated baseline.json (1 trace(s), 11 strategies, 3 profile(s))"))
        let pass = try PlexlabRun(["gate", "--baseline", "baseline.json"], in: directory)
        #expect(pass.status == 0, "\(pass.stderr)")
        #expect(pass.stdout.hasPrefix("gate: PASS; 0 improvement(s)"))

        // One number lowered: exit 1, the number named, the Markdown written and appended to the step summary.
        let text = try String(contentsOfFile: directory + "/baseline.json", encoding: .utf8)
        #expect(text.contains("\"instructions\": 16,"))
        try text.replacingOccurrences(of: "\"instructions\": 16,", with: "\"instructions\": 15,")
            .write(toFile: directory + "/baseline.json", atomically: true, encoding: .utf8)
        try "previous step\n".write(toFile: directory + "/summary.md", atomically: true, encoding: .utf8)
        let fail = try PlexlabRun(["gate", "--baseline", "baseline.json", "--markdown", "gate.md"], in: directory,
                               environment: ["GITHUB_STEP_SUMMARY": directory + "/summary.md"])
        #expect(fail.status == 1)
        let row = fail.stdout.split(separator: "\n").first { $0.contains("instructions") }.map { $0.split(separator: " ") }
        #expect(row == ["Traces/loop.plextrace", "-", "-", "instructions", "15", "16", "+1", "+6.67%", "abs:0"])
        let markdown = try String(contentsOfFile: directory + "/gate.md", encoding: .utf8)
        #expect(markdown.contains("| Traces/loop.plextrace | - | - | instructions | 15 | 16 | +1 | +6.67% | abs\\:0 |"))
        #expect(try String(contentsOfFile: directory + "/summary.md", encoding: .utf8) == "previous step\n" + markdown)
        // The same growth allowed by a threshold passes.
        #expect(try PlexlabRun(["gate", "--baseline", "baseline.json", "--threshold", "instructions=abs:1"], in: directory).status == 0)

        // Bad input: exit 2 with one line naming the problem.
        try "{\"schema\": \"plexlab-baseline/1\",}".write(toFile: directory + "/bad.json", atomically: true, encoding: .utf8)
        let bad = try PlexlabRun(["gate", "--baseline", "bad.json"], in: directory)
        #expect(bad.status == 2)
        #expect(bad.stderr == "plexlab: error: baseline bad.json: not valid JSON at line 1, column 33: unexpected '}', expected a quoted key\n")
        let missing = try PlexlabRun(["gate", "--baseline", "nothing.json"], in: directory)
        #expect(missing.status == 2)
        #expect(missing.stderr == "plexlab: error: baseline nothing.json: no such file (make one with --update)\n")
        let stranger = try PlexlabRun(["gate", "--baseline", "baseline.json", "loop.jsonl"], in: directory)
        #expect(stranger.status == 2)
        #expect(stranger.stderr == "plexlab: error: trace loop.jsonl is not in the baseline (add it with --update)\n")
        let threshold = try PlexlabRun(["gate", "--baseline", "baseline.json", "--threshold", "cycles=pct:2"], in: directory)
        #expect(threshold.status == 2)
        #expect(threshold.stderr.hasPrefix("plexlab: error: threshold \"pct:2\" is not rel:FRACTION"))
    }

    @Test func theCorpusCatalogIsListed() throws {
        let list = try PlexlabRun(["record", "--list-workloads"], in: NSTemporaryDirectory())
        #expect(list.status == 0)
        let names = list.stdout.split(separator: "\n").map(String.init)
        for behaviour in ["xpage-calls", "jumptable", "vcall", "recursion", "jit", "data-pages", "mixed-page"] {
            #expect(names.contains("micro-\(behaviour)-64") && names.contains("micro-\(behaviour)-32"), "\(behaviour)")
        }
        for program in ["gzip", "xz", "bzip2", "sqlite3", "python3", "lua", "gcc-driver", "gcc-cc1", "sort", "grep"] {
            #expect(names.contains(program), "\(program)")
        }
        let unknown = try PlexlabRun(["record", "--workload", "nope"], in: NSTemporaryDirectory())
        #expect(unknown.status == 2)
        #expect(unknown.stderr.hasPrefix("plexlab: error: unknown workload nope (known: micro-xpage-calls-64,"))
    }
}
