import Foundation
import TraceModel

/// A program's replayed counts held against its live run (`plexlab fidelity --json`, docs/live.md): what
/// the report's fidelity section shows.
public struct ReportFidelity: Sendable, Equatable {
    /// One cause of one strategy on both sides.
    public struct Row: Sendable, Equatable {
        public var strategy: String
        public var cause: String
        public var replay: UInt64
        public var live: UInt64
        public init(strategy: String, cause: String, replay: UInt64, live: UInt64) {
            self.strategy = strategy
            self.cause = cause
            self.replay = replay
            self.live = live
        }
    }

    /// The replay's predicted slowdown of a strategy next to the measured one.
    public struct Slowdown: Sendable, Equatable {
        public var strategy: String
        public var predicted: Double?
        public var measured: Double?
        public init(strategy: String, predicted: Double?, measured: Double?) {
            self.strategy = strategy
            self.predicted = predicted
            self.measured = measured
        }

        /// predicted / measured - 1 (0.25: predicted 25 % high), nil without both.
        public var error: Double? {
            guard let predicted, let measured, measured > 0 else { return nil }
            return predicted / measured - 1
        }
    }

    /// The command line the fidelity run recorded and ran.
    public var command: String
    /// The profile of the predicted slowdowns.
    public var profile: String
    public var rows: [Row]
    public var slowdowns: [Slowdown]

    public init(command: String, profile: String, rows: [Row], slowdowns: [Slowdown]) {
        self.command = command
        self.profile = profile
        self.rows = rows
        self.slowdowns = slowdowns
    }

    public var differing: [Row] { rows.filter { $0.replay != $0.live } }

    /// Reads the file `plexlab fidelity --json` wrote.
    public static func read(path: String) throws -> ReportFidelity {
        guard let data = FileManager.default.contents(atPath: path) else { throw ReportError("\(path): cannot read the fidelity file") }
        return try parse(data, path: path)
    }

    /// Parses a `plexlab-fidelity/1` document strictly (`JSONParser`); `path` only names it in errors.
    public static func parse(_ data: Data, path: String) throws -> ReportFidelity {
        func fail(_ problem: String) -> ReportError { ReportError("\(path): \(problem) (expected the output of plexlab fidelity --json)") }
        let root: JSONText
        do { root = try JSONParser.parse(Array(data)) } catch let error as JSONSyntaxError { throw fail(error.description) }
        guard case .object(let fields) = root else { throw fail("top level is not a JSON object") }
        guard case .string("plexlab-fidelity/1")? = fields["schema"] else { throw fail("schema is not \"plexlab-fidelity/1\"") }
        func string(_ value: JSONText?, _ what: String) throws -> String {
            guard case .string(let text)? = value else { throw fail("\(what) is not a string") }
            return text
        }
        func count(_ value: JSONText?, _ what: String) throws -> UInt64 {
            guard case .number(let literal)? = value, let number = UInt64(literal) else { throw fail("\(what) is not a count") }
            return number
        }
        func ratio(_ value: JSONText?, _ what: String) throws -> Double? {
            switch value {
            case .null?: return nil
            case .number(let literal)?: if let number = Double(literal), number.isFinite { return number }
            default: break
            }
            throw fail("\(what) is not a number or null")
        }
        func objects(_ key: String) throws -> [[String: JSONText]] {
            guard case .array(let items)? = fields[key] else { throw fail("\"\(key)\" is not an array") }
            return try items.map {
                guard case .object(let object) = $0 else { throw fail("an entry of \"\(key)\" is not an object") }
                return object
            }
        }
        var command = [try string(fields["program"], "program")]
        guard case .array(let arguments)? = fields["arguments"] else { throw fail("\"arguments\" is not an array") }
        for argument in arguments { command.append(try string(argument, "an argument")) }
        let rows = try objects("rows").map {
            Row(strategy: try string($0["strategy"], "a row's strategy"), cause: try string($0["cause"], "a row's cause"),
                replay: try count($0["replay"], "a row's replay"), live: try count($0["live"], "a row's live"))
        }
        var profile = ""
        let slowdowns = try objects("slowdowns").map {
            profile = try string($0["profile"], "a slowdown's profile")
            return Slowdown(strategy: try string($0["strategy"], "a slowdown's strategy"),
                            predicted: try ratio($0["predicted"], "a slowdown's predicted"),
                            measured: try ratio($0["measured"], "a slowdown's measured"))
        }
        return ReportFidelity(command: command.joined(separator: " "), profile: profile, rows: rows, slowdowns: slowdowns)
    }

