import Foundation
import Testing
@testable import Gate

/// Bad input: every problem is one GateError line naming the file and the field.
@Suite struct BaselineFileTests {
    let scratch: Scratch
    let loop: String
    let baselinePath: String
    let text: String

    init() throws {
        scratch = try Scratch()
        loop = try LoopTrace.make("loop", n: 3, in: scratch)
        baselinePath = scratch.path("baseline.json")
        _ = try Gate.run(baselinePath: baselinePath, traces: [loop], options: GateOptions(update: true, manifestPath: nil))
        text = try String(contentsOfFile: baselinePath, encoding: .utf8)
    }

    /// The error of checking the baseline text `edited`.
    func problem(_ edited: String, traces: [String]? = nil) -> String? {
        do {
            try edited.write(toFile: baselinePath, atomically: true, encoding: .utf8)
            _ = try Gate.run(baselinePath: baselinePath, traces: traces ?? [loop], options: GateOptions(manifestPath: nil))
            return nil
        } catch {
            let description = "\(error)"
            #expect(error is GateError)
            #expect(!description.contains("\n"))
            return description
        }
    }

    func replacing(_ old: String, _ new: String) -> String {
        #expect(text.contains(old), "the baseline has \(old)")
        return text.replacingOccurrences(of: old, with: new)
    }

    @Test func theWrittenTextParsesBackToTheSameBaseline() throws {
        let baseline = try Baseline.load(path: baselinePath)
        #expect(try Baseline.parse(Array(baseline.jsonText().utf8), name: "x") == baseline)
        #expect(text.hasPrefix("{\n  \"parameters\": {\n"))
        #expect(text.contains("\n  \"schema\": \"plexlab-baseline/1\",\n"))
        #expect(text.contains("\"strategies\": [\"native\", \"hw\", \"sbe\""))
    }

