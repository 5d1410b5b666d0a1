import ArgumentParser
import CostModel
import Replay
import Reports

/// `plexlab replay TRACE --strategy S`: one strategy's counts and estimate.
struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Replay a trace under one strategy: traps by cause, instructions scanned/translated, cycles.",
        discussion: "Strategies (listed under --strategy): docs/strategies.md. Profiles: docs/cost-profiles.md.")

    @Argument(help: "A trace file.")
    var trace: String

    @Option(help: "The strategy to replay.")
    var strategy: StrategyArgument

    @OptionGroup var options: ReplayOptions

    func validate() throws {
        try strategy.validate()
    }

    func run() throws {
        let (parameters, profile, profiles) = try options.resolve()
        let results = try ReplayEngine.run(tracePath: trace, strategies: strategy.names, parameters: parameters,
                                           profiles: profiles)
        if options.json {
            print(try ResultsJSON.encode([results], profiles: profiles))
        } else {
            print(ComparisonTable.render(results, profile: profile.name), terminator: "")
        }
    }
}

/// Options shared by `replay` and `compare`.
struct ReplayOptions: ParsableArguments {
    @Option(help: "Cost profile: all, a built-in name or a JSON profile file (repeatable; the table shows the first; docs/cost-profiles.md).")
    var profile: [ProfileOption] = [.builtIn("modern")]

    @Option(name: .customLong("param"), help: "Replay parameter key=value (docs/strategies.md section 5; repeatable).")
    var parameters: [ParameterArgument] = []

    @Flag(help: "Print JSON (docs/results-schema.md) instead of a table.")
    var json = false

    func validate() throws {
        _ = try ParameterArgument.parameters(parameters)
        _ = try ProfileSelection.validated(profile)
    }

    /// Parameters, the profile the table shows, and every profile to estimate with (the selection plus the
    /// built-ins it does not shadow: `ProfileSelection.withBuiltIns`).
    func resolve() throws -> (ReplayParameters, CostProfile, [CostProfile]) {
        let parameters = try ParameterArgument.parameters(self.parameters)
        let selection = try ProfileSelection(profile)
        return (parameters, selection.primary, selection.withBuiltIns)
    }
}
