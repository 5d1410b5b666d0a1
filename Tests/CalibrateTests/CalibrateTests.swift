import CostModel
import Foundation
import Testing
@testable import Calibrate

/// Real calibrations on this host: short, and serialized (the kernels share process-wide signal handlers).
@Suite(.serialized)
struct CalibrationRunTests {
    func temporaryPath(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("calibrate-\(getpid())-\(name).json").path
    }

    @Test func quickCalibrationWritesAProfileThatLoadsAndIsOrderedAsPhysicsRequires() throws {
        let calibration = try Calibrator.run(CalibrationOptions(repetitions: 15, quick: true, profileName: "test"))
        let path = temporaryPath("quick")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try calibration.profile.write(to: path)

        // CostModel's loader: the twelve required keys, unknown keys rejected.
        let loaded = try CostProfile.load(path: path)
        #expect(loaded == calibration.profile.costProfile)
        #expect(loaded.name == "test")
        for key in CostKey.allCases {
            #expect(loaded[key].isFinite && loaded[key] > 0, "\(key) = \(loaded[key])")
            let source = try #require(loaded.sources[key], "no source for \(key)")
            #expect(source.hasPrefix("measured: ") || source.hasPrefix("estimate: ") || source.hasPrefix("trap_pf "),
                    "\(key): \(source)")
        }
        #expect(loaded[.trapPF] > loaded[.ibtcHit])
        #expect(loaded[.trapWP] > loaded[.ibtcHit])
        #expect(loaded[.trapInt3] > loaded[.ibtcHit])
        #expect(loaded[.emulateData] > loaded[.trapPF])
        let syscall = try #require(calibration.measurement(.syscall))
        let lookup = try #require(calibration.measurement(.ibtcLookup))
        #expect(syscall.cycles.median > lookup.cycles.median)
        // A signal round trip enters the kernel at least once more than a syscall does.
        let pageFault = try #require(calibration.measurement(.pageFault))
        #expect(pageFault.cycles.median > syscall.cycles.median)

        // Every figure this x86-64 host can measure is marked measured, with its repetition count.
        for key: CostKey in [.cpi, .trapInt3, .trapPF, .trapWP, .ibtcHit, .rasHit, .scanPerInsn] {
            #expect(loaded.sources[key]!.hasPrefix("measured: median of 15 "), "\(key): \(loaded.sources[key]!)")
        }
        // What no kernel measures comes from the modern built-in, and says so.
        #expect(loaded[.dispatch] == CostProfile.modern[.dispatch])
        #expect(loaded.sources[.dispatch]!.hasPrefix("estimate: the modern built-in's figure"))
        #expect(calibration.clock.source == .tsc || calibration.unmeasured.contains { $0.what == "cycle counter" })
    }

    @Test func theFileHasExactlyTheKeysOfTheCostProfileFormat() throws {
        let calibration = try Calibrator.run(CalibrationOptions(repetitions: 5, quick: true))
        let object = try #require(
            try JSONSerialization.jsonObject(with: calibration.profile.jsonData()) as? [String: Any])
        #expect(Set(object.keys) == Set(CostKey.allCases.map(\.rawValue) + ["name", "description", "sources"]))
        for key in CostKey.allCases { #expect(object[key.rawValue] is NSNumber, "\(key)") }
        #expect((object["sources"] as? [String: String])?.count == CostKey.allCases.count)
    }

    @Test func timeBasedFallbackSaysSoAndStillProducesAnOrderedProfile() throws {
        let calibration = try Calibrator.run(CalibrationOptions(repetitions: 15, quick: true, timeBased: true))
        #expect(calibration.clock.source == .monotonic)
        #expect(calibration.clock.tscGigahertz == nil)
        let reason = try #require(calibration.unmeasured.first { $0.what == "cycle counter" })
        #expect(reason.why.contains("--time-based"))
        let profile = try CostProfile.parse(calibration.profile.jsonData(), path: "time-based")
        #expect(CostKey.allCases.allSatisfy { profile[$0].isFinite && profile[$0] > 0 })
        #expect(profile[.trapPF] > profile[.ibtcHit])
        #expect(calibration.profile.description.contains("clock_gettime"))
        #expect(calibration.summary().contains("Not measured: cycle counter"))
    }

    @Test func tooFewRepetitionsIsAnError() {
        #expect(throws: CalibrationError.invalidRepetitions(2)) {
            try Calibrator.run(CalibrationOptions(repetitions: 2, quick: true))
        }
        #expect(CalibrationError.invalidRepetitions(2).description == "--repetitions must be at least 5, got 2")
    }
}

struct SampleSummaryTests {
    @Test func oddCount() throws {
        let s = try #require(SampleSummary([5, 1, 4, 2, 3]))
        // Sorted 1 2 3 4 5; nearest rank: p10 = rank ceil(0.5) = 1, p90 = rank ceil(4.5) = 5.
        // Deviations from 3: 2 1 0 1 2 -> sorted 0 1 1 2 2 -> median 1.
        #expect(s == SampleSummary(count: 5, median: 3, p10: 1, p90: 5, mad: 1))
    }

    @Test func evenCount() throws {
        let s = try #require(SampleSummary([10, 1, 3, 2]))
        // Median (2 + 3) / 2 = 2.5; p10 rank ceil(0.4) = 1 -> 1; p90 rank ceil(3.6) = 4 -> 10.
        // Deviations 1.5 0.5 0.5 7.5 -> sorted 0.5 0.5 1.5 7.5 -> median 1.
        #expect(s == SampleSummary(count: 4, median: 2.5, p10: 1, p90: 10, mad: 1))
        #expect(s.scaled(by: 2) == SampleSummary(count: 4, median: 5, p10: 2, p90: 20, mad: 2))
    }

    @Test func emptyHasNoSummary() {
        #expect(SampleSummary([]) == nil)
    }

    @Test func roundingKeepsSmallFiguresPositive() {
        #expect(ProfileBuilder.rounded(18509.754) == 18509.75)
        #expect(ProfileBuilder.rounded(0.0012345) == 0.001235)
        #expect(ProfileBuilder.rounded(0.81294) == 0.8129)
        #expect(ProfileBuilder.text(150) == "150")
    }
}

struct ProfileFileTests {
    @Test func aProfileThatCannotBeWrittenIsAOneLineError() throws {
        let profile = CalibratedProfile(name: "x", description: "", costs: [:], sources: [:])
        #expect(throws: CalibrationError.self) { try profile.write(to: "/nonexistent-dir/profile.json") }
        do {
            try profile.write(to: "/nonexistent-dir/profile.json")
        } catch {
            #expect(String(describing: error).hasPrefix("cannot write /nonexistent-dir/profile.json: "))
            #expect(!String(describing: error).contains("\n"))
        }
    }

    @Test func everyKeyIsWrittenEvenWhenAFigureIsMissing() throws {
        // A missing figure is written as 0, which CostModel accepts but calibrate never produces (tested above).
        let profile = CalibratedProfile(name: "partial", description: "d", costs: ["cpi": 0.5], sources: [:])
        let parsed = try CostProfile.parse(profile.jsonData(), path: "partial")
        #expect(parsed[.cpi] == 0.5 && parsed[.vmexit] == 0 && parsed.name == "partial")
    }
}