    @Test func aMissingBaselineIsNamed() {
        try? FileManager.default.removeItem(atPath: baselinePath)
        #expect(throws: GateError("baseline \(baselinePath): no such file (make one with --update)")) {
            try Gate.run(baselinePath: baselinePath, traces: [loop], options: GateOptions(manifestPath: nil))
        }
    }

    @Test func badJSONNamesLineAndColumn() {
        #expect(problem("{\n  \"schema\": \"plexlab-baseline/1\",\n  ]") == "baseline \(baselinePath): not valid JSON at line 3, column 3: unexpected ']', expected a quoted key")
        #expect(problem(String(text.dropLast(3)))?.hasSuffix("unexpected end of file, expected ',' or '}'") == true)
        #expect(problem("") == "baseline \(baselinePath): not valid JSON at line 1, column 1: unexpected end of file, expected a value")
        #expect(problem("{\"a\": 1, \"a\": 2}") == "baseline \(baselinePath): not valid JSON at line 1, column 10: duplicate key \"a\"")
    }

    @Test func wrongSchemaIsNamed() {
        #expect(problem(replacing("plexlab-baseline/1", "plexlab-baseline/2"))
                == "baseline \(baselinePath): schema: \"plexlab-baseline/2\" is not \"plexlab-baseline/1\"")
        #expect(problem("[]") == "baseline \(baselinePath): expected an object, found an array")
    }

    @Test func aMissingFieldIsNamedWithItsPath() throws {
        // Drop sbe's "scanned" line.
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let sbe = try #require(lines.firstIndex(of: "        \"sbe\": {"))
        let scanned = try #require(lines[sbe...].firstIndex { $0.hasPrefix("          \"scanned\":") })
        let edited = (lines[..<scanned] + lines[(scanned + 1)...]).joined(separator: "\n")
        #expect(problem(edited) == "baseline \(baselinePath): traces[0] (\(loop)).strategies.sbe: missing field \"scanned\"")
        #expect(problem(replacing("\"instructions\": 16", "\"instructions\": -16"))
                == "baseline \(baselinePath): traces[0] (\(loop)).instructions: expected a non-negative integer, found -16")
        #expect(problem(replacing("\"ret\": 3", "\"rte\": 3"))
                == "baseline \(baselinePath): traces[0] (\(loop)).strategies.sbe.counts: unknown trap cause \"rte\"")
        #expect(problem(replacing("\"schema\"", "\"scheme\""))?.hasSuffix("unknown field \"scheme\"") == true)
        // An estimate is two numbers in two objects: a profile in one only is refused.
        let slowdown = try #require(lines[sbe...].firstIndex { $0.hasPrefix("          \"slowdown\": {") })
        let renamed = lines.enumerated().map { $0.offset == slowdown + 1 ? $0.element.replacingOccurrences(of: "\"modern\"", with: "\"moderne\"") : $0.element }
        #expect(problem(renamed.joined(separator: "\n"))
                == "baseline \(baselinePath): traces[0] (\(loop)).strategies.sbe: profile \"modern\" is in cycles only")
    }

    @Test func unknownStrategyProfileOrParameterIsBadInput() {
        let strategies = replacing("\"dbt-qemu\"]", "\"dbt-qemu\", \"vmware\"]")
        #expect(problem(strategies)?.hasPrefix("baseline: unknown strategy \"vmware\" (native, hw, sbe,") == true)
        let profile = replacing("\"modern\"]", "\"modren\"]")
        #expect(problem(profile)?.hasPrefix("baseline: unknown profile \"modren\": cost profile modren: not a built-in profile") == true)
        let page = replacing("\"page-size\": \"4096\"", "\"page-size\": \"4000\"")
        #expect(problem(page) == "baseline: parameter page-size=4000: must be 4096 or 2097152")
    }

    @Test func anEntryShortOfAStrategyOrProfileIsBadInput() throws {
        var baseline = try Baseline.load(path: baselinePath)
        baseline.traces[0].strategies["sbe"] = nil
        #expect(throws: GateError("baseline entry \(loop) has no numbers for strategy \"sbe\" (refresh it with --update)")) {
            try Gate.check(baseline: baseline, traces: [loop])
        }
        baseline = try Baseline.load(path: baselinePath)
        baseline.traces[0].strategies["hw"]?.estimates.removeAll { $0.profile == "pentium4" }
        #expect(throws: GateError("baseline entry \(loop), strategy hw, has no numbers for profile \"pentium4\" (refresh it with --update)")) {
            try Gate.check(baseline: baseline, traces: [loop])
        }
        // A new strategy list is taken up by --update.
        baseline.strategies = ["sbe", "hw"]
        try baseline.write(to: baselinePath)
        let updated = try Gate.run(baselinePath: baselinePath, traces: [], options: GateOptions(update: true, manifestPath: nil))
        #expect(updated.strategies == ["sbe", "hw"])
        #expect(try Baseline.load(path: baselinePath).traces[0].strategies.keys.sorted() == ["hw", "sbe"])
    }

    @Test func tracesAndEntriesMustMatch() throws {
        let other = try LoopTrace.make("other", n: 2, in: scratch)
        #expect(problem(text, traces: [other]) == "trace \(other) is not in the baseline (add it with --update)")
        try FileManager.default.removeItem(atPath: loop)
        #expect(problem(text, traces: []) == "trace \(loop), listed in the baseline, does not exist")
    }

    @Test func badThresholdsAreNamed() throws {
        #expect(problem(replacing("\"thresholds\": {}", "\"thresholds\": {\"cycles\": \"pct:2\"}"))
                == "baseline \(baselinePath): thresholds.cycles: threshold \"pct:2\" is not rel:FRACTION or abs:AMOUNT with a number >= 0")
        let baseline = try Baseline.parse(Array(text.utf8), name: "b")
        #expect(throws: GateError("unknown threshold metric \"cylces\" (a trap cause, scanned, translated, cycles, slowdown, instructions, counts or *)")) {
            try Gate.check(baseline: baseline, traces: [loop], options: GateOptions(thresholds: ["cylces": .exact]))
        }
    }
}
