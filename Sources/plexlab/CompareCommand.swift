import ArgumentParser
import Foundation
import CostModel
import Replay
import Reports

/// `plexlab compare TRACE...`: every strategy side by side, per trace.
struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Replay traces under several strategies at once and compare traps, scans and estimated slowdown.",
        discussion: "Strategies (listed under --strategies): docs/strategies.md. Profiles: docs/cost-profiles.md.")

    @Argument(help: "Trace files.")
    var traces: [String]

    @Option(help: "Comma-separated strategies, or all.")
    var strategies = StrategyArgument(names: ["all"])

    @OptionGroup var options: ReplayOptions

    func validate() throws {
        if traces.isEmpty { throw ValidationError("give at least one trace file") }
        try strategies.validate()
    }

    func run() throws {
        let (parameters, profile, profiles) = try options.resolve()
        var all: [TraceResults] = []
        for trace in traces {
            let results = try ReplayEngine.run(tracePath: trace, strategies: strategies.names, parameters: parameters,
                                               profiles: profiles)
            if !options.json { print(ComparisonTable.render(results, profile: profile.name)) }
            all.append(results)
        }
        if options.json { print(try ResultsJSON.encode(all, profiles: profiles)) }
    }
}
