import Foundation
import Testing
import CostModel
import Replay
import TraceModel

@Suite struct CostModelTests {
    static let flat = CostProfile(name: "flat", description: "", costs: [
        .cpi: 1, .trapInt3: 100, .trapPF: 200, .trapWP: 300, .emulateData: 400, .scanPerInsn: 10,
        .translatePerInsn: 20, .dispatch: 50, .link: 7, .ibtcHit: 3, .rasHit: 2, .vmexit: 1000])

    @Test func cyclesFollowTheFormula() throws {
        let results = try ReplayEngine.run(source: WorkedExample.script(n: 3).trace, path: "x",
                                           strategies: ["native", "sbe", "pagefault-nx", "dbt-ibtc"],
                                           profiles: [Self.flat])
        let instructions = 16.0
        #expect(results.strategy("native")?.estimate("flat") == CostEstimate(profile: "flat", cycles: 16, slowdown: 1))
        // sbe: 7 INT3 traps, 9 scanned instructions.
        let sbe = try #require(results.strategy("sbe")?.estimate("flat"))
        #expect(sbe.cycles == instructions + 7 * 100 + 9 * 10)
        #expect(sbe.slowdown == sbe.cycles / instructions)
        // pagefault-nx: 2 pf_exec, 1 syscall (INT3), 9 scanned.
        #expect(results.strategy("pagefault-nx")?.estimate("flat")?.cycles == instructions + 2 * 200 + 100 + 90)
        // dbt-ibtc: 7 dispatcher trips, 4 links, 2 ras hits, 9 translated instructions.
        #expect(results.strategy("dbt-ibtc")?.estimate("flat")?.cycles == instructions + 7 * 50 + 4 * 7 + 2 * 2 + 9 * 20)
        #expect(results.strategy("sbe")?.trapsPerKiloInstruction == 7 * 1000 / instructions)
    }

    @Test func everyCauseHasOneCostKeyOrIsFree() {
        let free = TrapCause.allCases.filter { $0.costKey == nil }
        #expect(free == [.escapes, .flush])
        #expect(TrapCause.pfData.costKey == .emulateData)
        #expect(TrapCause.pfWrite.costKey == .trapWP)
        #expect(TrapCause.int3Fill.costKey == .trapInt3Fill)
    }

    @Test func builtInProfilesAreCompleteAndSourced() {
        #expect(CostProfile.builtIn.map(\.name) == ["pentium3", "pentium4", "modern"])
        for profile in CostProfile.builtIn {
            for key in CostKey.allCases {
                #expect(profile.sources[key]?.isEmpty == false, "\(profile.name).\(key) has no source")
                #expect(profile[key] > 0)
            }
        }
        #expect(CostProfile.pentium4[.vmexit] == 2400)
    }

    private func load(_ text: String) throws -> CostProfile {
        try CostProfile.parse(Data(text.utf8), path: "p.json")
    }

    private var complete: [String: Any] {
        var object: [String: Any] = ["name": "mine"]
        for key in CostKey.allCases { object[key.rawValue] = 1.5 }
        return object
    }

    private func text(_ object: JSONText) -> String { JSONWriter.write(object, style: .compact) }
    private func text(_ object: [String: Any]) -> String {
        String(decoding: try! JSONSerialization.data(withJSONObject: object), as: UTF8.self)
    }

    @Test func userProfileRoundTrips() throws {
        let profile = try load(text(CostProfile.pentium3.jsonObject()))
        #expect(profile == CostProfile.pentium3)
        #expect(try load(text(complete))[.dispatch] == 1.5)
    }

    /// A file written before translated code had a cost (the twelve required keys only) still loads: the
    /// translated-code keys take their documented defaults, and `sources` says so.
    @Test func userProfileWithoutTranslatedCodeKeysGetsTheDefaults() throws {
        var old = complete
        for key in CostKey.allCases where !CostKey.required.contains(key) { old[key.rawValue] = nil }
        old["ibtc_hit"] = 12
        let profile = try load(text(old))
        #expect(profile[.tcSameISA] == 1 && profile[.tcCrossISA] == 1)
        #expect(profile[.blockSameISA] == 0 && profile[.blockCrossISA] == 0)
        #expect(profile[.tbLookup] == 12)
        // An INT3 on a filled byte: the file's trap_int3 (1.5), as before the key existed.
        #expect(profile[.trapInt3Fill] == 1.5)
        #expect(profile.sources[.trapInt3Fill]?.hasPrefix("default (not in the file)") == true)
        #expect(profile.sources[.tbLookup]?.hasPrefix("default (not in the file)") == true)
        #expect(profile.sources[.cpi] == nil)
        // Present, they are read like any other key.
        var new = complete
        new["tc_cross_isa"] = 2.5
        #expect(try load(text(new))[.tcCrossISA] == 2.5)
        #expect(CostKey.required.count == 12 && CostKey.allCases.count == 31)
    }

