import Foundation
import Testing

/// The worked example (N = 3) in the import format, imported into a trace file in a fresh directory.
private func loopTrace() throws -> String {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("plexlab-compare-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let source = directory.appendingPathComponent("loop.jsonl")
    try """
    {"type":"meta","arch":"x86_64","program":"/tmp/loop","argv":["loop"]}
    {"type":"code","address":"0x401000","bytes":"b903000000 e8f60f0000 ffc9 75f7 b83c000000 31ff 0f05 f4"}
    {"type":"code","address":"0x402000","bytes":"c3"}
    {"type":"exec","thread":0,"blocks":["0x401000","0x402000","0x40100a","0x401005","0x402000","0x40100a"]}
    {"type":"exec","thread":0,"blocks":["0x401005","0x402000","0x40100a","0x40100e"]}
    {"type":"exit","status":0}

    """.write(to: source, atomically: true, encoding: .utf8)
    let trace = directory.appendingPathComponent("loop.plextrace").path
    let imported = try PlexlabRun(["import", source.path, "--out", trace])
    #expect(imported.status == 0, "\(imported.stderr)")
    return trace
}

@Suite struct CompareCommandTests {
    @Test func compareJSONAgreesWithReplayOneStrategyAtATime() throws {
        let trace = try loopTrace()
        let compared = try PlexlabRun(["compare", trace, "--json"])
        #expect(compared.status == 0, "\(compared.stderr)")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(compared.stdout.utf8)) as? [String: Any])
        #expect(document["schema"] as? String == "plexlab-results/1")
        let traces = try #require(document["traces"] as? [[String: Any]])
        let strategies = try #require(traces.first?["strategies"] as? [[String: Any]])
        let traps = Dictionary(uniqueKeysWithValues: strategies.compactMap { s in
            (s["traps"] as? Int).map { (s["name"] as! String, $0) }
        })
        // The worked example at N = 3 (docs/strategies.md section 6).
        #expect(traps == ["native": 0, "hw": 0, "hw-shadow": 0, "hw-ept": 0, "sbe": 7, "pagefault-nx": 3, "dbt-nolink": 11, "dbt-link": 9, "dbt-ibtc": 7, "dbt-qemu": 6])
        #expect(strategies.first { $0["name"] as? String == "pagefault-legacy" }?["available"] as? Bool == false)

        for strategy in strategies where strategy["available"] as? Bool == true {
            let name = strategy["name"] as! String
            let alone = try PlexlabRun(["replay", trace, "--strategy", name, "--json"])
            #expect(alone.status == 0)
            let single = try #require(try JSONSerialization.jsonObject(with: Data(alone.stdout.utf8)) as? [String: Any])
            let result = try #require(((single["traces"] as? [[String: Any]])?.first?["strategies"] as? [[String: Any]])?.first)
            #expect(result["counts"] as? [String: Int] == strategy["counts"] as? [String: Int], "\(name)")
            #expect(result["scanned"] as? Int == strategy["scanned"] as? Int)
            #expect(result["translated"] as? Int == strategy["translated"] as? Int)
            let cycles = { (r: [String: Any]) in (r["estimates"] as? [[String: Any]])?.compactMap { $0["cycles"] as? Double } }
            #expect(cycles(result) == cycles(strategy))
        }
    }

    @Test func tableShowsEveryStrategyAndItsCauses() throws {
        let trace = try loopTrace()
        let table = try PlexlabRun(["compare", trace, "--strategies", "sbe,dbt-link", "--profile", "pentium3"])
        #expect(table.status == 0)
        let lines = table.stdout.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        // strategy, traps, per 1k insn, scanned, translated, cycles, slowdown: 7 traps in 16 instructions.
        #expect(lines.contains(["sbe", "7", "437.500", "9", "0", "4416", "276.000x"]))
        #expect(lines.contains { $0.first == "dbt-link" && $0.dropFirst().first == "9" })
        #expect(lines.contains(["strategy", "call", "ret", "syscall", "dispatch", "dispatch_syscall", "link"]))
    }

    @Test func badArgumentsAreOneLineErrors() throws {
        let trace = try loopTrace()
        let unknown = try PlexlabRun(["compare", trace, "--strategies", "sbe,warp"])
        #expect(unknown.status == 2)
        #expect(unknown.stderr.hasPrefix("plexlab: error: unknown strategy \"warp\""))
        #expect(unknown.stderr.split(separator: "\n").count == 1)
        let profile = try PlexlabRun(["replay", trace, "--strategy", "sbe", "--profile", "/nonexistent.json"])
        #expect(profile.status == 2)
        #expect(profile.stderr.hasPrefix("plexlab: error: cost profile /nonexistent.json"))
        let missing = try PlexlabRun(["replay", "/nonexistent.plextrace", "--strategy", "sbe"])
        #expect(missing.status == 2)
    }
}
