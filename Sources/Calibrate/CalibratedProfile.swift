import CostModel
import Foundation
import TraceModel

/// A cost profile as written to disk, in the file format of docs/cost-profile-format.md: every cost key in
/// cycles, a name, a description and a note per key saying where its number comes from. Written with plain
/// Foundation so the file follows the format exactly; CostModel's `CostProfile.load(path:)` reads it.
public struct CalibratedProfile: Encodable, Sendable, Equatable {
    public var name: String
    public var description: String
    /// Cycles per cost key (`CostKey.rawValue`), one entry per key.
    public var costs: [String: Double]
    /// Per key: "measured: ..." or "estimate: ..." (emulate_data: "trap_pf (measured ...) + ...").
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

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(name, forKey: Key("name"))
        try container.encode(description, forKey: Key("description"))
        for key in CostKey.allCases { try container.encode(costs[key.rawValue] ?? 0, forKey: Key(key.rawValue)) }
        try container.encode(sources, forKey: Key("sources"))
    }

    /// Pretty-printed JSON with sorted keys, ending in a newline.
    public func jsonData() throws -> Data {
        Data((JSONWriter.write(try JSONText(encoding: self), style: .indented(escapingSlashes: false)) + "\n").utf8)
    }

    public func write(to path: String) throws {
        do {
            try OutputFile.write(jsonData(), to: path)
        } catch {
            throw CalibrationError.cannotWrite(path: path, reason: error.localizedDescription)
        }
    }

    /// The same profile as CostModel's type, for replaying under it without a file.
    public var costProfile: CostProfile {
        CostProfile(
            name: name, description: description,
            costs: Dictionary(uniqueKeysWithValues: CostKey.allCases.map { ($0, costs[$0.rawValue] ?? 0) }),
            sources: Dictionary(uniqueKeysWithValues: CostKey.allCases.compactMap { key in
                sources[key.rawValue].map { (key, $0) }
            }))
    }
}