    @Test func userProfileErrorsNameTheKey() {
        var missing = complete
        missing["trap_pf"] = nil
        #expect(throws: CostProfileError(path: "p.json", problem: "missing key \"trap_pf\"")) { try load(text(missing)) }
        var wrongType = complete
        wrongType["cpi"] = "fast"
        #expect(throws: CostProfileError(path: "p.json", problem: "key \"cpi\" is not a number")) { try load(text(wrongType)) }
        var boolean = complete
        boolean["link"] = true
        #expect(throws: CostProfileError(path: "p.json", problem: "key \"link\" is not a number")) { try load(text(boolean)) }
        var negative = complete
        negative["vmexit"] = -1
        #expect(throws: CostProfileError(path: "p.json", problem: "key \"vmexit\" must be a finite number >= 0")) { try load(text(negative)) }
        var typo = complete
        typo["dispach"] = 3
        #expect(throws: CostProfileError(path: "p.json", problem: "unknown key \"dispach\"")) { try load(text(typo)) }
        // The strict reader the gate's baseline uses: the place and the problem, duplicate keys refused.
        #expect(throws: CostProfileError(path: "p.json", problem: "not valid JSON at line 1, column 2: unexpected 'c', expected a quoted key")) {
            try load("{cpi: 1")
        }
        #expect(throws: CostProfileError(path: "p.json", problem: "not valid JSON at line 1, column 12: duplicate key \"cpi\"")) {
            try load(#"{"cpi": 1, "cpi": 2}"#)
        }
        #expect(throws: CostProfileError.self) { try CostProfile.resolve("/nonexistent/profile.json") }
        #expect((try? CostProfile.resolve("modern")) == CostProfile.modern)
    }
}

@Suite struct EngineTests {
    @Test func unknownStrategyAndParameterErrorsAreOneLine() {
        #expect(throws: ReplayError.self) { try WorkedExample.script(n: 3).replay(["nope"]) }
        #expect(throws: ReplayParameterError(description: "parameter page-size=8192: must be 4096 or 2097152")) {
            try ReplayParameters(arguments: ["page-size=8192"])
        }
        #expect(throws: ReplayParameterError.self) { try ReplayParameters(arguments: ["ibtc-size=100"]) }
        #expect(throws: ReplayParameterError.self) { try ReplayParameters(arguments: ["colour=blue"]) }
    }

    @Test func blockIdsBeyondTheDefinitionsAreAnError() {
        var trace = WorkedExample.script(n: 3).trace
        trace.chunks[0].blocks.append(99)
        #expect(throws: ReplayError.self) {
            try ReplayEngine.run(source: trace, path: "t", strategies: ["native"])
        }
    }

    @Test func missingCodePageIsAnErrorForScanningStrategiesOnly() throws {
        var trace = WorkedExample.script(n: 3).trace
        trace.pages.removeAll { $0.address == WorkedExample.far }
        #expect(throws: ReplayError.self) { try ReplayEngine.run(source: trace, path: "t", strategies: ["sbe"]) }
        #expect(try ReplayEngine.run(source: trace, path: "t", strategies: ["dbt-link"]).strategy("dbt-link")?.traps == 9)
    }

    @Test func allStrategiesTogetherEqualEachAlone() throws {
        let script = TrapCauseTests.dataScript()
        let together = try script.replay(["all"])
        for name in StrategyRegistry.names {
            let alone = try script.replay([name]).strategy(name)
            var expected = try #require(together.strategy(name))
            expected.estimates = alone?.estimates ?? []
            #expect(alone?.counts == expected.counts)
            #expect(alone?.sites == expected.sites)
            #expect(alone?.scanned == expected.scanned && alone?.translated == expected.translated)
        }
    }
}
