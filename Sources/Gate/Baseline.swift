import CostModel
import Foundation
import Replay
import TraceModel

extension StrategyResult {
    /// The replay's result reduced to what the gate compares (docs/gate.md): counts, scanned, translated and
    /// the estimates, each estimate named by the baseline's profile entry (a built-in's name or a file's path
    /// as the baseline lists it). The rest is left at zero, so a result read back from a baseline file equals
    /// the one it was written from.
    public static func gated(_ name: String, unavailable: String? = nil, counts: [TrapCause: UInt64] = [:],
                             scanned: UInt64 = 0, translated: UInt64 = 0, estimates: [CostEstimate] = []) -> StrategyResult {
        StrategyResult(name: name, unavailable: unavailable, counts: counts, scanned: scanned, translated: translated,
                       estimates: estimates.sorted { $0.profile < $1.profile })
    }
}

/// Every strategy's gated numbers for one trace: the part of the replay's `TraceResults` the gate compares.
public struct TraceMeasurement: Sendable, Equatable {
    /// The trace file, as the gate was given it (relative to the directory the gate runs in).
    public var path: String
    /// Executed guest instructions: a trace that was re-recorded shows here first.
    public var instructions: UInt64
    /// By strategy name, each `StrategyResult.gated`.
    public var strategies: [String: StrategyResult]

    public init(path: String, instructions: UInt64, strategies: [String: StrategyResult]) {
        self.path = path
        self.instructions = instructions
        self.strategies = strategies
    }
}

/// The committed numbers the gate compares against (docs/gate.md, schema `plexlab-baseline/1`).
public struct Baseline: Sendable, Equatable {
    public static let schema = "plexlab-baseline/1"

    /// Strategy names replayed, in table order.
    public var strategies: [String]
    /// Cost profiles: built-in names or paths to JSON profile files.
    public var profiles: [String]
    /// Replay parameters as `--param` spells them.
    public var parameters: [String: String]
    /// Per-metric thresholds (a metric, a cause, `counts` or `*`); unlisted metrics may not grow.
    public var thresholds: [String: Threshold]
    public var traces: [TraceMeasurement]

    public init(strategies: [String], profiles: [String], parameters: [String: String] = [:],
                thresholds: [String: Threshold] = [:], traces: [TraceMeasurement] = []) {
        self.strategies = strategies
        self.profiles = profiles
        self.parameters = parameters
        self.thresholds = thresholds
        self.traces = traces
    }

    /// The trace entry for `path` (compared after normalising `./` and `//`).
    public func trace(_ path: String) -> TraceMeasurement? {
        let key = Baseline.normalise(path)
        return traces.first { Baseline.normalise($0.path) == key }
    }

    /// `./Traces//a.plextrace` -> `Traces/a.plextrace`.
    public static func normalise(_ path: String) -> String { PathText.normalise(path) }
}

// MARK: - Reading

extension Baseline {
    /// Reads and validates a baseline file; every problem is one line naming the file and the field.
    public static func load(path: String) throws -> Baseline {
        guard FileManager.default.fileExists(atPath: path) else {
            throw GateError("baseline \(path): no such file (make one with --update)")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw GateError("baseline \(path): cannot be read")
        }
        return try parse(Array(data), name: path)
    }

    /// Parses baseline JSON text; `name` only names it in errors.
    public static func parse(_ bytes: [UInt8], name: String) throws -> Baseline {
        let root: JSONText
        do {
            root = try JSONParser.parse(bytes)
        } catch let error as JSONSyntaxError {
            throw GateError("baseline \(name): \(error)")
        }
        return try BaselineDecoder(name: name).baseline(root)
    }
}

/// Turns the JSON tree into a `Baseline`, naming the field path of any problem.
private struct BaselineDecoder {
    let name: String

    func fail(_ at: String, _ problem: String) -> GateError {
        GateError("baseline \(name): \(at.isEmpty ? "" : at + ": ")\(problem)")
    }

