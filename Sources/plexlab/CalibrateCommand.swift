import ArgumentParser
import Calibrate
import Fidelity
import Foundation
import TraceModel

/// `plexlab calibrate`: measure this machine's trap costs into a cost profile.
struct CalibrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calibrate",
        abstract: "Measure this machine's trap, syscall and lookup costs into a cost profile (JSON).",
        discussion: """
        Times an int3 round trip, page-fault and write-protect-fault round trips, a syscall, cpuid, an IBTC \
        lookup, a return-address-stack hit and a reference loop, each as a median over many repetitions, and \
        writes a profile usable with --profile. Keys it cannot measure are estimates, marked in `sources`. \
        With --out the summary goes to standard output; without it the profile does and the summary goes to \
        standard error. See docs/calibrate.md.

        With --live, measures instead what the live monitor (plexlab live) pays on this host: trap_int3, \
        trap_int3_fill (an INT3 on a filled byte), trap_pf and trap_wp by running the monitor on four \
        generated probe programs, scan_per_insn by timing \
        its page scan, and stop-and-resume and mprotect alone (in the summary and the sources); every other \
        key is the modern profile's. `plexlab fidelity --profile FILE` then predicts under it. See docs/live.md.

        Examples:
          plexlab calibrate --out this-machine.json
          plexlab calibrate --live --out live.json
          plexlab fidelity --profile live.json -- /usr/bin/lua5.4 -e 'local s=0'
        """)

    @Option(name: .long, help: "Write the profile to this file.")
    var out: String?

    @Option(name: .long, help: "Timed regions per measurement (default 1001, or 51 with --quick).")
    var repetitions: Int?

    @Flag(name: .long, help: "Fewer operations per region and repetitions: seconds, not tens of seconds.")
    var quick = false

    @Flag(name: .long, help: "Time with clock_gettime even when the TSC works.")
    var timeBased = false

    @Option(name: .long, help: "The profile's name (default: this-machine, or live with --live).")
    var name: String?

    @Flag(name: .long, help: "Measure the live monitor's round trips (plexlab live, plexlab fidelity) instead of in-process traps.")
    var live = false

    func validate() throws {
        if live && (repetitions != nil || timeBased) {
            throw ValidationError("--repetitions and --time-based are for in-process calibration, not --live")
        }
    }

    func run() throws {
        if live { return try runLive() }
        let name = self.name ?? "this-machine"
        let options = CalibrationOptions(repetitions: repetitions, quick: quick, timeBased: timeBased,
                                         profileName: name)
        StandardError.write("plexlab: calibrating (\(options.repetitions) repetitions per measurement)...\n")
        let calibration = try Calibrator.run(options)
        if let out {
            try calibration.profile.write(to: out)
            print(calibration.summary(), terminator: "")
            print("Wrote \(Escape.terminal(out))")
        } else {
            StandardError.write(calibration.summary())
            print(String(decoding: try calibration.profile.jsonData(), as: UTF8.self), terminator: "")
        }
    }

    /// `--live`: the probes run the monitor in a scratch directory; the file format is calibrate's.
    func runLive() throws {
        StandardError.write("plexlab: measuring the live monitor (seven probe programs, the scan, stop-and-resume, mprotect)...\n")
        let directory = NSTemporaryDirectory() + "plexlab-calibrate-live-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let calibration = try LiveProfile.calibrate(directory: directory, iterations: quick ? 2_000 : LiveProfile.iterations,
                                                    faultPages: quick ? 500 : LiveProfile.faultPages)
        let file = calibration.file(name: name ?? "live")
        if let out {
            try file.write(to: out)
            print(calibration.summary(), terminator: "")
            print("Wrote \(Escape.terminal(out))")
        } else {
            StandardError.write(calibration.summary())
            print(String(decoding: try file.jsonData(), as: UTF8.self), terminator: "")
        }
    }
}
