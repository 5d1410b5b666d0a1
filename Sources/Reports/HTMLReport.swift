import CostModel
import TraceModel
/// report.html: one self-contained page (inline CSS and SVG, no scripts, no network) for screens and print.
public enum HTMLReport {
    public static func render(_ input: ReportInput) -> String {
        var out = """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(Escape.html(input.title))</title>
        <style>\(css)</style>
        </head>
        <body>
        <h1>\(Escape.html(input.title))</h1>

        """
        out += "<section><h2>Verdicts</h2><ul class=\"verdicts\">\n"
        for trace in input.traces {
            for profile in input.profiles {
                out += "<li><b>\(Escape.html(trace.name))</b>: \(Escape.html(MarkdownReport.verdictSentence(trace, profile: profile.name)))</li>\n"
            }
        }
        out += "</ul></section>\n"
        out += reproductions(Reproductions.rows(input.traces))
        out += charts(input)
        for trace in input.traces { out += traceSection(trace, input: input) }
        out += fidelitySection(input.fidelity)
        out += "<footer>PlexLab \(Escape.html(input.traces.first?.metadata.plexlabVersion ?? "")). Cycles are estimates from the cost profiles"
        out += " (" + input.profiles.map { "\(Escape.html($0.name)): \(Escape.html($0.description))" }.joined(separator: "; ") + ").</footer>\n"
        return out + "</body>\n</html>\n"
    }

    /// The published-measurements table, as in report.md (empty without rows).
    static func reproductions(_ rows: [Reproductions.Row]) -> String {
        guard !rows.isEmpty else { return "" }
        var out = "<section><h2>Published measurements and the lab's predictions</h2>\n<table><tr>"
        for heading in Reproductions.headings { out += "<th>\(Escape.html(heading))</th>" }
        out += "</tr>\n"
        let numeric: Set = [2, 6, 7]
        for row in rows {
            out += "<tr>"
            for (column, cell) in Reproductions.cells(row).enumerated() {
                out += numeric.contains(column) ? "<td class=\"n\">" : "<td>"
                out += Escape.html(cell) + "</td>"
            }
            out += "</tr>\n"
        }
        out += "</table>\n<ul>\n"
        for figure in Reproductions.figures(of: rows) {
            out += "<li><i>\(Escape.html(figure.measurement))</i>: \(Escape.html(figure.note))</li>\n"
        }
        return out + "</ul></section>\n"
    }

    static let css = """
    :root{color-scheme:light}
    body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;margin:1.5rem auto;max-width:1180px;padding:0 1rem;color:#1b1f24;line-height:1.4}
    h1{font-size:1.6rem;margin:.2rem 0 1rem}
    h2{font-size:1.3rem;border-bottom:1px solid #d0d7de;padding-bottom:.2rem;margin-top:2rem}
    h3{font-size:1.05rem;margin:1.2rem 0 .4rem}
    .meta{color:#57606a;font-size:.9rem;overflow-wrap:anywhere}
    .verdicts li{margin:.15rem 0}
    table{border-collapse:collapse;font-size:.85rem;margin:.4rem 0 1rem;width:100%}
    th,td{border:1px solid #d0d7de;padding:.25rem .45rem;vertical-align:top;text-align:left}
    th{background:#f6f8fa}
    td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
    td.na{color:#8c959f}
    td.s{white-space:nowrap}
    code,.mono{font-family:ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:.82rem}
    td.where,td.insn{overflow-wrap:anywhere}
    .charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(540px,1fr));gap:1rem}
    svg.chart{width:100%;height:auto;border:1px solid #d0d7de;border-radius:6px;background:#fff;font-family:inherit}
    svg.chart text{fill:#1b1f24}
    svg.chart .grid{stroke:#e4e8ec;stroke-width:1}
    svg.chart .axis{stroke:#57606a;stroke-width:1}
    footer{margin-top:2rem;color:#57606a;font-size:.8rem}
    @media print{
      body{max-width:none;margin:0;font-size:10pt}
      .charts{display:block}
      svg.chart{break-inside:avoid;page-break-inside:avoid;margin-bottom:.5rem;border:none}
      table{break-inside:auto;font-size:8pt}
      tr,figure{break-inside:avoid;page-break-inside:avoid}
      h2,h3{break-after:avoid;page-break-after:avoid}
      *{-webkit-print-color-adjust:exact;print-color-adjust:exact}
    }
    """

