import Replay
import TraceModel

/// The views of a system trace (docs/strategies.md section 8) that `plexlab compare` and `plexlab report`
/// add: the kernel/user split of blocks, instructions and each strategy's traps, and hardware assist with
/// shadow paging next to nested paging and binary translation.
public enum SystemTables {
    /// One strategy's traps split by where they are sited: (kernel, user).
    public static func trapSplit(_ result: StrategyResult) -> (kernel: UInt64, user: UInt64) {
        let kernel = result.kernelCounts.filter { $0.key.isTrap }.values.reduce(0, &+)
        return (kernel, result.traps &- kernel)
    }

    /// "kernel 4 blocks, 19 instructions (65.5%); user 5 blocks, 10 instructions; 1 interrupt, ..." or nil
    /// for a user-mode trace.
    public static func sentence(_ summary: ReplaySummary) -> String? {
        guard let system = summary.system else { return nil }
        let userBlocks = summary.blocks &- system.kernelBlocks
        let userInstructions = summary.instructions &- system.kernelInstructions
        let share = summary.instructions == 0 ? 0 : 100 * Double(system.kernelInstructions) / Double(summary.instructions)
        return "kernel \(system.kernelBlocks) blocks, \(system.kernelInstructions) instructions ("
            + NumberFormat.percent(share / 100) + "); user \(userBlocks) blocks, \(userInstructions) instructions; "
            + "\(system.interrupts) interrupts, \(system.exceptions) exceptions, \(system.pageFaults) page faults, "
            + "\(system.pageTableStores) page-table stores"
    }

    /// The rows of the split table: strategy, kernel traps, user traps, and the slowdown under `profile`.
    static func rows(_ strategies: [StrategyResult], profile: String) -> [[String]] {
        strategies.filter { $0.unavailable == nil }.map { result in
            let (kernel, user) = trapSplit(result)
            return [result.name, "\(kernel)", "\(user)",
                    result.estimate(profile).map { NumberFormat.ratio($0.slowdown) } ?? "-"]
        }
    }

    /// Hardware with shadow paging, with nested paging, and the best binary translator, side by side.
    static func hardwareVersusSoftware(_ strategies: [StrategyResult], profile: String) -> String? {
        func slowdown(_ name: String) -> Double? { strategies.first { $0.name == name }?.estimate(profile)?.slowdown }
        let translators = strategies.filter { $0.name.hasPrefix("dbt-") && $0.unavailable == nil }
        guard let shadow = slowdown("hw-shadow"), let nested = slowdown("hw-ept"),
              let best = translators.min(by: { ($0.estimate(profile)?.slowdown ?? .infinity) < ($1.estimate(profile)?.slowdown ?? .infinity) }),
              let software = best.estimate(profile)?.slowdown else { return nil }
        let winner = software < shadow ? "binary translation beats shadow-paging hardware assist"
            : "shadow-paging hardware assist beats binary translation"
        return "under \(profile): hw-shadow \(NumberFormat.ratio(shadow)), hw-ept \(NumberFormat.ratio(nested)), "
            + "\(best.name) \(NumberFormat.ratio(software)): \(winner)"
    }

    /// The text block `plexlab compare` prints under its tables for a system trace (nothing otherwise).
    public static func text(_ trace: TraceResults, profile: String) -> String {
        guard let sentence = sentence(trace.summary) else { return "" }
        var out = "  system trace: \(sentence)\n"
        out += "  traps by privilege level (docs/strategies.md section 8):\n"
        out += TextTable.render(["strategy", "kernel traps", "user traps", "slowdown (\(profile))"],
                                rows(trace.strategies, profile: profile), rightAligned: { $0 > 0 })
        if let line = hardwareVersusSoftware(trace.strategies, profile: profile) { out += "  \(line)\n" }
        return out
    }

    /// The Markdown section `plexlab report` adds for a system trace (empty otherwise).
    static func markdown(_ summary: ReplaySummary, strategies: [StrategyResult], profile: String) -> String {
        guard let sentence = sentence(summary) else { return "" }
        var out = "### Kernel and user\n\n\(sentence).\n\n"
        out += "| strategy | kernel traps | user traps | slowdown (\(Escape.markdown(profile))) |\n| --- | ---: | ---: | ---: |\n"
        for row in rows(strategies, profile: profile) {
            out += "| " + row.map { Escape.markdown($0) }.joined(separator: " | ") + " |\n"
        }
        if let line = hardwareVersusSoftware(strategies, profile: profile) { out += "\n\(Escape.markdown(line)).\n" }
        return out + "\n"
    }

    /// The HTML section `plexlab report` adds for a system trace (empty otherwise).
    static func html(_ summary: ReplaySummary, strategies: [StrategyResult], profile: String) -> String {
        guard let sentence = sentence(summary) else { return "" }
        var out = "<h3>Kernel and user</h3><p>\(Escape.html(sentence)).</p>\n<table><tr><th>strategy</th>"
            + "<th>kernel traps</th><th>user traps</th><th>slowdown (\(Escape.html(profile)))</th></tr>\n"
        for row in rows(strategies, profile: profile) {
            out += "<tr>" + row.enumerated().map { $0.offset == 0 ? "<td>\(Escape.html($0.element))</td>"
                : "<td class=\"n\">\(Escape.html($0.element))</td>" }.joined() + "</tr>\n"
        }
        out += "</table>\n"
        if let line = hardwareVersusSoftware(strategies, profile: profile) { out += "<p>\(Escape.html(line)).</p>\n" }
        return out
    }
}
