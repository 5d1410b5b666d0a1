import ArgumentParser
import CostModel
import Replay

/// `plexlab replay TRACE --strategy S`: one strategy's counts and estimate.
struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Replay a trace under one strategy: traps by cause, instructions scanned/translated, cycles.",
        discussion: "Strategies: \(StrategyRegistry.names.joined(separator: ", ")). Semantics: docs/strategies.md.")

    @Argument(help: "A trace file.")
    var trace: String

    @Option(help: "The strategy to replay.")
    var strategy: String

    @OptionGroup var options: ReplayOptions

    func run() throws {
        let (parameters, profile, profiles) = try options.resolve()
        let results = try ReplayEngine.run(tracePath: trace, strategies: [strategy], parameters: parameters,
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
    @Option(help: "Cost profile for the table: pentium3, pentium4, modern, or a JSON profile file.")
    var profile: String = "modern"

    @Option(name: .customLong("param"), help: "Replay parameter key=value (page-size, ibtc-size, ras-depth, code-cache, legacy-policy).")
    var parameters: [String] = []

    @Flag(help: "Print JSON (docs/results-schema.md) instead of a table.")
    var json = false

    /// Parameters, the chosen profile, and every profile to estimate with (built-ins plus a file's).
    func resolve() throws -> (ReplayParameters, CostProfile, [CostProfile]) {
        let parameters = try ReplayParameters(arguments: self.parameters)
        let chosen = try CostProfile.resolve(profile)
        var profiles = CostProfile.builtIn
        if !profiles.contains(where: { $0.name == chosen.name }) { profiles.append(chosen) }
        else if CostProfile.named(chosen.name) != chosen { profiles = profiles.filter { $0.name != chosen.name } + [chosen] }
        return (parameters, chosen, profiles)
    }
}
