import ArgumentParser
import CostModel
import Fidelity
import Foundation
import Workloads

/// `plexlab fidelity -- PROGRAM ARGS`: the replay of a recording next to a live run, cause by cause.
struct FidelityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fidelity",
        abstract: "Record a program, replay it, run it live, and print replayed and live trap counts side by side.",
        discussion: """
        Records PROGRAM under qemu-user, replays the recording under sbe and pagefault-nx, runs PROGRAM under \
        the live monitors (`plexlab live`), and prints each cause's replayed and live counts, then the \
        predicted slowdown next to the measured live one: the measured native run plus the monitor's start \
        plus the replay's trap, scan and code-write costs, over the measured native run, priced by the live \
        profile (this host's monitor round trips, measured first on generated probe programs, as \
        `plexlab calibrate --live` does) or --profile. A monitored run under 0.1 s is repeated 9 times, \
        each after a plain run, with the monitor-start probe run in the same rounds; the medians are \
        compared and the error of each round alone is printed as a range. Exits 1 when a count differs. \
        See docs/live.md.

        Examples:
          plexlab fidelity -- ./loop
          plexlab fidelity --profile this-machine.json --json -- /usr/bin/gzip -c README.md
          plexlab calibrate --live --out live.json && plexlab fidelity --profile live.json --workload micro-vcall-64
        """)

    @Option(help: "Cost profile for the predicted slowdown: a built-in name or a JSON profile file (plexlab calibrate --out, or calibrate --live --out); selected as compare does, the first is used (docs/cost-profiles.md). Default: the live profile, this host's monitor round trips measured before the run (docs/live.md).")
    var profile: [ProfileOption] = []

    @Option(help: "Keep the recording at this path.")
    var keepTrace: String?

    @Option(help: "Use a named corpus workload (built in a scratch directory) instead of a command.")
    var workload: String?

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    @Argument(parsing: .captureForPassthrough, help: "-- PROGRAM ARGS")
    var command: [String] = []

    mutating func validate() throws {
        command = try ProgramWords.split(command, of: self)
        if !profile.isEmpty { _ = try ProfileSelection.validated(profile) }
    }

    func run() throws {
        var words = command
        if workload != nil && !words.isEmpty { throw ValidationError("give either --workload or a program after --, not both") }
        let chosen = profile.isEmpty ? nil : try ProfileSelection(profile).primary
        let directory = NSTemporaryDirectory() + "plexlab-fidelity-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        if let workload {
            let prepared = try WorkloadCatalog.named(workload).prepare(in: directory + "/bin")
            words = [prepared.program] + prepared.arguments
        }
        guard let program = words.first else { throw ValidationError("give the program after --: plexlab fidelity -- PROGRAM ARGS") }
        let result = try Fidelity.run(program: program, arguments: Array(words.dropFirst()), profile: chosen,
                                      directory: directory)
        if let keepTrace {
            try? FileManager.default.removeItem(atPath: keepTrace)
            try FileManager.default.copyItem(atPath: directory + "/fidelity.plextrace", toPath: keepTrace)
        }
        print(json ? try Fidelity.json(result) : Fidelity.render(result), terminator: json ? "\n" : "")
        if !result.mismatches.isEmpty { throw ExitCode(1) }
    }
}
