import Foundation
import Replay
import Sweep
import TraceModel

/// A finished sweep's files and terminal table (docs/sweep.md, "Outputs"): results.json and results.csv
/// (one tidy row per trace x strategy x swept values x profile), report.html (a chart per metric against
/// each swept key, one line per trace, knees ringed) and the knee table.
public enum SweepOutputs {
    /// Writes results.json, results.csv and report.html into `directory` (each atomically).
    public static func write(_ results: SweepResults, into directory: String) throws {
        try OutputFile.write(json(results), to: directory + "/results.json")
        try OutputFile.write(csv(results), to: directory + "/results.csv")
        try OutputFile.write(html(results), to: directory + "/report.html")
    }

    /// Causes counted by any row, in table order: the CSV's count columns.
    static func causes(_ results: SweepResults) -> [TrapCause] {
        let present = Set(results.rows.flatMap { $0.result.counts.keys })
        return TrapCause.allCases.filter { present.contains($0) }.sorted { $0.order < $1.order }
    }

    public static func csv(_ results: SweepResults) -> String {
        let keys = results.plan.spec.grid.keys
        let causes = causes(results)
        var header = ["trace", "strategy", "profile"] + keys
        header += ["unavailable", "instructions", "blocks", "traps", "scanned", "translated", "translations", "cycles", "slowdown"]
        header += causes.map(\.rawValue)
        var out = header.joined(separator: ",") + "\n"
        for row in results.rows {
            let r = row.result
            var cells = [row.trace, row.strategy, row.profile] + keys.map { row.swept[$0] ?? "" }
            cells += [r.unavailable ?? "", "\(r.instructions)", "\(r.blocks)"]
            if r.unavailable != nil {
                cells += Array(repeating: "", count: 6 + causes.count)
            } else {
                cells += ["\(r.traps)", "\(r.scanned)", "\(r.translated)", "\(r.translations)",
                          row.estimate.map { "\($0.cycles)" } ?? "", row.estimate.map { "\($0.slowdown)" } ?? ""]
                cells += causes.map { r.counts[$0].map(String.init) ?? "" }
            }
            out += cells.map(field).joined(separator: ",") + "\n"
        }
        return out
    }

