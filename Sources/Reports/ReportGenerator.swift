import CostModel
import Foundation
import Replay
import TraceStore

/// `plexlab report`: replays every trace under every strategy, then writes report.md, report.html and results.json.
public enum ReportGenerator {
    public struct Options: Sendable {
        /// `--profile` values, selected by `ProfileSelection` (["all"]: the built-in profiles).
        public var profiles: [String]
        /// Rows in the trap-site and page tables.
        public var top: Int
        public var parameters: ReplayParameters
        /// `plexlab fidelity --json` files: the report's fidelity section (none: no section).
        public var fidelity: [String]
        public init(profiles: [String] = ["all"], top: Int = 10, parameters: ReplayParameters = ReplayParameters(),
                    fidelity: [String] = []) {
            self.profiles = profiles
            self.top = top
            self.parameters = parameters
            self.fidelity = fidelity
        }
    }

    /// Writes the report for `tracePaths` into `directory`; returns the files written.
    public static func run(tracePaths: [String], directory: String, options: Options = Options(),
                           progress: (String) -> Void = { _ in }) throws -> [String] {
        guard !tracePaths.isEmpty else { throw ReportError("no trace given") }
        guard options.top >= 0 else { throw ReportError("--top must not be negative") }
        let profiles = try ProfileSelection(options.profiles).profiles
        let fidelity = try options.fidelity.map { try ReportFidelity.read(path: $0) }  // read first: a bad file fails fast
        var results: [TraceResults] = []
        var traces: [ReportTrace] = []
        for path in tracePaths {
            progress("replaying \(path)")
            let reader = try TraceReader(path: path)
            let result = try ReplayEngine.run(source: reader, path: path, strategies: ["all"],
                                              parameters: options.parameters, profiles: profiles)
            let context = ReplayAdapter.TraceContext(modules: try reader.modules(), blocks: try reader.blockDefinitions())
            results.append(result)
            traces.append(ReplayAdapter.trace(result, context: context, top: options.top))
        }
        let title = traces.count == 1 ? "PlexLab report: \(traces[0].name)" : "PlexLab report: \(traces.count) traces"
        let input = ReportInput(title: title, profiles: profiles, traces: traces, top: options.top, fidelity: fidelity)
        return try ReportWriter.write(input, resultsJSON: try ResultsJSON.encode(results, profiles: profiles) + "\n", to: directory)
    }
}
