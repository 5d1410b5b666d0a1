import ArgumentParser
import Foundation
import Gate
import TraceModel

/// `plexlab gate --baseline FILE [TRACE...]`: fails CI when a replayed number grows beyond its threshold.
struct GateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gate",
        abstract: "Replay traces and compare every trap count, scan, translation and cycle estimate with a baseline.",
        discussion: """
        Exit status: 0 nothing regressed, 1 a number grew beyond its threshold, 2 bad input.
        Without TRACE arguments the gate replays the traces of the baseline and of --manifest.
        Thresholds: --threshold METRIC=rel:FRACTION|abs:AMOUNT, METRIC a trap cause, scanned, translated,
        cycles, slowdown, instructions, counts (every cause) or * (every metric). Default: no growth at all.
        Format and CI wiring: docs/gate.md.
        """)

    @Argument(help: "Trace files (default: the baseline's and the manifest's).")
    var traces: [String] = []

    @Option(help: "The baseline file (schema plexlab-baseline/1).")
    var baseline: String

    @Flag(help: "Write the numbers measured now as the baseline (creating it if need be).")
    var update = false

    @Option(help: "Also write the summary as Markdown to FILE (and append it to $GITHUB_STEP_SUMMARY when set).")
    var markdown: String?

    @Option(name: .customLong("threshold"), help: "METRIC=rel:0.02 or METRIC=abs:10 (repeatable).")
    var thresholds: [ThresholdArgument] = []

    @Option(help: "The corpus manifest listing traces to gate when none are named.")
    var manifest: String = "Traces/manifest.json"

    func validate() throws {
        _ = try ThresholdArgument.table(thresholds)
    }

    func run() throws {
        let table = try ThresholdArgument.table(thresholds)
        let outcome = try Gate.run(baselinePath: baseline, traces: traces,
                                   options: GateOptions(thresholds: table, update: update, manifestPath: manifest))
        print(outcome.text(baselinePath: baseline), terminator: "")
        if markdown != nil || ProcessInfo.processInfo.environment["GITHUB_STEP_SUMMARY"] != nil {
            let text = outcome.markdown(baselinePath: baseline)
            if let markdown { try write(text, to: markdown, append: false) }
            if let summary = ProcessInfo.processInfo.environment["GITHUB_STEP_SUMMARY"], !summary.isEmpty {
                try write(text, to: summary, append: true)
            }
        }
        if outcome.exitCode != 0 { throw ExitCode(outcome.exitCode) }
    }

    private func write(_ text: String, to path: String, append: Bool) throws {
        if append { try OutputFile.append(text, to: path) } else { try OutputFile.write(text, to: path) }
    }
}
