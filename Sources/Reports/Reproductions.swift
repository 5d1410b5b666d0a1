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
        /// Every user-mode trace not named `micro-*`, one row: the geometric mean of their slowdowns.
        case realPrograms
        /// The traces of these names that the report has, one row: the geometric mean of their slowdowns.
        case programs([String])
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
    static let adamsAgesen = "K. Adams, O. Agesen, ASPLOS 2006 (3.8 GHz Pentium 4 672; VMware's BT VMM and its first VT-x VMM), as quoted in PlexLab issue 23 (forkwait native 6.0 s)"
    /// The system-trace workloads the whole-system figures are compared on (`plexlab record --system --workload`).
    static let forkwait = "sys-forkwait", syscallLoop = "sys-getppid"

    public static let figures: [Figure] = sameISA + qemuTCG

    /// Same-ISA translators: plex86's testbed and DynamoRIO.
    static let sameISA: [Figure] = [
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
        Figure(source: adamsAgesen, measurement: "forkwait under the software (binary-translating) VMM: 36.9 s",
               published: 36.9 / 6.0, shape: .workload(prefix: forkwait), strategy: "dbt-ibtc", profile: "pentium4",
               note: "VMware's BT chains direct exits and resolves indirect ones in its translation cache, as dbt-ibtc does, and keeps shadow page tables: each guest page fault (shadow_pf) and each store to a guest page table (pt_store) traps. Unlike VMware's VMM, the lab's dbt translates user code too (VMware ran it directly), and its pt_store is a trap on every store where VMware adapted hot page-table writes into translated code, so its figure should come out above the paper's. The forkwait trace is a 200-iteration run of the lab's guest (sysrec's plexlab-forkwait), not the paper's 40,000."),
        Figure(source: adamsAgesen, measurement: "forkwait under the hardware VMM (first-generation VT-x, shadow paging): 106.4 s",
               published: 106.4 / 6.0, shape: .workload(prefix: forkwait), strategy: "hw-shadow", profile: "pentium4",
               note: "every guest page fault, page-table store and CR3 write exits (vmexit_pf, vmexit_pt_store, vmexit_cr3 at 2 x vmexit each, an estimate: docs/cost-profiles.md). The lab comes out low, and why is in the model, not the workload: the hidden faults of shadow paging (a shadow entry missing where the guest's is present, after every CR3 switch and every fork's copy) are not in the trace, so the lab's exits are a lower bound; and the price of one MMU exit, 2 x vmexit, is an estimate where the paper's pgfault and ptemod nanobenchmarks (not found, see below) would give the P4's. Its ordering is the paper's: on forkwait hardware assist loses to binary translation, on the system-call loop it wins."),
        Figure(source: adamsAgesen, measurement: "a system-call loop under the software VMM (the paper: VT-x wins on system calls)",
               published: nil, shape: .workload(prefix: syscallLoop), strategy: "dbt-ibtc", profile: "pentium4",
               note: "each getppid is a syscall exit the dispatcher emulates (dispatch_syscall) and the sysret back a dispatch_far, plus the kernel path's privileged instructions as callouts; the issue quotes no cycle figure, so the row shows the lab's prediction for the comparison below."),
        Figure(source: adamsAgesen, measurement: "a system-call loop under the hardware VMM",
               published: nil, shape: .workload(prefix: syscallLoop), strategy: "hw-shadow", profile: "pentium4",
               note: "syscall and sysret run in the guest without an exit under VT-x; what exits is the timer interrupt and the rare MMU event."),
    ]

    /// Published ratios between two VMMs on one workload, and the lab's ratio of the same two strategies.
    public struct Comparison: Sendable, Equatable {
        public var workload: String
        public var slower: String, faster: String
        /// What the source says: a ratio, or a sentence when it gives none.
        public var published: String
        public var lab: Double
    }

    /// hw-shadow over dbt-ibtc on the forkwait and syscall-loop traces present in `rows`.
    public static func comparisons(_ rows: [Row]) -> [Comparison] {
        var result: [Comparison] = []
        for (prefix, published) in [(forkwait, "106.4 s / 36.9 s = " + NumberFormat.decimal(106.4 / 36.9) + " (BT wins)"),
                                    (syscallLoop, "below 1 (VT-x wins)")] {
            let workloads = Set(rows.filter { $0.workload.hasPrefix(prefix) }.map(\.workload)).sorted()
            for workload in workloads {
                guard let hardware = rows.first(where: { $0.workload == workload && $0.figure.strategy == "hw-shadow" }),
                      let software = rows.first(where: { $0.workload == workload && $0.figure.strategy == "dbt-ibtc" })
                else { continue }
                result.append(Comparison(workload: workload, slower: "hw-shadow", faster: "dbt-ibtc",
                                         published: published, lab: hardware.predicted / software.predicted))
            }
        }
        return result
    }

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
                let values = traces.filter { !$0.name.hasPrefix("micro-") && $0.metadata.guestMode == .user }.compactMap { slowdown($0, figure) }
                guard let (mean, range) = geometricMean(values) else { continue }
                rows.append(Row(figure: figure, workload: "geometric mean of \(values.count) real programs (\(range))",
                                predicted: mean, ratio: figure.published.map { mean / $0 }))
            case .programs(let names):
                let named = traces.filter { names.contains($0.name) }.compactMap { trace in slowdown(trace, figure).map { (trace.name, $0) } }
                guard let (mean, range) = geometricMean(named.map(\.1)) else { continue }
                rows.append(Row(figure: figure, workload: "geometric mean of \(named.map(\.0).joined(separator: ", ")) (\(range))",
                                predicted: mean, ratio: figure.published.map { mean / $0 }))
            }
        }
        return rows
    }

    /// The geometric mean of slowdowns and their range as text ("2.00x-8.00x"); nil without values.
    static func geometricMean(_ values: [Double]) -> (mean: Double, range: String)? {
        guard let low = values.min(), let high = values.max() else { return nil }
        let mean = exp(values.map { log($0) }.reduce(0, +) / Double(values.count))
        return (mean, "\(NumberFormat.ratio(low))-\(NumberFormat.ratio(high))")
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
        let comparisons = comparisons(rows)
        if !comparisons.isEmpty {
            out += "\nSoftware against hardware virtualization (Adams & Agesen's shape), hw-shadow's slowdown over dbt-ibtc's under pentium4:\n\n"
            out += MarkdownReport.row(["workload", "published", "lab"])
            out += MarkdownReport.row(["---", "---", "---:"])
            for comparison in comparisons {
                let verdict = comparison.lab > 1 ? " (BT wins)" : " (VT-x wins)"
                out += MarkdownReport.row([Escape.markdown(comparison.workload), Escape.markdown(comparison.published),
                                           NumberFormat.decimal(comparison.lab) + verdict])
            }
        }
        out += "\nWhy the lab's numbers are what they are:\n\n"
        for figure in figures(of: rows) {
            out += "- *\(Escape.markdown(figure.measurement))*: \(Escape.markdown(figure.note))\n"
        }
        return out + "<!-- reproductions:end -->\n\n"
    }
}
