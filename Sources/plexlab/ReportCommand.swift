import ArgumentParser
import CostModel
import Replay
import Reports
import TraceModel

/// `plexlab report`: Markdown, HTML and JSON comparison of every strategy on one or more traces.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Replay traces under every strategy and write report.md, report.html and results.json.",
        discussion: """
        Examples:
          plexlab report Traces/*.plextrace --profile pentium3 --out Reports/latest/
          plexlab fidelity --json -- /usr/bin/lua5.4 -e 'local s=0' > lua-fidelity.json
          plexlab report Traces/lua.plextrace --fidelity lua-fidelity.json --out Reports/lua/
        """)

    @Argument(help: "Trace files (.plextrace).")
    var traces: [String]

    @Option(name: .long, help: "Cost profile: all, a built-in name or a JSON profile file (repeatable; docs/cost-profiles.md).")
    var profile: [ProfileOption] = [.all]

    @Option(name: .long, help: "Rows in the trap-site and page tables.")
    var top: Int = 10

    @Option(name: .long, help: "Replay parameter key=value (docs/strategies.md section 5; repeatable).")
    var param: [ParameterArgument] = []

    @Option(name: .long, help: "A `plexlab fidelity --json` file: adds a fidelity section, replayed against live counts and predicted against measured slowdowns (repeatable; docs/live.md).")
    var fidelity: [String] = []

    @Option(name: .long, help: "Directory to write the report into.")
    var out: String

    func validate() throws {
        _ = try ProfileSelection.validated(profile)
        _ = try ParameterArgument.parameters(param)
        if top < 0 { throw ValidationError("--top must not be negative") }
    }

    func run() throws {
        let options = ReportGenerator.Options(profiles: profile.map(\.description), top: top, parameters: try ParameterArgument.parameters(param),
                                                    fidelity: fidelity)
        let files = try ReportGenerator.run(tracePaths: traces, directory: out, options: options) { line in
            StandardError.write("plexlab report: \(Escape.terminal(line))\n")
        }
        for file in files { print(Escape.terminal(file)) }
    }
}
