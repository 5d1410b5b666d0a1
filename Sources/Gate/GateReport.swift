import Foundation
import TraceModel

/// The gate's summary as an aligned text table (terminal, CI log) or GitHub-flavoured Markdown.
extension GateOutcome {
    static let columns = ["trace", "strategy", "profile", "metric", "baseline", "now", "change", "%", "threshold"]

    /// Headline: what was compared and the verdict.
    public func headline(baselinePath: String) -> String {
        let scope = "\(traces.count) trace(s) x \(strategies.count) strategies x \(profiles.count) profile(s): \(compared) numbers compared with \(baselinePath)"
        if updatedBaseline != nil { return "gate: updated \(baselinePath) (\(traces.count) trace(s), \(strategies.count) strategies, \(profiles.count) profile(s))" }
        let verdict = regressions.isEmpty ? "PASS" : "FAIL: \(regressions.count) regression(s)"
        return "gate: \(verdict); \(improvements.count) improvement(s), \(withinThreshold.count) within threshold; \(scope)"
    }

    /// The text report: a table per kind of change, then the verdict.
    public func text(baselinePath: String) -> String {
        var out = ""
        for (title, rows) in sections() where !rows.isEmpty {
            // Trace names come from the baseline and the command line: no control character reaches the terminal.
            out += "\(title) (\(rows.count)):\n" + TextTable.render(Self.columns, rows.map { Self.cells($0).map(Escape.terminal) }, rightAligned: (4...7).contains) + "\n"
        }
        if !improvements.isEmpty && updatedBaseline == nil {
            out += "Improvements: lock them in with `plexlab gate --baseline \(Escape.terminal(baselinePath)) --update`.\n"
        }
        return out + Escape.terminal(headline(baselinePath: baselinePath)) + "\n"
    }

    /// The Markdown summary (for --markdown and $GITHUB_STEP_SUMMARY).
    public func markdown(baselinePath: String) -> String {
        let verdict: String
        if updatedBaseline != nil { verdict = "baseline updated" } else {
            verdict = regressions.isEmpty ? "pass" : "**FAIL**, \(regressions.count) regression(s)"
        }
        var out = "## PlexLab gate: \(verdict)\n\n"
        out += "\(traces.count) trace(s) x \(strategies.count) strategies x \(profiles.count) profile(s): "
        out += "\(compared) numbers compared with \(Escape.markdown(baselinePath)); \(regressions.count) regression(s), "
        out += "\(improvements.count) improvement(s), \(withinThreshold.count) within threshold.\n"
        for (title, rows) in sections() where !rows.isEmpty {
            out += "\n### \(title) (\(rows.count))\n\n"
            out += "| " + Self.columns.joined(separator: " | ") + " |\n"
            out += "| " + Self.columns.enumerated().map { $0.offset >= 4 && $0.offset <= 7 ? "---:" : "---" }.joined(separator: " | ") + " |\n"
            for row in rows {
                // Paths may hold newlines, `|`, HTML or backticks: each cell renders literally, on its own row.
                out += "| " + Self.cells(row).map(Escape.markdown).joined(separator: " | ") + " |\n"
            }
        }
        if !improvements.isEmpty && updatedBaseline == nil {
            out += "\nImprovements: lock them in with plexlab gate --baseline \(Escape.markdown(baselinePath)) --update.\n"
        }
        return out
    }

    private func sections() -> [(String, [GateChange])] {
        [("Regressions", regressions), ("Improvements", improvements), ("Within threshold", withinThreshold)]
    }

    static func cells(_ change: GateChange) -> [String] {
        let percent = change.percent.map { String(format: "%+.2f%%", $0) } ?? "new"
        return [change.trace, change.strategy, change.profile, change.metric,
                format(change.baseline, change.metric), format(change.now, change.metric),
                (change.change > 0 ? "+" : "") + format(change.change, change.metric), percent,
                change.threshold.description]
    }

    /// Whole numbers as integers; slowdowns to 4 decimals; other fractions to 1.
    static func format(_ value: Double, _ metric: String) -> String {
        if metric == "available" { return value != 0 ? "yes" : "no" }
        if metric == "slowdown" { return String(format: "%.4f", value) }
        return value == value.rounded() && abs(value) < 1e15 ? NumberFormat.plain(value) : String(format: "%.1f", value)
    }
}
