import CostModel
import Replay
import TraceModel
/// report.md: GitHub-flavoured Markdown for a pull-request comment or a CI job summary.
public enum MarkdownReport {
    public static func render(_ input: ReportInput) -> String {
        var out = "# \(Escape.markdown(input.title))\n\n"
        out += "## Verdicts\n\n"
        for trace in input.traces {
            for profile in input.profiles {
                out += "- **\(Escape.markdown(trace.name))**: \(Escape.markdown(verdictSentence(trace, profile: profile.name)))\n"
            }
        }
        out += "\n"
        out += Reproductions.markdown(Reproductions.rows(input.traces))
        for trace in input.traces {
            out += traceSection(trace, input: input)
        }
        out += fidelitySection(input.fidelity)
        out += "<sub>PlexLab \(Escape.markdown(input.traces.first?.metadata.plexlabVersion ?? "")); cycles are estimates from the cost profiles ("
        out += input.profiles.map { Escape.markdown($0.name) }.joined(separator: ", ") + "); see docs/strategies.md.</sub>\n"
        return out
    }

    /// The verdict as plain text (escape it for the target format).
    public static func verdictSentence(_ trace: ReportTrace, profile: String) -> String {
        guard let verdict = trace.verdict(profile: profile) else {
            return "on \(profile), no strategy other than native has numbers"
        }
        var text = "on \(profile), "
        if let compared = verdict.compared, let factor = verdict.factor {
            if abs(factor - 1) < 0.005 {
                text += "\(verdict.best) costs the same as \(compared)"
            } else {
                text += "\(verdict.best) runs \(NumberFormat.ratio(factor)) faster than \(compared)"
            }
            text += " (\(verdict.best) is \(NumberFormat.ratio(verdict.bestSlowdown)) native"
            if let hardware = verdict.hardwareSlowdown { text += ", hw \(NumberFormat.ratio(hardware))" }
            text += ")"
        } else {
            text += "only \(verdict.best) has numbers: \(NumberFormat.ratio(verdict.bestSlowdown)) native"
        }
        if let cause = verdict.dominantCause, let share = verdict.dominantShare {
            text += "; \(NumberFormat.percent(share)) of \(verdict.compared ?? verdict.best)'s traps are \(cause) traps"
        }
        return text
    }

    /// "program arg1 arg2 · x86_64 · qemu-user 7.2 · exit 0 · 2026-01-01"
    static func describe(_ trace: ReportTrace) -> String {
        let metadata = trace.metadata
        var parts = [([metadata.program] + metadata.argv.dropFirst()).joined(separator: " "), metadata.arch.rawValue,
                     "\(metadata.recorder) \(metadata.recorderVersion)"]
        if let status = metadata.exitStatus { parts.append("exit \(status)") }
        if let signal = metadata.signal { parts.append("signal \(signal)") }
        if !metadata.complete { parts.append("INCOMPLETE") }
        if !metadata.note.isEmpty { parts.append(metadata.note) }
        parts.append(metadata.date)
        return parts.joined(separator: " · ")
    }

    static func traceSection(_ trace: ReportTrace, input: ReportInput) -> String {
        var out = "## \(Escape.markdown(trace.name))\n\n"
        out += "\(Escape.markdown(describe(trace)))<br>\n"
        out += "\(Escape.markdown(trace.path)): \(trace.summary.sentence)\n\n"
        out += comparisonTable(trace, profiles: input.profiles)
        out += processTable(trace)
        out += siteTable(trace, input: input)
        out += pageTable(trace, input: input)
        return out
    }

    /// Traps per process of a process tree, each its own address space (docs/strategies.md section 7).
    static func processTable(_ trace: ReportTrace) -> String {
        guard !trace.processes.isEmpty else { return "" }
        let names = trace.strategies.filter { $0.unavailable == nil }.map(\.name)
        var out = "\n**Processes** (each its own address space; the table above is their sum)\n\n"
        out += row(["process", "origin", "command", "end", "blocks"] + names.map(Escape.markdown))
        out += row(["---:", "---", "---", "---", "---:"] + names.map { _ in "---:" })
        for p in trace.processes {
            out += row(["\(p.process.id)", p.process.origin.rawValue, Escape.markdown(p.command),
                        Escape.markdown(p.process.endDescription), NumberFormat.integer(p.summary.blocks)]
                       + names.map { p.traps($0).map(NumberFormat.integer) ?? "n/a" })
        }
        return out + "\n"
    }