    /// RFC 4180 quoting where needed.
    static func field(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    public static func json(_ results: SweepResults) -> String {
        let rows: [JSONText] = results.rows.map { row in
            let r = row.result
            var fields: [String: JSONText] = [
                "trace": .string(row.trace), "strategy": .string(row.strategy), "profile": .string(row.profile),
                "parameters": .object(row.swept.mapValues { .string($0) }),
                "instructions": .number("\(r.instructions)"), "blocks": .number("\(r.blocks)"),
            ]
            if let reason = r.unavailable {
                fields["unavailable"] = .string(reason)
            } else {
                fields["unavailable"] = .null
                fields["traps"] = .number("\(r.traps)")
                fields["scanned"] = .number("\(r.scanned)")
                fields["translated"] = .number("\(r.translated)")
                fields["translations"] = .number("\(r.translations)")
                fields["counts"] = .object(Dictionary(uniqueKeysWithValues: r.counts.map { ($0.key.rawValue, .number("\($0.value)")) }))
                fields["cycles"] = row.estimate.map { JSONWriter.number($0.cycles) } ?? .null
                fields["slowdown"] = row.estimate.map { JSONWriter.number($0.slowdown) } ?? .null
            }
            return .object(fields)
        }
        let knees: [JSONText] = results.curves.map { curve in
            .object([
                "trace": .string(curve.trace), "strategy": .string(curve.strategy), "key": .string(curve.key),
                "held": .object(curve.held.mapValues { .string($0) }), "metric": .string(curve.metric.rawValue),
                "profile": curve.metric == .slowdown ? .string(curve.profile) : .null,
                "knee": .number("\(curve.points[curve.knee].x)"), "value": JSONWriter.number(curve.points[curve.knee].y),
            ])
        }
        return JSONWriter.write(.object([
            "schema": .string("plexlab-sweep-results/1"),
            "grid": .array(results.plan.spec.grid.axes.map { .object(["key": .string($0.key), "values": .array($0.values.map { .string($0) })]) }),
            "fixed": .array(results.plan.spec.fixed.map { .string($0) }),
            "knee_fraction": JSONWriter.number(results.kneeFraction),
            "rows": .array(rows),
            "knees": .array(knees),
        ]))
    }

    static let kneeHeader = ["trace", "strategy", "swept", "held", "metric", "knee", "value there", "at smallest", "at largest"]

    static func kneeCells(_ curve: SweepCurve) -> [String] {
        func value(_ y: Double) -> String { curve.metric == .traps ? NumberFormat.integer(UInt64(y)) : NumberFormat.ratio(y) }
        let held = curve.held.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        return [URL(fileURLWithPath: curve.trace).lastPathComponent, curve.strategy, curve.key, held.isEmpty ? "-" : held,
                curve.metric == .slowdown ? "slowdown (\(curve.profile))" : "traps", "\(curve.points[curve.knee].x)",
                value(curve.points[curve.knee].y), value(curve.points.first!.y), value(curve.points.last!.y)]
    }

    /// The knee of every curve, one line each, for the terminal.
    public static func kneeTable(_ results: SweepResults) -> String {
        let curves = results.curves
        let fraction = NumberFormat.percent(results.kneeFraction)
        guard !curves.isEmpty else {
            return "\(results.rows.count) rows; no curve (a curve needs a numeric swept key with two values or more)\n"
        }
        let table = TextTable.render(kneeHeader, curves.map(kneeCells)) { $0 >= 5 }
        return "knees (smallest value beyond which the metric improves by at most \(fraction)):\n" + table
    }

    public static func html(_ results: SweepResults) -> String {
        let spec = results.plan.spec
        let title = "PlexLab sweep: " + spec.grid.axes.map { "\($0.key) \($0.values.joined(separator: ","))" }.joined(separator: "; ")
        var out = HTMLReport.top(title: title) + """
        <p class="meta">\(spec.traces.count) traces × strategies \(Escape.html(spec.strategies.joined(separator: ", "))) × profiles \(Escape.html(spec.profiles.joined(separator: ", ")))\(spec.fixed.isEmpty ? "" : "; fixed " + Escape.html(spec.fixed.joined(separator: " "))): \(results.rows.count) rows (results.csv, results.json). The knee of a curve (ringed) is its smallest value beyond which the metric improves by at most \(NumberFormat.percent(results.kneeFraction)).</p>

        """
        let curves = results.curves
        out += "<section><h2>Knees</h2>\n<table><tr>" + kneeHeader.map { "<th>\(Escape.html($0))</th>" }.joined() + "</tr>\n"
        for curve in curves {
            out += "<tr>" + kneeCells(curve).enumerated().map { $0.offset >= 5 ? "<td class=\"n\">\(Escape.html($0.element))</td>" : "<td>\(Escape.html($0.element))</td>" }.joined() + "</tr>\n"
        }
        out += "</table></section>\n<section><h2>Curves</h2><div class=\"charts\">\n"
        // One chart per (metric, swept key, strategy, held values); one line per trace.
        var charts: [(key: String, curves: [SweepCurve])] = []
        for curve in curves {
            let held = curve.held.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            let key = "\(curve.metric.rawValue)|\(curve.key)|\(curve.strategy)|\(held)"
            if let at = charts.firstIndex(where: { $0.key == key }) { charts[at].curves.append(curve) } else { charts.append((key, [curve])) }
        }
        for chart in charts {
            let first = chart.curves[0]
            let held = first.held.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            let metric = first.metric == .traps ? "monitor entries" : "slowdown under \(first.profile)"
            let lines = chart.curves.enumerated().map { index, curve in
                SVGChart.Line(label: URL(fileURLWithPath: curve.trace).lastPathComponent, color: HTMLReport.palette[index % HTMLReport.palette.count],
                              points: curve.points.map { (x: Double($0.x), y: $0.y) }, marked: curve.knee)
            }
            let xs = lines.flatMap { $0.points.map(\.x) }, ys = lines.flatMap { $0.points.map(\.y) }
            out += SVGChart.lines(title: "\(first.strategy): \(metric) by \(first.key)" + (held.isEmpty ? "" : " (\(held))"),
                                  xLabel: first.key, yLabel: metric, lines: lines,
                                  logX: SVGChart.wantsLogXAxis(xs), logY: SVGChart.wantsLogScale(ys))
        }
        out += "</div></section>\n<footer>PlexLab sweep. Counts are exact; cycles are estimates from the cost profiles (docs/cost-profiles.md).</footer>\n"
        return out + "</body>\n</html>\n"
    }
}

extension SweepOutputs {
    /// The merge: every point of the plan in `directory` must be finished; writes the outputs there and
    /// returns the results (for the knee table).
    public static func merge(_ directory: SweepDirectory, kneeFraction: Double) throws -> SweepResults {
        let plan = try directory.load()
        let results = try SweepResults(plan: plan, finished: directory.finished(plan), kneeFraction: kneeFraction)
        try write(results, into: directory.path)
        return results
    }
}