    /// Fixed colors per strategy so every chart agrees.
    static let strategyColors: [String: String] = [
        "native": "#8c959f", "hw": "#6a3d9a", "sbe": "#d62728", "pagefault-nx": "#1f77b4",
        "pagefault-legacy": "#7fb8e0", "dbt-nolink": "#ff7f0e", "dbt-link": "#e5b13a", "dbt-ibtc": "#2ca02c",
    ]
    static let palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf",
                          "#bcbd22", "#7f7f7f", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94"]

    static func color(strategy name: String, index: Int) -> String {
        strategyColors[name] ?? palette[index % palette.count]
    }

    /// Fixed colors for cost parts, grouped by family (INT3 traps warm, page faults purple, dispatch blue,
    /// cheap in-cache hits green); unknown labels take the palette in first-seen order.
    static let partColors: [String: String] = [
        "execution": "#c8ccd0", "scan": "#8c564b", "translate": "#bcbd22",
        "call": "#d62728", "ret": "#ff9896", "jcc": "#ff7f0e", "jmp": "#ffbb78", "jmp_ind": "#e377c2",
        "call_ind": "#f7b6d2", "syscall": "#525a63", "far": "#9c755f", "sensitive": "#7f7f7f", "page_cross": "#dbdb8d",
        "pf_exec": "#9467bd", "int3_fill": "#c5b0d5", "pf_write": "#6b4c9a", "pf_data": "#b07aa1", "data_map": "#d4a6c8",
        "dispatch": "#1f77b4", "dispatch_syscall": "#17becf", "dispatch_far": "#9edae5", "link": "#aec7e8",
        "ibtc_hit": "#2ca02c", "ras_hit": "#98df8a", "flush": "#393b79", "vmexit": "#000000",
    ]

    static func causeColors(_ input: ReportInput) -> [String: String] {
        var colors = partColors
        var next = 0
        for trace in input.traces {
            for strategy in trace.strategies {
                for label in strategy.counts.ordered.map(\.cause.rawValue) where colors[label] == nil {
                    colors[label] = palette[next % palette.count]
                    next += 1
                }
            }
        }
        return colors
    }

    static func charts(_ input: ReportInput) -> String {
        var out = "<section><h2>Charts</h2><div class=\"charts\">\n"
        for profile in input.profiles {
            let groups = input.traces.map { trace in
                SVGChart.Group(label: trace.name, bars: trace.strategies.enumerated().compactMap { index, strategy in
                    guard let estimate = strategy.estimate(profile.name) else { return nil }
                    return SVGChart.Bar(label: strategy.name, value: estimate.slowdown, color: color(strategy: strategy.name, index: index),
                                        valueText: NumberFormat.ratio(estimate.slowdown))
                })
            }
            let values = groups.flatMap { $0.bars.map(\.value) }
            out += SVGChart.groupedBars(title: "Slowdown against native (\(profile.name))", axisLabel: "cycles / native cycles",
                                        groups: groups, logScale: SVGChart.wantsLogScale(values))
        }
        let trapGroups = input.traces.map { trace in
            SVGChart.Group(label: trace.name, bars: trace.strategies.enumerated().compactMap { index, strategy in
                guard strategy.isAvailable else { return nil }
                return SVGChart.Bar(label: strategy.name, value: strategy.trapsPerKiloInstruction,
                                    color: color(strategy: strategy.name, index: index),
                                    valueText: NumberFormat.decimal(strategy.trapsPerKiloInstruction))
            })
        }
        out += SVGChart.groupedBars(title: "Traps per 1000 instructions", axisLabel: "traps / 1000 instructions",
                                    groups: trapGroups, logScale: SVGChart.wantsLogScale(trapGroups.flatMap { $0.bars.map(\.value) }))
        let colors = causeColors(input)
        for trace in input.traces {
            for profile in input.profiles {
                let native = Double(trace.summary.instructions) * profile[.cpi]
                let rows = trace.strategies.compactMap { strategy -> SVGChart.StackedRow? in
                    guard strategy.isAvailable, let estimate = strategy.estimate(profile.name) else { return nil }
                    let parts = profile.breakdown(of: strategy, instructions: trace.summary.instructions,
                                                    blocks: trace.summary.blocks)
                    return SVGChart.StackedRow(label: strategy.name, segments: parts.map { part in
                        SVGChart.Segment(label: part.label, value: native > 0 ? part.cycles / native : part.cycles,
                                         color: colors[part.label] ?? "#999999")
                    }, totalText: NumberFormat.ratio(estimate.slowdown))
                }
                out += SVGChart.stackedBars(title: "\(trace.name): cycles by cause (\(profile.name))",
                                            axisLabel: native > 0 ? "cycles / native cycles" : "cycles", rows: rows)
            }
        }
        return out + "</div></section>\n"
    }

