import ArgumentParser
import Calibrate
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
        """)

    @Option(name: .long, help: "Write the profile to this file.")
    var out: String?

    @Option(name: .long, help: "Timed regions per measurement (default 1001, or 51 with --quick).")
    var repetitions: Int?

    @Flag(name: .long, help: "Fewer operations per region and repetitions: seconds, not tens of seconds.")
    var quick = false

    @Flag(name: .long, help: "Time with clock_gettime even when the TSC works.")
    var timeBased = false

    @Option(name: .long, help: "The profile's name.")
    var name = "this-machine"

    func run() throws {
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
}
