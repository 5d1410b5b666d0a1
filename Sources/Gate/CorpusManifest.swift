import TraceModel
import Foundation

/// The corpus manifest (Traces/manifest.json, schema `plexlab-corpus/1`, docs/gate.md): how each
/// committed trace was made. The gate reads only which traces there are.
public enum CorpusManifest {
    public static let schema = "plexlab-corpus/1"

    /// The trace paths the manifest lists (`workloads[].trace`, relative to the manifest's folder),
    /// joined to that folder, in manifest order.
    public static func tracePaths(path: String) throws -> [String] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw GateError("manifest \(path): cannot be read")
        }
        let root: JSONText
        do { root = try JSONParser.parse(Array(data)) } catch let error as JSONSyntaxError {
            throw GateError("manifest \(path): \(error)")
        }
        guard case .object(let top) = root else { throw GateError("manifest \(path): top level is not an object") }
        guard case .string(let schema)? = top["schema"], schema == Self.schema else {
            throw GateError("manifest \(path): schema is not \"\(Self.schema)\"")
        }
        guard case .array(let workloads)? = top["workloads"] else {
            throw GateError("manifest \(path): missing array \"workloads\"")
        }
        let folder = PathText.directory(of: path)
        return try workloads.enumerated().map { index, entry in
            guard case .object(let fields) = entry, case .string(let trace)? = fields["trace"], !trace.isEmpty else {
                throw GateError("manifest \(path): workloads[\(index)]: missing string field \"trace\"")
            }
            if trace.hasPrefix("/") || folder.isEmpty { return Baseline.normalise(trace) }
            return Baseline.normalise(folder + "/" + trace)
        }
    }
}
