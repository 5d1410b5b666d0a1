import Foundation
import Replay
import TraceModel

/// The text tables `plexlab compare` and `plexlab replay` print.
public enum ComparisonTable {
    /// One block per trace: a summary table (traps, traps per 1000 instructions, scanned, translated,
    /// cycles and slowdown under `profile`) and a table of traps by cause.
    public static func render(_ traces: [TraceResults], profile: String) -> String {
        traces.map { render($0, profile: profile) }.joined(separator: "\n")
    }

    public static func render(_ trace: TraceResults, profile: String) -> String {
        let s = trace.summary
        // The program and argv come from the trace: control characters are shown, never sent to the terminal.
        let command = ([trace.metadata.program] + trace.metadata.argv.dropFirst()).joined(separator: " ")
        var out = "\(Escape.terminal(trace.path)): \(Escape.terminal(command))\n"
        out += "  \(s.instructions) instructions, \(s.blocks) blocks (\(s.distinctBlocks) distinct), \(s.threads) thread(s), \(s.codePages) code pages of \(trace.parameters.pageSize) bytes"
        out += trace.metadata.complete ? "\n" : ", INCOMPLETE trace\n"
        let header = ["strategy", "traps", "per 1k insn", "scanned", "translated", "cycles (\(profile))", "slowdown"]
        var rows: [[String]] = []
        var notes = ""
        for result in trace.strategies {
            if let reason = result.unavailable {
                rows.append([result.name, "-", "-", "-", "-", "-", "-"])
                notes += "  \(result.name): \(reason)\n"
                continue
            }
            let estimate = result.estimate(profile)
            rows.append([result.name, "\(result.traps)", String(format: "%.3f", result.trapsPerKiloInstruction),
                         "\(result.scanned)", "\(result.translated)",
                         estimate.map { NumberFormat.cyclesCompact($0.cycles) } ?? "-",
                         estimate.map { String(format: "%.3fx", $0.slowdown) } ?? "-"])
        }
        out += TextTable.render(header, rows, rightAligned: { $0 > 0 }) + notes
        let causes = TrapCause.allCases.filter { cause in trace.strategies.contains { $0[cause] > 0 } }
        if !causes.isEmpty {
            out += "  counts by cause:\n"
            let causeRows = trace.strategies.filter { $0.unavailable == nil }.map { result in
                [result.name] + causes.map { result.counts[$0].map { "\($0)" } ?? "-" }
            }
            out += TextTable.render(["strategy"] + causes.map(\.rawValue), causeRows, rightAligned: { $0 > 0 })
        }
        if !trace.processes.isEmpty { out += processes(trace, profile: profile) }
        out += SystemTables.text(trace, profile: profile)
        return out
    }

    /// Traps of each strategy per process of a tree (their sums are the table above).
    static func processes(_ trace: TraceResults, profile: String) -> String {
        let shown = trace.strategies.filter { $0.unavailable == nil }.map(\.name)
        var out = "  traps per process (each its own address space; docs/strategies.md section 7):\n"
        let rows = trace.processes.map { p -> [String] in
            let process = p.process
            let who = "\(process.id) \(process.origin.rawValue) " + Escape.terminal(process.argv.joined(separator: " "))
            let name = who.count > 40 ? String(who.prefix(39)) + "…" : who
            return [name, "\(p.summary.blocks)", process.endDescription]
                + shown.map { name in p.strategies.first { $0.name == name }.map { "\($0.traps)" } ?? "-" }
        }
        out += TextTable.render(["process", "blocks", "end"] + shown, rows, rightAligned: { $0 > 0 })
        return out
    }
}
