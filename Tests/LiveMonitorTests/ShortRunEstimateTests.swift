import Fidelity
import LiveMonitor
import Testing

/// The start and per-round errors of a short run, worked by hand (docs/live.md section 3, "Short runs").
struct ShortRunEstimateTests {
    @Test func startIsTheProbesExcessBeyondItsTraps() {
        // Probe: monitored 2.0 ms, baseline 1.2 ms, its pf_exec and exit priced at 0.3 ms: 0.5 ms of start.
        #expect(abs(ShortRunEstimate.start(monitored: 2.0e-3, native: 1.2e-3, trapSeconds: 0.3e-3) - 0.5e-3) < 1e-15)
        // A probe run faster than its traps' prices leaves no start (never negative).
        #expect(ShortRunEstimate.start(monitored: 1.3e-3, native: 1.2e-3, trapSeconds: 0.3e-3) == 0)
    }

    @Test func eachRoundIsPricedWithItsOwnPlainRunAndProbe() {
        // Overhead 1.0 ms, probe traps 0.25 ms. Round 0: plain 1.5, monitored 3.0; probe plain 1.0,
        // monitored 1.75 -> start 0.5; predicted 1.5 + 0.5 + 1.0 = 3.0 -> error 0.
        // Round 1: plain 1.0, monitored 4.0; probe 1.0 -> 1.25, start 0 -> 1.0 + 0 + 1.0 = 2.0 over 4.0 -> -0.5.
        // Round 2: plain 2.0, monitored 2.5; probe 1.0 -> 2.25, start 1.0 -> 2.0 + 1.0 + 1.0 = 4.0 / 2.5 -> +0.6.
        let program = [LiveRound(plain: 1.5e-3, monitored: 3.0e-3), LiveRound(plain: 1.0e-3, monitored: 4.0e-3),
                       LiveRound(plain: 2.0e-3, monitored: 2.5e-3)]
        let probe = [LiveRound(plain: 1.0e-3, monitored: 1.75e-3), LiveRound(plain: 1.0e-3, monitored: 1.25e-3),
                     LiveRound(plain: 1.0e-3, monitored: 2.25e-3)]
        let errors = ShortRunEstimate.roundErrors(program: program, probe: probe, trapSeconds: 0.25e-3, start: 9,
                                                  overhead: 1.0e-3)
        #expect(errors.count == 3)
        for (error, expected) in zip(errors, [0, -0.5, 0.6]) { #expect(abs(error - expected) < 1e-12, "\(errors)") }
        // A round's start is not clamped: a probe run faster than its traps' prices lowers that round's prediction.
        let fast = ShortRunEstimate.roundErrors(program: [LiveRound(plain: 1.0e-3, monitored: 2.0e-3)],
                                                probe: [LiveRound(plain: 1.0e-3, monitored: 1.0e-3)],
                                                trapSeconds: 0.5e-3, start: 0, overhead: 1.0e-3)
        #expect(fast.count == 1 && abs(fast[0] - (-0.25)) < 1e-12, "\(fast)")  // (1.0 - 0.5 + 1.0) / 2.0 - 1
        // Rounds the probe did not run (a long strategy run once) use the given start: (1.0 + 0.5 + 1.0) / 2.0 - 1.
        let unpaired = ShortRunEstimate.roundErrors(program: [LiveRound(plain: 1.0e-3, monitored: 2.0e-3)], probe: [],
                                                    trapSeconds: 0, start: 0.5e-3, overhead: 1.0e-3)
        #expect(unpaired.count == 1 && abs(unpaired[0] - 0.25) < 1e-12, "\(unpaired)")
    }
}