    static func comparisonTable(_ trace: ReportTrace, profiles: [CostProfile]) -> String {
        var header = ["strategy", "traps", "traps/1k insn", "scanned", "translated"]
        for profile in profiles { header += ["cycles (\(Escape.markdown(profile.name)))", "slowdown (\(Escape.markdown(profile.name)))"] }
        header.append("main causes")
        var out = row(header)
        out += row(["---"] + Array(repeating: "---:", count: header.count - 2) + ["---"])
        for strategy in trace.strategies {
            var cells = [Escape.markdown(strategy.name)]
            if let reason = strategy.unavailable {
                cells += Array(repeating: "n/a", count: header.count - 2) + [Escape.markdown(reason)]
                out += row(cells)
                continue
            }
            cells += [NumberFormat.integer(strategy.traps), NumberFormat.decimal(strategy.trapsPerKiloInstruction),
                      NumberFormat.integer(strategy.scanned), NumberFormat.integer(strategy.translated)]
            for profile in profiles {
                if let estimate = strategy.estimate(profile.name) {
                    cells += [NumberFormat.cycles(estimate.cycles), NumberFormat.ratio(estimate.slowdown)]
                } else {
                    cells += ["n/a", "n/a"]
                }
            }
            cells.append(Escape.markdown(mainCauses(strategy)))
            out += row(cells)
        }
        return out + "\n"
    }

    /// "ret 1,000 (81%), call 200 (16%)" for the three most frequent trap causes; non-trap events after.
    static func mainCauses(_ strategy: StrategyResult) -> String {
        let traps = strategy.counts.ordered.filter { $0.isTrap && $0.count > 0 }.sorted { $0.count > $1.count }
        var parts = traps.prefix(3).map { count in
            "\(count.cause) \(NumberFormat.integer(count.count)) (\(NumberFormat.percent(Double(count.count) / Double(max(strategy.traps, 1)))))"
        }
        if traps.count > 3 { parts.append("\(traps.count - 3) more") }
        for other in strategy.counts.ordered where !other.isTrap && other.count > 0 {
            parts.append("\(other.cause) \(NumberFormat.integer(other.count))")
        }
        return parts.isEmpty ? "none" : parts.joined(separator: ", ")
    }

    static func siteTable(_ trace: ReportTrace, input: ReportInput) -> String {
        let rows = trace.topSites(limit: input.top)
        guard !rows.isEmpty else { return "No trap sites.\n\n" }
        let primary = input.profiles.first
        let columns = trace.strategies.filter { strategy in rows.contains { $0.traps(strategy.name) > 0 } }.map(\.name)
        var out = "### Top trap sites\n\n"
        if let primary { out += "Cells: traps and their causes, then cycles under \(Escape.markdown(primary.name)).\n\n" }
        out += row(["#", "address", "where", "instruction"] + columns.map(Escape.markdown) + ["no trap"])
        out += row(["---:", "---", "---", "---"] + columns.map { _ in "---:" } + ["---"])
        for (index, site) in rows.enumerated() {
            let location = trace.locations[site.address]
            var cells = ["\(index + 1)", "`\(NumberFormat.address(site.address))`",
                         Escape.markdown(location.map { place($0) } ?? ""),
                         Escape.markdown(location?.instruction ?? "")]
            for name in columns {
                cells.append(countsCell(site.counts[name] ?? [], cycles: primary?.cycles(of: site.counts[name] ?? [])))
            }
            cells.append(Escape.markdown(site.quiet.joined(separator: ", ")))
            out += row(cells)
        }
        return out + "\n"
    }

    static func pageTable(_ trace: ReportTrace, input: ReportInput) -> String {
        let rows = trace.topPages(limit: input.top)
        guard !rows.isEmpty else { return "" }
        let columns = trace.strategies.filter { strategy in rows.contains { $0.traps(strategy.name) > 0 } }.map(\.name)
        var out = "### Pages with most traps\n\n"
        out += row(["page", "module"] + columns.map(Escape.markdown) + ["no trap"])
        out += row(["---", "---"] + columns.map { _ in "---:" } + ["---"])
        for page in rows {
            let module = trace.locations[page.address]?.symbolized.moduleName ?? ""
            var cells = ["`\(NumberFormat.address(page.address))`", Escape.markdown(module)]
            for name in columns { cells.append(countsCell(page.counts[name] ?? [], cycles: nil)) }
            cells.append(Escape.markdown(page.quiet.joined(separator: ", ")))
            out += row(cells)
        }
        return out + "\n"
    }

    /// "module: symbol+0x12" (or the module offset without a symbol).
    static func place(_ location: SiteLocation) -> String {
        let symbolized = location.symbolized
        guard let module = symbolized.moduleName else { return symbolized.description }
        return symbolized.symbolText.map { "\(module): \($0)" } ?? symbolized.description
    }

    /// "**1,000** ret, 2 call<br>500,000 cyc"; empty when nothing traps.
    static func countsCell(_ counts: [CauseCount], cycles: Double?) -> String {
        let traps = counts.reduce(UInt64(0)) { $1.isTrap ? $0 &+ $1.count : $0 }
        guard traps > 0 else { return "" }
        let causes = counts.filter { $0.isTrap && $0.count > 0 }.sorted { $0.count > $1.count }
        var text = "**\(NumberFormat.integer(traps))** " + causes.map { causes.count == 1 ? Escape.markdown($0.cause.rawValue) : "\(Escape.markdown($0.cause.rawValue)) \(NumberFormat.integer($0.count))" }.joined(separator: ", ")
        if let cycles { text += "<br>\(NumberFormat.cycles(cycles)) cyc" }
        return text
    }

    static func row(_ cells: [String]) -> String { "| " + cells.joined(separator: " | ") + " |\n" }
}
