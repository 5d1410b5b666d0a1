import CostModel
import Foundation
import Replay
import TraceModel

/// Replays traces and reduces the results to the numbers the gate compares.
public enum GateMeasure {

    /// What a baseline's settings resolve to; building it checks every name (bad input exits 2).
    public struct Setup: Sendable {
        public var strategies: [String]
        /// The baseline's profile entries (names or paths) with the profiles they resolve to.
        public var profiles: [(entry: String, profile: CostProfile)]
        public var parameters: ReplayParameters

        public init(_ baseline: Baseline) throws {
            do {
                strategies = try ReplayEngine.resolve(baseline.strategies).map { $0.name }
            } catch let error as ReplayError {
                throw GateError("baseline: \(error.description)")
            }
            // The one selection rule of compare, replay and report (CostModel's ProfileSelection); a baseline
            // may gate no profile at all.
            do {
                profiles = baseline.profiles.isEmpty ? []
                    : try ProfileSelection(baseline.profiles).entries.map { (entry: $0.option, profile: $0.profile) }
            } catch let error as CostProfileError {
                throw GateError("baseline: unknown profile \"\(error.path)\": \(error.description)")
            } catch let error as ProfileSelectionError {
                throw GateError("baseline: \(error.description)")
            }
            do {
                parameters = try ReplayParameters(arguments: baseline.parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" })
            } catch let error as ReplayParameterError {
                throw GateError("baseline: \(error.description)")
            }
        }
    }

    /// Replays one trace file under the setup's strategies.
    public static func measure(tracePath: String, setup: Setup) throws -> TraceMeasurement {
        let results = try ReplayEngine.run(tracePath: tracePath, strategies: setup.strategies,
                                           parameters: setup.parameters, profiles: setup.profiles.map(\.profile))
        return measurement(of: results, setup: setup)
    }

    /// The gated numbers of replay results (estimates keyed by the baseline's profile entries).
    public static func measurement(of results: TraceResults, setup: Setup) -> TraceMeasurement {
        var strategies: [String: StrategyResult] = [:]
        for result in results.strategies {
            if let reason = result.unavailable {
                strategies[result.name] = .gated(result.name, unavailable: reason)
                continue
            }
            let estimates = setup.profiles.compactMap { entry, profile in
                result.estimate(profile.name).map { CostEstimate(profile: entry, cycles: $0.cycles, slowdown: $0.slowdown) }
            }
            strategies[result.name] = .gated(result.name, counts: result.counts, scanned: result.scanned,
                                             translated: result.translated, estimates: estimates)
        }
        return TraceMeasurement(path: results.path, instructions: results.summary.instructions, strategies: strategies)
    }
}
