import LiveMonitor

/// The monitor start of a run and the spread of a prediction's error over the rounds of a short run
/// (docs/live.md section 3, "Short runs"). Pure arithmetic on measured walls, so it is tested by hand.
public enum ShortRunEstimate {
    /// Seconds the monitor's own start and end add to a run: the start probe's monitored wall less its
    /// baseline and less its own traps at the profile's prices (`trapSeconds`), never below 0.
    public static func start(monitored: Double, native: Double, trapSeconds: Double) -> Double {
        max(0, monitored - native - trapSeconds)
    }

    /// The prediction's error in each round: round i's own plain run, plus the start that round's probe
    /// measured (its monitored wall less its plain wall less `trapSeconds`, not clamped: a round's noise is
    /// shown as it is), plus `overhead`, over round i's monitored wall, less 1. Without probe rounds (or
    /// fewer of them than the program's) the missing rounds use `start`.
    public static func roundErrors(program: [LiveRound], probe: [LiveRound], trapSeconds: Double, start: Double,
                                   overhead: Double) -> [Double] {
        program.indices.compactMap { index in
            let round = program[index]
            guard round.monitored > 0 else { return nil }
            let roundStart = index < probe.count ? probe[index].monitored - probe[index].plain - trapSeconds : start
            return (round.plain + roundStart + overhead) / round.monitored - 1
        }
    }
}