    func object(_ value: JSONText, _ at: String, allowed: Set<String>? = nil) throws -> [String: JSONText] {
        guard case .object(let fields) = value else { throw fail(at, "expected an object, found \(value.kindName)") }
        if let allowed, let unknown = fields.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw fail(at, "unknown field \"\(unknown)\"")
        }
        return fields
    }

    func field(_ fields: [String: JSONText], _ key: String, _ at: String) throws -> JSONText {
        guard let value = fields[key] else { throw fail(at, "missing field \"\(key)\"") }
        return value
    }

    func string(_ value: JSONText, _ at: String) throws -> String {
        guard case .string(let text) = value else { throw fail(at, "expected a string, found \(value.kindName)") }
        return text
    }

    func strings(_ value: JSONText, _ at: String) throws -> [String] {
        guard case .array(let items) = value else { throw fail(at, "expected an array of strings, found \(value.kindName)") }
        return try items.enumerated().map { try string($0.element, "\(at)[\($0.offset)]") }
    }

    func count(_ value: JSONText, _ at: String) throws -> UInt64 {
        guard case .number(let text) = value, let number = UInt64(text) else {
            throw fail(at, "expected a non-negative integer, found \(value.literal)")
        }
        return number
    }

    func real(_ value: JSONText, _ at: String) throws -> Double {
        guard case .number(let text) = value, let number = Double(text), number.isFinite else {
            throw fail(at, "expected a finite number, found \(value.kindName)")
        }
        return number
    }

    func baseline(_ root: JSONText) throws -> Baseline {
        let top = try object(root, "", allowed: ["schema", "strategies", "profiles", "parameters", "thresholds", "traces"])
        let schema = try string(field(top, "schema", ""), "schema")
        guard schema == Baseline.schema else {
            throw fail("schema", "\"\(schema)\" is not \"\(Baseline.schema)\"")
        }
        let strategies = try strings(field(top, "strategies", ""), "strategies")
        if strategies.isEmpty { throw fail("strategies", "lists no strategy") }
        if Set(strategies).count != strategies.count { throw fail("strategies", "lists a strategy twice") }
        let profiles = try strings(field(top, "profiles", ""), "profiles")
        if Set(profiles).count != profiles.count { throw fail("profiles", "lists a profile twice") }
        var parameters: [String: String] = [:]
        for (key, value) in try object(field(top, "parameters", ""), "parameters") {
            parameters[key] = try string(value, "parameters.\(key)")
        }
        var thresholds: [String: Threshold] = [:]
        if let table = top["thresholds"] {
            for (key, value) in try object(table, "thresholds") {
                let text = try string(value, "thresholds.\(key)")
                do { thresholds[key] = try Threshold(parsing: text) } catch let error as GateError {
                    throw fail("thresholds.\(key)", error.description)
                }
            }
        }
        guard case .array(let entries) = try field(top, "traces", "") else {
            throw fail("traces", "expected an array, found \(top["traces"]!.kindName)")
        }
        var traces: [TraceMeasurement] = []
        var seen: Set<String> = []
        for (index, entry) in entries.enumerated() {
            let trace = try self.trace(entry, "traces[\(index)]")
            if !seen.insert(Baseline.normalise(trace.path)).inserted {
                throw fail("traces[\(index)]", "trace \(trace.path) is listed twice")
            }
            traces.append(trace)
        }
        return Baseline(strategies: strategies, profiles: profiles, parameters: parameters,
                        thresholds: thresholds, traces: traces)
    }

    func trace(_ value: JSONText, _ at: String) throws -> TraceMeasurement {
        let fields = try object(value, at, allowed: ["path", "instructions", "strategies"])
        let path = try string(field(fields, "path", at), "\(at).path")
        let label = "\(at) (\(path))"
        let instructions = try count(field(fields, "instructions", label), "\(label).instructions")
        var results: [String: StrategyResult] = [:]
        for (name, entry) in try object(field(fields, "strategies", label), "\(label).strategies") {
            results[name] = try strategy(entry, name: name, "\(label).strategies.\(name)")
        }
        return TraceMeasurement(path: path, instructions: instructions, strategies: results)
    }

    func strategy(_ value: JSONText, name: String, _ at: String) throws -> StrategyResult {
        let fields = try object(value, at, allowed: ["unavailable", "counts", "scanned", "translated", "cycles", "slowdown"])
        if let reason = fields["unavailable"] {
            if fields.count > 1 { throw fail(at, "an unavailable strategy has no other fields") }
            return .gated(name, unavailable: try string(reason, "\(at).unavailable"))
        }
        var counts: [TrapCause: UInt64] = [:]
        for (name, number) in try object(field(fields, "counts", at), "\(at).counts") {
            guard let cause = TrapCause(rawValue: name) else {
                throw fail("\(at).counts", "unknown trap cause \"\(name)\"")
            }
            counts[cause] = try count(number, "\(at).counts.\(name)")
        }
        func perProfile(_ key: String) throws -> [String: Double] {
            var values: [String: Double] = [:]
            for (profile, number) in try object(field(fields, key, at), "\(at).\(key)") {
                values[profile] = try real(number, "\(at).\(key).\(profile)")
            }
            return values
        }
        // The file keeps an estimate's two numbers in two objects; each profile must be in both.
        let (cycles, slowdown) = (try perProfile("cycles"), try perProfile("slowdown"))
        var estimates: [CostEstimate] = []
        for profile in Set(cycles.keys).union(slowdown.keys).sorted() {
            guard let value = cycles[profile], let ratio = slowdown[profile] else {
                throw fail(at, "profile \"\(profile)\" is in \(cycles[profile] == nil ? "slowdown" : "cycles") only")
            }
            estimates.append(CostEstimate(profile: profile, cycles: value, slowdown: ratio))
        }
        return .gated(
            name, counts: counts,
            scanned: try count(field(fields, "scanned", at), "\(at).scanned"),
            translated: try count(field(fields, "translated", at), "\(at).translated"),
            estimates: estimates)
    }
}