    /// "+5 (+1.91%)" for a differing row, "=" for an equal one.
    public static func difference(_ row: Row) -> String {
        if row.replay == row.live { return "=" }
        let delta = Int64(bitPattern: row.live &- row.replay)
        let sign = delta > 0 ? "+" : ""
        guard row.replay > 0 else { return "\(sign)\(delta)" }
        return "\(sign)\(delta) (\(String(format: "%+.2f%%", Double(delta) / Double(row.replay) * 100)))"
    }

    /// "predicted 12 % high" style text for the slowdown table: the signed relative error.
    public static func errorText(_ slowdown: Slowdown) -> String {
        guard let error = slowdown.error else { return "n/a" }
        return String(format: "%+.0f%%", error * 100)
    }
}

extension MarkdownReport {
    /// The fidelity section: per live program, counts per strategy and cause on both sides, then slowdowns.
    static func fidelitySection(_ runs: [ReportFidelity]) -> String {
        guard !runs.isEmpty else { return "" }
        var out = "## Fidelity: replay against live runs\n\n"
        out += "Each program recorded and replayed, and run under the live monitors (`plexlab fidelity`, docs/live.md).\n\n"
        for run in runs {
            let differing = run.differing.count
            out += "### `\(run.command.replacingOccurrences(of: "`", with: "'"))`: "
                + (differing == 0 ? "every count agrees" : "\(differing) count(s) differ") + "\n\n"
            out += row(["strategy", "cause", "replay", "live", "difference"])
            out += row(["---", "---", "---:", "---:", "---"])
            for line in run.rows where line.replay != 0 || line.live != 0 {
                out += row([Escape.markdown(line.strategy), Escape.markdown(line.cause), NumberFormat.integer(line.replay),
                            NumberFormat.integer(line.live), ReportFidelity.difference(line)])
            }
            out += "\n" + row(["strategy", "predicted slowdown (\(Escape.markdown(run.profile)))", "measured slowdown", "predicted vs measured"])
            out += row(["---", "---:", "---:", "---:"])
            for slowdown in run.slowdowns {
                out += row([Escape.markdown(slowdown.strategy), slowdown.predicted.map(NumberFormat.ratio) ?? "n/a",
                            slowdown.measured.map(NumberFormat.ratio) ?? "n/a", ReportFidelity.errorText(slowdown)])
            }
            out += "\n"
        }
        return out
    }
}

extension HTMLReport {
    /// The fidelity section, as in report.md.
    static func fidelitySection(_ runs: [ReportFidelity]) -> String {
        guard !runs.isEmpty else { return "" }
        var out = "<section><h2>Fidelity: replay against live runs</h2>\n"
        out += "<p>Each program recorded and replayed, and run under the live monitors (plexlab fidelity, docs/live.md).</p>\n"
        for run in runs {
            let differing = run.differing.count
            out += "<h3><code>\(Escape.html(run.command))</code>: "
                + (differing == 0 ? "every count agrees" : "\(differing) count(s) differ") + "</h3>\n"
            out += "<table><thead><tr><th>strategy</th><th>cause</th><th>replay</th><th>live</th><th>difference</th></tr></thead><tbody>\n"
            for line in run.rows where line.replay != 0 || line.live != 0 {
                out += "<tr><td class=\"s\">\(Escape.html(line.strategy))</td><td>\(Escape.html(line.cause))</td>"
                    + numeric(NumberFormat.integer(line.replay)) + numeric(NumberFormat.integer(line.live))
                    + "<td>\(Escape.html(ReportFidelity.difference(line)))</td></tr>\n"
            }
            out += "</tbody></table>\n<table><thead><tr><th>strategy</th><th>predicted slowdown (\(Escape.html(run.profile)))</th>"
                + "<th>measured slowdown</th><th>predicted vs measured</th></tr></thead><tbody>\n"
            for slowdown in run.slowdowns {
                out += "<tr><td class=\"s\">\(Escape.html(slowdown.strategy))</td>"
                    + numeric(slowdown.predicted.map(NumberFormat.ratio) ?? "n/a")
                    + numeric(slowdown.measured.map(NumberFormat.ratio) ?? "n/a")
                    + numeric(ReportFidelity.errorText(slowdown)) + "</tr>\n"
            }
            out += "</tbody></table>\n"
        }
        return out + "</section>\n"
    }
}
