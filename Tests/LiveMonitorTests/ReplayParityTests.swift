import CostModel
import Fidelity
import Foundation
import LiveMonitor
import Replay
import Testing
import Workloads

/// The key property: for every micro workload of the corpus (64 and 32 bits, the JIT and mixed-page ones
/// included), the live counts equal the replay's counts of a recording of the same program, cause by cause,
/// with the same scans.
@Suite(.serialized) struct ReplayParityTests {
    static let micro = WorkloadCatalog.micro.map(\.name)

    @Test(arguments: micro)
    func liveEqualsReplay(name: String) throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let workload = try WorkloadCatalog.named(name)
        let command = try workload.prepare(in: scratch.path)
        // Counts only: the modern profile spares each case the live profile's probe runs.
        let result = try Fidelity.run(program: command.program, arguments: command.arguments,
                                      profile: CostProfile.named("modern"), directory: scratch.path, timing: false)
        #expect(result.mismatches == [], "\(name): \(result.mismatches)")
        #expect(result.rows.contains { $0.live > 0 })
        for live in result.live.strategies {
            let replayed = try #require(result.replay.strategy(live.strategy.rawValue))
            #expect(live.scans == replayed.scans, "\(name) \(live.strategy.rawValue): scans \(live.scans)/\(replayed.scans)")
            let message: Comment = "\(name) \(live.strategy.rawValue): scanned \(live.scanned) live, \(replayed.scanned) replayed"
            #expect(live.scanned == replayed.scanned, message)
            // The stores the monitor stepped on their own page are the replay's self-writes: mixed-page's
            // counter update, once per iteration (docs/live.md section 3, "Code writes").
            #expect(live.selfWrites == replayed.selfWrites, "\(name) \(live.strategy.rawValue): self-writes \(live.selfWrites)/\(replayed.selfWrites)")
            #expect(replayed.selfWrites == (name.hasPrefix("micro-mixed-page") ? 1_000 : 0), "\(name): \(replayed.selfWrites)")
        }
    }
}