private extension JSONText {
    var literal: String { if case .number(let text) = self { text } else { kindName } }
}

// MARK: - Writing

extension Baseline {
    /// The baseline as pretty-printed JSON with sorted keys, so a changed number is a one-line diff.
    public func jsonText() -> String {
        var top: [String: JSONText] = [
            "schema": .string(Baseline.schema),
            "strategies": .array(strategies.map { .string($0) }),
            "profiles": .array(profiles.map { .string($0) }),
            "parameters": .object(parameters.mapValues { .string($0) }),
        ]
        top["thresholds"] = .object(thresholds.mapValues { .string($0.description) })
        top["traces"] = .array(traces.map { trace in
            .object([
                "path": .string(trace.path),
                "instructions": .number(String(trace.instructions)),
                "strategies": .object(trace.strategies.mapValues { result in
                    if let reason = result.unavailable { return .object(["unavailable": .string(reason)]) }
                    return .object([
                        "counts": .object(Dictionary(uniqueKeysWithValues: result.counts.map { ($0.key.rawValue, .number(String($0.value))) })),
                        "scanned": .number(String(result.scanned)),
                        "translated": .number(String(result.translated)),
                        "cycles": .object(Dictionary(uniqueKeysWithValues: result.estimates.map { ($0.profile, JSONWriter.number($0.cycles)) })),
                        "slowdown": .object(Dictionary(uniqueKeysWithValues: result.estimates.map { ($0.profile, JSONWriter.number($0.slowdown)) })),
                    ])
                }),
            ])
        })
        return JSONWriter.write(.object(top))
    }

    /// Writes `jsonText()` to `path` atomically.
    public func write(to path: String) throws {
        do {
            try OutputFile.write(jsonText(), to: path)
        } catch {
            throw GateError("baseline \(path): cannot be written (\(error.localizedDescription))")
        }
    }
}
