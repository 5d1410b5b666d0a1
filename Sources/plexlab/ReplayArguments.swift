import ArgumentParser
import Gate
import Replay

/// Typed command-line values of the replaying commands. Each parses any text into its value and is checked
/// in the command's `validate()` against the library that owns it, so `--help` lists the choices, a typo is
/// a one-line usage error (exit 2) with the library's own wording, and nothing is replayed before.

/// `--strategy NAME` (replay) or `--strategies a,b|all` (compare): names from `StrategyRegistry`.
struct StrategyArgument: ExpressibleByArgument, CustomStringConvertible {
    var names: [String]

    init?(argument: String) {
        names = argument.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
    }
    init(names: [String]) { self.names = names }

    var description: String { names.joined(separator: ",") }
    var defaultValueDescription: String { description }
    static var allValueStrings: [String] { StrategyRegistry.names + ["all"] }
    static var allValueDescriptions: [String: String] {
        var all = Dictionary(uniqueKeysWithValues: StrategyRegistry.all.map { ($0.name, $0.summary) })
        all["all"] = "every strategy, in the order above"
        return all
    }

    /// Every name known (`ReplayEngine.resolve`'s check and wording).
    func validate() throws {
        do { _ = try ReplayEngine.resolve(names) } catch let error as ReplayError { throw ValidationError(error.description) }
    }
}

/// `--param key=value`: a replay parameter (`ReplayParameters.set` checks key and value).
struct ParameterArgument: ExpressibleByArgument, CustomStringConvertible {
    var text: String
    init?(argument: String) { text = argument }
    var description: String { text }
    static var allValueStrings: [String] { ReplayParameters().all.keys.sorted().map { "\($0)=..." } }

    /// The parameters over the defaults, or the first bad one as a usage error.
    static func parameters(_ arguments: [ParameterArgument]) throws -> ReplayParameters {
        do {
            return try ReplayParameters(arguments: arguments.map(\.text))
        } catch let error as ReplayParameterError {
            throw ValidationError(error.description)
        }
    }
}

/// `--threshold METRIC=rel:FRACTION|abs:AMOUNT` (gate).
struct ThresholdArgument: ExpressibleByArgument, CustomStringConvertible {
    var text: String
    init?(argument: String) { text = argument }
    var description: String { text }
    static var allValueStrings: [String] { ["METRIC=rel:FRACTION", "METRIC=abs:AMOUNT"] }

    /// The thresholds by metric, or the first bad one (syntax or metric name) as a usage error.
    static func table(_ arguments: [ThresholdArgument]) throws -> [String: Threshold] {
        do {
            return try Threshold.table(settings: arguments.map(\.text))
        } catch let error as GateError {
            throw ValidationError(error.description)
        }
    }
}