    static func traceSection(_ trace: ReportTrace, input: ReportInput) -> String {
        var out = "<section><h2>\(Escape.html(trace.name))</h2>\n"
        out += "<p class=\"meta\">\(Escape.html(MarkdownReport.describe(trace)))<br><span class=\"mono\">\(Escape.html(trace.path))</span>: "
        out += "\(trace.summary.sentence)</p>\n"
        out += comparisonTable(trace, profiles: input.profiles)
        out += processTable(trace)
        out += siteTable(trace, input: input)
        out += pageTable(trace, input: input)
        return out + "</section>\n"
    }

    /// Traps per process of a process tree (docs/strategies.md section 7).
    static func processTable(_ trace: ReportTrace) -> String {
        guard !trace.processes.isEmpty else { return "" }
        let names = trace.strategies.filter { $0.unavailable == nil }.map(\.name)
        var out = "<h3>Processes</h3><p>Each its own address space; the strategies above are their sum.</p>"
        out += "<table><thead><tr><th>process</th><th>origin</th><th>command</th><th>end</th><th>blocks</th>"
        out += names.map { "<th>\(Escape.html($0))</th>" }.joined() + "</tr></thead><tbody>\n"
        for p in trace.processes {
            out += "<tr><td>\(p.process.id)</td><td>\(p.process.origin.rawValue)</td><td class=\"mono\">\(Escape.html(p.command))</td>"
            out += "<td>\(Escape.html(p.process.endDescription))</td><td>\(NumberFormat.integer(p.summary.blocks))</td>"
            out += names.map { "<td>\(p.traps($0).map(NumberFormat.integer) ?? "n/a")</td>" }.joined() + "</tr>\n"
        }
        return out + "</tbody></table>\n"
    }

    static func comparisonTable(_ trace: ReportTrace, profiles: [CostProfile]) -> String {
        var out = "<h3>Strategies</h3><table><thead><tr><th>strategy</th><th>traps</th><th>traps/1k insn</th><th>scanned</th><th>translated</th>"
        for profile in profiles {
            out += "<th>cycles (\(Escape.html(profile.name)))</th><th>slowdown (\(Escape.html(profile.name)))</th>"
        }
        out += "<th>main causes</th></tr></thead><tbody>\n"
        for strategy in trace.strategies {
            out += "<tr><td class=\"s\">\(Escape.html(strategy.name))</td>"
            if let reason = strategy.unavailable {
                out += "<td class=\"na\" colspan=\"\(4 + 2 * profiles.count)\">n/a</td><td>\(Escape.html(reason))</td></tr>\n"
                continue
            }
            out += numeric(NumberFormat.integer(strategy.traps)) + numeric(NumberFormat.decimal(strategy.trapsPerKiloInstruction))
            out += numeric(NumberFormat.integer(strategy.scanned)) + numeric(NumberFormat.integer(strategy.translated))
            for profile in profiles {
                if let estimate = strategy.estimate(profile.name) {
                    out += numeric(NumberFormat.cycles(estimate.cycles)) + numeric(NumberFormat.ratio(estimate.slowdown))
                } else {
                    out += "<td class=\"na\">n/a</td><td class=\"na\">n/a</td>"
                }
            }
            out += "<td>\(Escape.html(MarkdownReport.mainCauses(strategy)))</td></tr>\n"
        }
        return out + "</tbody></table>\n"
    }

