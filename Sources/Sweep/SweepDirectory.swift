import Foundation
import TraceModel

/// A sweep's directory on disk (docs/sweep.md, "Files"): `plan.json` (the spec), `points/ID.json` (one
/// file per finished point, each written atomically: a killed run leaves whole points or none), and the
/// outputs written by a run or a merge.
public struct SweepDirectory: Sendable {
    public let path: String

    public init(_ path: String) { self.path = path }

    public var planPath: String { path + "/plan.json" }
    public var pointsPath: String { path + "/points" }
    public var sbatchPath: String { path + "/sweep.sbatch" }
    public func pointPath(_ id: Int) -> String { pointsPath + "/\(id).json" }

    static let schema = "plexlab-sweep-plan/1"

    /// Creates the directory and writes the spec; a directory that already holds another spec is refused
    /// (its points belong to that sweep), the same spec is kept so that finished points are reused.
    public func create(_ plan: SweepPlan) throws {
        do {
            try FileManager.default.createDirectory(atPath: pointsPath, withIntermediateDirectories: true)
        } catch {
            throw SweepError("cannot create \(pointsPath): \((error as NSError).localizedFailureReason ?? error.localizedDescription)")
        }
        if FileManager.default.fileExists(atPath: planPath) {
            let existing = try load()
            guard existing.spec == plan.spec else {
                throw SweepError("\(path) holds another sweep (plan.json differs); use a new directory or remove it")
            }
            return
        }
        try write(Self.text(of: plan.spec), to: planPath)
    }

    /// The plan stored in the directory.
    public func load() throws -> SweepPlan {
        guard let data = FileManager.default.contents(atPath: planPath) else {
            throw SweepError("\(planPath): cannot read it (is \(path) a sweep plan directory?)")
        }
        return try SweepPlan(spec: Self.spec(from: [UInt8](data), path: planPath))
    }

    /// The finished points of the plan, or of `ids` only (files that do not parse are not finished: they
    /// are replayed again).
    public func finished(_ plan: SweepPlan, among ids: [Int]? = nil) -> [Int: PointResult] {
        var results: [Int: PointResult] = [:]
        for id in ids ?? plan.points.map(\.id) {
            let file = pointPath(id)
            guard let data = FileManager.default.contents(atPath: file),
                  let result = try? PointResult(jsonText: [UInt8](data), path: file), result.point == id else { continue }
            results[id] = result
        }
        return results
    }

    /// Stores one finished point atomically.
    public func store(_ result: PointResult) throws {
        try write(result.jsonText(), to: pointPath(result.point))
    }

    func write(_ text: String, to file: String) throws {
        do { try OutputFile.write(text, to: file) } catch let error as OutputFileError { throw SweepError(error.description) }
    }

    static func text(of spec: SweepSpec) -> String {
        JSONWriter.write(.object([
            "schema": .string(schema),
            "traces": .array(spec.traces.map { .string($0) }),
            "strategies": .array(spec.strategies.map { .string($0) }),
            "grid": .array(spec.grid.axes.map { axis in
                .object(["key": .string(axis.key), "values": .array(axis.values.map { .string($0) })])
            }),
            "fixed": .array(spec.fixed.map { .string($0) }),
            "profiles": .array(spec.profiles.map { .string($0) }),
            "points_per_shard": .number(String(spec.pointsPerShard)),
        ]))
    }

    static func spec(from bytes: [UInt8], path: String) throws -> SweepSpec {
        func bad(_ why: String) -> SweepError { SweepError("\(path): \(why)") }
        let value: JSONText
        do { value = try JSONParser.parse(bytes) } catch let error as JSONSyntaxError { throw bad(error.description) }
        guard case .object(let fields) = value, fields["schema"] == .string(schema) else {
            throw bad("not a sweep plan (\(schema))")
        }
        func strings(_ value: JSONText?, _ name: String) throws -> [String] {
            guard case .array(let items) = value else { throw bad("\(name) is not an array") }
            return try items.map { item in
                guard case .string(let text) = item else { throw bad("\(name) holds a non-string") }
                return text
            }
        }
        guard case .array(let axes) = fields["grid"] else { throw bad("grid is not an array") }
        var arguments: [String] = []
        for axis in axes {
            guard case .object(let entry) = axis, case .string(let key) = entry["key"] else { throw bad("a grid entry has no key") }
            arguments.append(key + "=" + (try strings(entry["values"], "grid \(key)")).joined(separator: ","))
        }
        guard case .number(let shardText) = fields["points_per_shard"], let perShard = Int(shardText), perShard >= 0 else {
            throw bad("points_per_shard is not a count")
        }
        let fixed = try strings(fields["fixed"], "fixed")
        return SweepSpec(traces: try strings(fields["traces"], "traces"), strategies: try strings(fields["strategies"], "strategies"),
                         grid: try SweepGrid(arguments: arguments, fixed: fixed), fixed: fixed,
                         profiles: try strings(fields["profiles"], "profiles"), pointsPerShard: perShard)
    }
}
