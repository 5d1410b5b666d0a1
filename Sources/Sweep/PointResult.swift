import CostModel
import Replay
import TraceModel

/// A finished point: what its replay counted (docs/sweep.md, "Outputs"). Stored one file per point.
public struct PointResult: Sendable, Equatable {
    public var point: Int
    /// Why the strategy has no numbers for this trace (pagefault-legacy without data pages), else nil.
    public var unavailable: String?
    public var instructions: UInt64
    public var blocks: UInt64
    public var traps: UInt64
    public var counts: [TrapCause: UInt64]
    public var scanned: UInt64
    public var translated: UInt64
    public var translations: UInt64
    /// One estimate per selected profile, in selection order.
    public var estimates: [CostEstimate]

    public init(point: Int, result: StrategyResult, profiles: [String]) {
        self.point = point
        unavailable = result.unavailable
        instructions = result.instructions
        blocks = result.blocks
        traps = result.traps
        counts = result.counts
        scanned = result.scanned
        translated = result.translated
        translations = result.translations
        estimates = profiles.compactMap { result.estimate($0) }
    }

    /// The point's file: exact integers, doubles in their shortest round-trip form.
    public func jsonText() -> String {
        var fields: [String: JSONText] = [
            "schema": .string(Self.schema),
            "point": .number(String(point)),
            "instructions": .number(String(instructions)), "blocks": .number(String(blocks)),
            "traps": .number(String(traps)), "scanned": .number(String(scanned)),
            "translated": .number(String(translated)), "translations": .number(String(translations)),
            "counts": .object(Dictionary(uniqueKeysWithValues: counts.map { ($0.key.rawValue, .number(String($0.value))) })),
            "estimates": .array(estimates.map {
                .object(["profile": .string($0.profile), "cycles": JSONWriter.number($0.cycles),
                         "slowdown": JSONWriter.number($0.slowdown)])
            }),
        ]
        fields["unavailable"] = unavailable.map { .string($0) } ?? .null
        return JSONWriter.write(.object(fields))
    }

    static let schema = "plexlab-sweep-point/1"

    /// Reads a point file; `path` names it in errors.
    public init(jsonText bytes: [UInt8], path: String) throws {
        func bad(_ why: String) -> SweepError { SweepError("\(path): \(why)") }
        let value: JSONText
        do { value = try JSONParser.parse(bytes) } catch let error as JSONSyntaxError { throw bad(error.description) }
        guard case .object(let fields) = value, fields["schema"] == .string(Self.schema) else {
            throw bad("not a sweep point file (\(Self.schema))")
        }
        func count(_ key: String, in object: [String: JSONText] = fields) throws -> UInt64 {
            guard case .number(let text) = object[key], let number = UInt64(text) else { throw bad("\(key) is not a count") }
            return number
        }
        func double(_ key: String, in object: [String: JSONText]) throws -> Double {
            guard case .number(let text) = object[key], let number = Double(text) else { throw bad("\(key) is not a number") }
            return number
        }
        point = Int(try count("point"))
        instructions = try count("instructions")
        blocks = try count("blocks")
        traps = try count("traps")
        scanned = try count("scanned")
        translated = try count("translated")
        translations = try count("translations")
        switch fields["unavailable"] {
        case .string(let reason): unavailable = reason
        default: unavailable = nil
        }
        guard case .object(let countFields) = fields["counts"] else { throw bad("counts is not an object") }
        counts = [:]
        for (key, _) in countFields {
            guard let cause = TrapCause(rawValue: key) else { throw bad("unknown cause \(key)") }
            counts[cause] = try count(key, in: countFields)
        }
        guard case .array(let items) = fields["estimates"] else { throw bad("estimates is not an array") }
        estimates = try items.map { item in
            guard case .object(let estimate) = item, case .string(let profile) = estimate["profile"] else {
                throw bad("an estimate has no profile")
            }
            return CostEstimate(profile: profile, cycles: try double("cycles", in: estimate),
                                slowdown: try double("slowdown", in: estimate))
        }
    }
}
