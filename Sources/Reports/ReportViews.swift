import CostModel
import Replay

/// Derived views both renderers show: verdicts, cycle breakdowns, merged site and page tables.
/// Computed from `ReportInput` alone, so Markdown and HTML always agree.

/// The sentence that says which strategy wins on one trace under one profile, and why the loser loses.
public struct Verdict: Sendable, Equatable {
    public var profile: String
    /// Fastest strategy other than native and hw (hw only when it is the only one with numbers).
    public var best: String
    /// sbe when it is there and is not the best, else the slowest strategy.
    public var compared: String?
    /// cycles(compared) / cycles(best).
    public var factor: Double?
    /// Most frequent trap cause of `compared` (of `best` when there is nothing to compare with).
    public var dominantCause: TrapCause?
    /// Share of that strategy's traps this cause accounts for, 0...1.
    public var dominantShare: Double?
    /// best's slowdown against native.
    public var bestSlowdown: Double
    /// hw's slowdown, quoted for reference when hw has numbers and is not `best`.
    public var hardwareSlowdown: Double?
}

/// A row of the merged trap-site or page table: one address, each strategy's counts there.
public struct AddressRow: Sendable, Equatable {
    public var address: UInt64
    /// Counts by strategy name (strategies with nothing here are absent).
    public var counts: [String: [CauseCount]]
    /// Available strategies that do not trap here.
    public var quiet: [String]

    public func traps(_ strategy: String) -> UInt64 {
        (counts[strategy] ?? []).reduce(0) { $1.isTrap ? $0 &+ $1.count : $0 }
    }
}

extension CostProfile {
    /// `strategy`'s cycles split into the terms of the cycle formula (`breakdown`, labelled by cause).
    /// Sums to the replay's cycle figure when the profile is the one the replay used.
    public func breakdown(of strategy: StrategyResult, instructions: UInt64, blocks: UInt64) -> [CostPart] {
        breakdown(instructions: instructions, blocks: blocks, translator: strategy.translator,
                  events: TrapCause.costEvents(strategy.counts.map { ($0.key, $0.value) }),
                  scanned: strategy.scanned, translated: strategy.translated)
    }

    /// Cycles the counts at one site cost under this profile.
    public func cycles(of counts: [CauseCount]) -> Double {
        counts.reduce(0) { $0 + Double($1.count) * ($1.cause.costKey.map { self[$0] } ?? 0) }
    }
}

extension StrategyResult {
    /// Whether the strategy has numbers (not unavailable).
    public var isAvailable: Bool { unavailable == nil }

    /// The trap cause with the highest count, and its share of all traps.
    public var dominantTrapCause: (cause: TrapCause, share: Double)? {
        guard traps > 0, let top = counts.ordered.filter({ $0.isTrap && $0.count > 0 }).max(by: { $0.count < $1.count }) else {
            return nil
        }
        return (top.cause, Double(top.count) / Double(traps))
    }
}

extension ReportTrace {
    /// The verdict under `profile`; nil when no strategy other than native has an estimate.
    public func verdict(profile: String) -> Verdict? {
        let all = strategies.filter { $0.isAvailable && $0.name != "native" && $0.estimate(profile) != nil }
        // Hardware assist wins whenever a trace has no cpuid; the question a report answers is which software
        // technique to use, so hw is only the verdict when nothing else has numbers (its slowdown is quoted).
        let software = all.filter { $0.name != "hw" }
        let candidates = software.isEmpty ? all : software
        guard let best = candidates.min(by: { $0.estimate(profile)!.cycles < $1.estimate(profile)!.cycles }) else {
            return nil
        }
        let bestEstimate = best.estimate(profile)!
        let others = candidates.filter { $0.name != best.name }
        let compared = others.first { $0.name == "sbe" }
            ?? others.max { $0.estimate(profile)!.cycles < $1.estimate(profile)!.cycles }
        var verdict = Verdict(profile: profile, best: best.name, bestSlowdown: bestEstimate.slowdown)
        if best.name != "hw", let hw = all.first(where: { $0.name == "hw" }) { verdict.hardwareSlowdown = hw.estimate(profile)?.slowdown }
        if let compared, let estimate = compared.estimate(profile) {
            verdict.compared = compared.name
            verdict.factor = bestEstimate.cycles > 0 ? estimate.cycles / bestEstimate.cycles : nil
        }
        if let dominant = (compared ?? best).dominantTrapCause {
            verdict.dominantCause = dominant.cause
            verdict.dominantShare = dominant.share
        }
        return verdict
    }

    /// The trap sites worth showing: each strategy's sites ranked by traps, then interleaved (every
    /// strategy's first, then every second, ...) so one trap-heavy strategy does not crowd out the rest.
    public func topSites(limit: Int) -> [AddressRow] {
        merged(limit: limit) { strategy in strategy.sites.map { ($0.address, $0.counts.ordered) } }
    }

    /// The pages with most traps, chosen like `topSites`.
    public func topPages(limit: Int) -> [AddressRow] {
        merged(limit: limit) { strategy in strategy.pages.map { ($0.page, $0.counts.ordered) } }
    }

    private func merged(limit: Int, entries: (StrategyResult) -> [(UInt64, [CauseCount])]) -> [AddressRow] {
        let available = strategies.filter(\.isAvailable)
        var byAddress: [UInt64: [String: [CauseCount]]] = [:]
        var rank: [UInt64: (Int, UInt64)] = [:]
        for strategy in available {
            let ranked = entries(strategy)
                .map { (address: $0.0, counts: $0.1, traps: $0.1.reduce(UInt64(0)) { $1.isTrap ? $0 &+ $1.count : $0 }) }
                .filter { $0.traps > 0 }
                .sorted { ($0.traps, $1.address) > ($1.traps, $0.address) }
            for (position, entry) in ranked.enumerated() {
                byAddress[entry.address, default: [:]][strategy.name] = entry.counts
                let previous = rank[entry.address] ?? (Int.max, 0)
                rank[entry.address] = (min(previous.0, position), max(previous.1, entry.traps))
            }
        }
        let order = rank.sorted { a, b in
            if a.value.0 != b.value.0 { return a.value.0 < b.value.0 }
            if a.value.1 != b.value.1 { return a.value.1 > b.value.1 }
            return a.key < b.key
        }
        return order.prefix(max(limit, 0)).map { entry in
            let counts = byAddress[entry.key] ?? [:]
            let row = AddressRow(address: entry.key, counts: counts, quiet: [])
            let quiet = available.map(\.name).filter { row.traps($0) == 0 }
            return AddressRow(address: entry.key, counts: counts, quiet: quiet)
        }
    }
}
