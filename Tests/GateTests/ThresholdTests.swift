import Testing
@testable import Gate

/// Relative and absolute thresholds at their boundary, and which threshold a metric gets.
@Suite struct ThresholdTests {
    @Test func parsing() throws {
        #expect(try Threshold(parsing: "rel:0.02") == .relative(0.02))
        #expect(try Threshold(parsing: "abs:10") == .absolute(10))
        #expect(Threshold.relative(0.25).description == "rel:0.25")
        #expect(Threshold.absolute(10).description == "abs:10")
        for bad in ["rel", "rel:", "abs:-1", "abs:nan", "pct:2", "rel:x", ""] {
            #expect(throws: GateError.self, "\(bad)") { try Threshold(parsing: bad) }
        }
    }

    @Test func selection() {
        let table: [String: Threshold] = ["ret": .absolute(1), "counts": .absolute(2), "*": .absolute(3)]
        #expect(GateMetric.threshold(for: "ret", isCause: true, in: table) == .absolute(1))
        #expect(GateMetric.threshold(for: "call", isCause: true, in: table) == .absolute(2))
        #expect(GateMetric.threshold(for: "cycles", isCause: false, in: table) == .absolute(3))
        #expect(GateMetric.threshold(for: "cycles", isCause: false, in: [:]) == .exact)
    }

    /// sbe counts 10 call traps on the 10-iteration loop; the baseline is moved down so the growth
    /// is exactly at, then one past, the threshold.
    @Test func relativeAndAbsoluteAtTheBoundary() throws {
        let scratch = try Scratch()
        let loop = try LoopTrace.make("loop", n: 10, in: scratch)
        let path = scratch.path("baseline.json")
        _ = try Gate.run(baselinePath: path, traces: [loop], options: GateOptions(update: true, manifestPath: nil))
        let baseline = try Baseline.load(path: path)
        let call = NumberPlace(strategy: "sbe", profile: "-", metric: "call")
        func outcome(callBaseline: Double, _ thresholds: [String: Threshold], inFile: Bool = false) throws -> GateOutcome {
            var copy = baseline.moving(call, by: callBaseline - 10)
            if inFile { copy.thresholds = thresholds }
            return try Gate.check(baseline: copy, traces: [loop],
                                  options: GateOptions(thresholds: inFile ? [:] : thresholds, manifestPath: nil))
        }
        // rel:0.25 over 8 allows 2: 8 -> 10 passes; over 7 allows 1.75: 7 -> 10 fails.
        let atRelative = try outcome(callBaseline: 8, ["call": .relative(0.25)])
        #expect(atRelative.exitCode == 0 && atRelative.withinThreshold.map(\.metric) == ["call"])
        #expect(try outcome(callBaseline: 7, ["call": .relative(0.25)]).regressions.map(\.metric) == ["call"])
        // abs:3 allows 3: 7 -> 10 passes, 6 -> 10 fails; the same from the baseline file's thresholds.
        for inFile in [false, true] {
            #expect(try outcome(callBaseline: 7, ["call": .absolute(3)], inFile: inFile).exitCode == 0)
            #expect(try outcome(callBaseline: 6, ["call": .absolute(3)], inFile: inFile).exitCode == 1)
            #expect(try outcome(callBaseline: 6, ["counts": .absolute(4)], inFile: inFile).exitCode == 0)
            #expect(try outcome(callBaseline: 6, ["*": .absolute(3)], inFile: inFile).exitCode == 1)
        }
        // A command-line threshold overrides the file's for the same metric.
        var strict = baseline.moving(call, by: -3)
        strict.thresholds = ["call": .absolute(0)]
        let loosened = try Gate.check(baseline: strict, traces: [loop],
                                      options: GateOptions(thresholds: ["call": .absolute(3)], manifestPath: nil))
        #expect(loosened.exitCode == 0)
        // A threshold on one metric leaves the others exact.
        let other = try Gate.check(baseline: baseline.moving(call, by: -1), traces: [loop],
                                   options: GateOptions(thresholds: ["ret": .absolute(5)], manifestPath: nil))
        #expect(other.exitCode == 1)
    }
}
