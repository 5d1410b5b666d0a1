import Foundation
import TraceModel

/// Why a cost profile file could not be used; one line naming the file and the key or problem.
public struct CostProfileError: Error, CustomStringConvertible, Equatable {
    public var path: String
    public var problem: String
    public init(path: String, problem: String) {
        self.path = path
        self.problem = problem
    }
    public var description: String { "cost profile \(path): \(problem)" }
}

extension CostProfile {
    /// Reads a JSON profile (docs/cost-profile-format.md). The twelve `CostKey.required` keys are required,
    /// the translated-code keys default (`CostKey.defaultValue`, noted in `sources`), costs are non-negative
    /// numbers, unknown keys are rejected (a misspelt key must not silently cost 0).
    public static func load(path: String) throws -> CostProfile {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CostProfileError(path: path, problem: "not a built-in profile (\(builtIn.map(\.name).joined(separator: ", "))) and no readable file")
        }
        return try parse(data, path: path)
    }

    /// Parses the JSON text of a profile (strictly: `JSONParser`); `path` only names it in errors.
    public static func parse(_ data: Data, path: String) throws -> CostProfile {
        let root: JSONText
        do {
            root = try JSONParser.parse(Array(data))
        } catch let error as JSONSyntaxError {
            throw CostProfileError(path: path, problem: error.description)
        }
        guard case .object(let fields) = root else {
            throw CostProfileError(path: path, problem: "top level is not a JSON object")
        }
        let known = Set(CostKey.allCases.map(\.rawValue)).union(["name", "description", "sources"])
        if let unknown = fields.keys.sorted().first(where: { !known.contains($0) }) {
            throw CostProfileError(path: path, problem: "unknown key \"\(unknown)\"")
        }
        var costs: [CostKey: Double] = [:]
        var defaulted: [CostKey: String] = [:]
        for key in CostKey.allCases {
            guard let value = fields[key.rawValue] else {
                guard let (cost, note) = key.defaultValue(in: costs) else {
                    throw CostProfileError(path: path, problem: "missing key \"\(key.rawValue)\"")
                }
                costs[key] = cost
                defaulted[key] = note
                continue
            }
            guard case .number(let literal) = value, let cost = Double(literal) else {
                throw CostProfileError(path: path, problem: "key \"\(key.rawValue)\" is not a number")
            }
            guard cost.isFinite, cost >= 0 else {
                throw CostProfileError(path: path, problem: "key \"\(key.rawValue)\" must be a finite number >= 0")
            }
            costs[key] = cost
        }
        let name: String
        switch fields["name"] {
        case nil: name = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        case .string(let text)? where !text.isEmpty: name = text
        default: throw CostProfileError(path: path, problem: "key \"name\" is not a non-empty string")
        }
        var description = ""
        if let value = fields["description"] {
            guard case .string(let text) = value else {
                throw CostProfileError(path: path, problem: "key \"description\" is not a string")
            }
            description = text
        }
        var sources: [CostKey: String] = [:]
        if let value = fields["sources"] {
            guard case .object(let table) = value else {
                throw CostProfileError(path: path, problem: "key \"sources\" is not an object")
            }
            for (keyName, note) in table {
                guard let key = CostKey(rawValue: keyName) else {
                    throw CostProfileError(path: path, problem: "sources: unknown key \"\(keyName)\"")
                }
                guard case .string(let text) = note else {
                    throw CostProfileError(path: path, problem: "sources: \"\(keyName)\" is not a string")
                }
                sources[key] = text
            }
        }
        for (key, note) in defaulted { sources[key] = note }
        return CostProfile(name: name, description: description, costs: costs, sources: sources)
    }

    /// The profile as the JSON object `parse` reads.
    public func jsonObject() -> JSONText {
        var object: [String: JSONText] = ["name": .string(name), "description": .string(description)]
        for key in CostKey.allCases { object[key.rawValue] = JSONText(self[key]) }
        if !sources.isEmpty {
            object["sources"] = .object(Dictionary(uniqueKeysWithValues: sources.map { ($0.key.rawValue, .string($0.value)) }))
        }
        return .object(object)
    }
}
