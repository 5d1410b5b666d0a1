import Foundation

/// A cost profile in the file format of docs/cost-profile-format.md: twelve costs in cycles, a name, a
/// description and a note per key saying where its number comes from.
public struct CalibratedProfile: Codable, Sendable, Equatable {
    /// The twelve cost keys, in the order the format lists them.
    public static let costKeys = [
        "cpi", "trap_int3", "trap_pf", "trap_wp", "emulate_data", "scan_per_insn", "translate_per_insn",
        "dispatch", "link", "ibtc_hit", "ras_hit", "vmexit",
    ]

    public var name: String
    public var description: String
    /// Cycles per key; exactly the keys of `costKeys`.
    public var costs: [String: Double]
    /// Per key: "measured: ..." or "estimate: ...".
    public var sources: [String: String]

    public init(name: String, description: String, costs: [String: Double], sources: [String: String]) {
        self.name = name
        self.description = description
        self.costs = costs
        self.sources = sources
    }

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ string: String) { stringValue = string }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        name = try container.decode(String.self, forKey: Key("name"))
        description = try container.decodeIfPresent(String.self, forKey: Key("description")) ?? ""
        var costs: [String: Double] = [:]
        for key in Self.costKeys {
            guard container.contains(Key(key)) else {
                throw ProfileFileError(path: nil, problem: "missing cost key \"\(key)\"")
            }
            guard let value = try? container.decode(Double.self, forKey: Key(key)) else {
                throw ProfileFileError(path: nil, problem: "cost key \"\(key)\" is not a number")
            }
            costs[key] = value
        }
        self.costs = costs
        sources = try container.decodeIfPresent([String: String].self, forKey: Key("sources")) ?? [:]
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(name, forKey: Key("name"))
        try container.encode(description, forKey: Key("description"))
        for key in Self.costKeys { try container.encode(costs[key] ?? 0, forKey: Key(key)) }
        try container.encode(sources, forKey: Key("sources"))
    }

    /// The problems that make this profile unusable: a missing key, or a cost that is not finite and > 0.
    public func problems() -> [String] {
        Self.costKeys.compactMap { key in
            guard let value = costs[key] else { return "missing cost key \"\(key)\"" }
            return value.isFinite && value > 0 ? nil : "cost \"\(key)\" is \(value), not a positive number"
        }
    }

    /// Pretty-printed JSON with sorted keys, ending in a newline.
    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        var data = try encoder.encode(self)
        data.append(0x0A)
        return data
    }

    public func write(to path: String) throws {
        do {
            try jsonData().write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw ProfileFileError(path: path, problem: "cannot write: \(error.localizedDescription)")
        }
    }

    /// Reads a profile file and checks that every cost is present, finite and positive.
    public static func load(from path: String) throws -> CalibratedProfile {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ProfileFileError(path: path, problem: "cannot read: \(error.localizedDescription)")
        }
        let profile: CalibratedProfile
        do {
            profile = try JSONDecoder().decode(CalibratedProfile.self, from: data)
        } catch let error as ProfileFileError {
            throw ProfileFileError(path: path, problem: error.problem)
        } catch {
            throw ProfileFileError(path: path, problem: "not a cost profile JSON object")
        }
        if let problem = profile.problems().first { throw ProfileFileError(path: path, problem: problem) }
        return profile
    }
}

/// A profile file that cannot be read, written or used.
public struct ProfileFileError: Error, CustomStringConvertible, Equatable {
    public var path: String?
    public var problem: String
    public var description: String {
        if let path { return "\(path): \(problem)" }
        return problem
    }
}
