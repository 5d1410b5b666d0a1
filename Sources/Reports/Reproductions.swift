import Foundation
import TraceModel

/// Published measurements set next to the lab's prediction for a workload of the same shape
/// (docs/reproductions.md is this section of `plexlab report` over the committed corpus). The figures are
/// inputs to compare with, never to fit: no profile number comes from them (docs/cost-profiles.md).
public enum Reproductions {
    /// Which traces a figure is compared on.
    public enum Shape: Sendable, Equatable {
        /// Traces whose name starts with the prefix, one row each.
        case workload(prefix: String)
        /// Every trace not named `micro-*`, one row: the geometric mean of their slowdowns.
        case realPrograms
    }

    /// One published measurement: a slowdown over native (nil when the source gives none).
    public struct Figure: Sendable, Equatable {
        public var source: String
        public var measurement: String
        public var published: Double?
        public var shape: Shape
        public var strategy: String
        public var profile: String
        /// Why the lab's number is what it is next to this one.
        public var note: String
    }

    public struct Row: Sendable, Equatable {
        public var figure: Figure
        /// The trace name, or "N real programs (min-max)".
        public var workload: String
        public var predicted: Double
        /// predicted / published.
        public var ratio: Double?
        /// Within a factor of two of the published figure.
        public var agrees: Bool? { ratio.map { $0 >= 0.5 && $0 <= 2 } }
    }

    static let testbed = "K. Lawton, plex86 dynamic-translation testbed, plex86 list, January 2001 (native 0.72 s)"
    static let bruening = "D. Bruening, PhD thesis, MIT 2004 (DynamoRIO on SPEC CPU2000), as quoted in PlexLab issue 17"

    public static let figures: [Figure] = [
        Figure(source: testbed, measurement: "every branch vectored through a handler routine, guest state saved through SS: 54.68 s",
               published: 54.68 / 0.72, shape: .workload(prefix: "micro-xpage-bounce"), strategy: "dbt-nolink", profile: "pentium3",
               note: "dbt-nolink sends every exit to the dispatcher; `dispatch` (80 on pentium3) is a context save and restore plus a hash lookup, priced from Bruening's dispatcher, not from this testbed. Per one-jump block the lab charges cpi + block_same_isa + dispatch = 85 cycles over 1."),
        Figure(source: testbed, measurement: "GS-based state save, branches still through the handler: 46.90 s",
               published: 46.90 / 0.72, shape: .workload(prefix: "micro-xpage-bounce"), strategy: "dbt-nolink", profile: "pentium3",
               note: "the same counts as the first row: a cheaper state save changes what one `dispatch` costs (a profile value), not how many there are. The lab has one dispatch price per machine, so it predicts one number for both rows: a separate state-save key would need a source for the two saves' costs other than these two timings, and none is known (docs/cost-profiles.md, \"One dispatch price\")."),
        Figure(source: testbed, measurement: "direct branches backpatched, each checking an inline ID token against a global one: 5.22 s",
               published: 5.22 / 0.72, shape: .workload(prefix: "micro-xpage-bounce"), strategy: "dbt-link", profile: "pentium3",
               note: "every exit is linked after its first use, so what remains is the translated code: the guest's own jumps at native speed (tc_same_isa 1) plus block_same_isa = 4 cycles per block, counted from the instructions of the described linked exit (a compare with memory, a not-taken jne, a second taken jump). Before translated code had a cost the lab said 1.0x here."),
        Figure(source: bruening, measurement: "basic-block cache without linking: about 25x native",
               published: 25, shape: .realPrograms, strategy: "dbt-nolink", profile: "pentium4",
               note: "every exit goes to the dispatcher (150 cycles on pentium4, plus block_same_isa 3) over about 5 guest instructions per block at cpi 1.5. The corpus programs are short runs (start-up heavy, 0.3-0.9M blocks) where SPEC CPU2000 runs for minutes, so translation (translate_per_insn per translated instruction) is a larger share here than in the thesis's runs; the spread between programs is mostly their block length."),
        Figure(source: bruening, measurement: "basic-block cache with direct links: about 3x native",
               published: 3, shape: .realPrograms, strategy: "dbt-link", profile: "pentium4",
               note: "what remains after direct linking is the indirect exits (returns, indirect calls and jumps), each still a dispatch, plus block_same_isa per block and translation; short runs translate a larger share of what they execute than SPEC does, which pushes the lab's figure up (the programs with the fewest executions per translated instruction are the 11x end of the range)."),
        Figure(source: bruening, measurement: "indirect branches resolved in the cache (the rest of the gap to native)",
               published: nil, shape: .realPrograms, strategy: "dbt-ibtc", profile: "pentium4",
               note: "the issue quotes no figure for this rung; the lab's prediction is shown for the ladder's shape."),
    ]