    static func siteTable(_ trace: ReportTrace, input: ReportInput) -> String {
        let rows = trace.topSites(limit: input.top)
        guard !rows.isEmpty else { return "<p>No trap sites.</p>\n" }
        let primary = input.profiles.first
        let columns = trace.strategies.filter { strategy in rows.contains { $0.traps(strategy.name) > 0 } }.map(\.name)
        var out = "<h3>Top trap sites</h3>"
        if let primary { out += "<p class=\"meta\">Cells: traps and their causes, then cycles under \(Escape.html(primary.name)).</p>" }
        out += "<table><thead><tr><th>#</th><th>address</th><th>where</th><th>instruction</th>"
        out += columns.map { "<th>\(Escape.html($0))</th>" }.joined() + "<th>no trap</th></tr></thead><tbody>\n"
        for (index, site) in rows.enumerated() {
            let location = trace.locations[site.address]
            out += "<tr><td class=\"n\">\(index + 1)</td><td class=\"mono\">\(NumberFormat.address(site.address))</td>"
            out += "<td class=\"where mono\">\(Escape.html(location.map { MarkdownReport.place($0) } ?? ""))</td>"
            out += "<td class=\"insn mono\">\(Escape.html(location?.instruction ?? ""))</td>"
            for name in columns {
                out += countsCell(site.counts[name] ?? [], cycles: primary?.cycles(of: site.counts[name] ?? []))
            }
            out += "<td>\(Escape.html(site.quiet.joined(separator: ", ")))</td></tr>\n"
        }
        return out + "</tbody></table>\n"
    }

    static func pageTable(_ trace: ReportTrace, input: ReportInput) -> String {
        let rows = trace.topPages(limit: input.top)
        guard !rows.isEmpty else { return "" }
        let columns = trace.strategies.filter { strategy in rows.contains { $0.traps(strategy.name) > 0 } }.map(\.name)
        var out = "<h3>Pages with most traps</h3><table><thead><tr><th>page</th><th>module</th>"
        out += columns.map { "<th>\(Escape.html($0))</th>" }.joined() + "<th>no trap</th></tr></thead><tbody>\n"
        for page in rows {
            let module = trace.locations[page.address]?.symbolized.moduleName ?? ""
            out += "<tr><td class=\"mono\">\(NumberFormat.address(page.address))</td><td class=\"mono\">\(Escape.html(module))</td>"
            for name in columns { out += countsCell(page.counts[name] ?? [], cycles: nil) }
            out += "<td>\(Escape.html(page.quiet.joined(separator: ", ")))</td></tr>\n"
        }
        return out + "</tbody></table>\n"
    }

    static func countsCell(_ counts: [CauseCount], cycles: Double?) -> String {
        let traps = counts.reduce(UInt64(0)) { $1.isTrap ? $0 &+ $1.count : $0 }
        guard traps > 0 else { return "<td></td>" }
        let causes = counts.filter { $0.isTrap && $0.count > 0 }.sorted { $0.count > $1.count }
        var text = "<b>\(NumberFormat.integer(traps))</b> "
        text += causes.map { causes.count == 1 ? Escape.html($0.cause.rawValue) : "\(Escape.html($0.cause.rawValue)) \(NumberFormat.integer($0.count))" }.joined(separator: ", ")
        if let cycles { text += "<br>\(NumberFormat.cycles(cycles)) cyc" }
        return "<td class=\"n\">\(text)</td>"
    }

    static func numeric(_ text: String) -> String { "<td class=\"n\">\(text)</td>" }
}