    /// The rows for the traces of a report (figures whose profile or traces are absent give none).
    public static func rows(_ traces: [ReportTrace]) -> [Row] {
        var rows: [Row] = []
        func slowdown(_ trace: ReportTrace, _ figure: Figure) -> Double? {
            trace.strategies.first { $0.name == figure.strategy && $0.unavailable == nil }?
                .estimates.first { $0.profile == figure.profile }?.slowdown
        }
        for figure in figures {
            switch figure.shape {
            case .workload(let prefix):
                for trace in traces where trace.name.hasPrefix(prefix) {
                    guard let predicted = slowdown(trace, figure) else { continue }
                    rows.append(Row(figure: figure, workload: trace.name, predicted: predicted,
                                    ratio: figure.published.map { predicted / $0 }))
                }
            case .realPrograms:
                let values = traces.filter { !$0.name.hasPrefix("micro-") }.compactMap { slowdown($0, figure) }
                guard !values.isEmpty else { continue }
                let mean = exp(values.map { log($0) }.reduce(0, +) / Double(values.count))
                let range = "\(NumberFormat.ratio(values.min()!))-\(NumberFormat.ratio(values.max()!))"
                rows.append(Row(figure: figure, workload: "geometric mean of \(values.count) real programs (\(range))",
                                predicted: mean, ratio: figure.published.map { mean / $0 }))
            }
        }
        return rows
    }

    /// The table's column headings.
    public static let headings = ["source", "measurement", "published", "workload", "strategy", "profile", "lab", "lab / published"]

    /// A row's cells as plain text in `headings` order (escape them for the target format).
    public static func cells(_ row: Row) -> [String] {
        let ratio = row.ratio.map { NumberFormat.decimal($0) + (row.agrees == true ? "" : " (beyond 2x)") } ?? "-"
        return [row.figure.source, row.figure.measurement, row.figure.published.map(NumberFormat.ratio) ?? "-",
                row.workload, row.figure.strategy, row.figure.profile, NumberFormat.ratio(row.predicted), ratio]
    }

    /// The figures of `rows`, each once, in order: their notes follow the table.
    public static func figures(of rows: [Row]) -> [Figure] {
        var seen: [Figure] = []
        for row in rows where !seen.contains(row.figure) { seen.append(row.figure) }
        return seen
    }

    /// The Markdown section (empty without rows), between comment markers that scripts/reproductions.sh cuts on.
    public static func markdown(_ rows: [Row]) -> String {
        guard !rows.isEmpty else { return "" }
        var out = "<!-- reproductions:begin -->\n## Published measurements and the lab's predictions\n\n"
        out += MarkdownReport.row(headings)
        out += MarkdownReport.row(["---", "---", "---:", "---", "---", "---", "---:", "---:"])
        for row in rows { out += MarkdownReport.row(cells(row).map(Escape.markdown)) }
        out += "\nWhy the lab's numbers are what they are:\n\n"
        for figure in figures(of: rows) {
            out += "- *\(Escape.markdown(figure.measurement))*: \(Escape.markdown(figure.note))\n"
        }
        return out + "<!-- reproductions:end -->\n\n"
    }
}
