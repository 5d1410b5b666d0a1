import Foundation
import TraceModel

/// A corpus manifest that cannot be used; one line naming the file and the problem.
public struct CorpusManifestError: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Traces/manifest.json (schema `plexlab-corpus/1`, docs/gate.md): one entry per recorded workload,
/// saying exactly how its trace was made. `plexlab record --workload NAME --manifest FILE` keeps it and
/// `plexlab gate` reads which traces it lists; this is its one reader and writer.
public enum CorpusManifestFile {
    public static let schema = "plexlab-corpus/1"

    /// What the recording produced, for the manifest.
    public struct Recording: Sendable {
        public var arch: String
        public var instructions: UInt64
        public var blocks: UInt64
        public var fileBytes: UInt64
        public var complete: Bool
        /// Why recording stopped, when not at the guest's exit (e.g. the instruction bound).
        public var note: String
        /// How the guest ended ("exit status 0", ...).
        public var termination: String
        public var recorderVersion: String
        public var date: String
        /// Processes recorded (a process tree; 1 otherwise).
        public var processes: Int = 1

        public init(arch: String, instructions: UInt64, blocks: UInt64, fileBytes: UInt64, complete: Bool,
                    note: String, termination: String, recorderVersion: String, date: String, processes: Int = 1) {
            self.processes = processes
            self.arch = arch
            self.instructions = instructions
            self.blocks = blocks
            self.fileBytes = fileBytes
            self.complete = complete
            self.note = note
            self.termination = termination
            self.recorderVersion = recorderVersion
            self.date = date
        }
    }

    /// The manifest entry of `workload`, recorded to `trace` (relative to the manifest's folder)
    /// with `maxInstructions` and `dataPages` as actually used.
    public static func entry(_ workload: Workload, trace: String, command: [String],
                             maxInstructions: UInt64?, dataPages: Bool, recording: Recording) -> [String: JSONText] {
        var versions = workload.packageVersions()
        versions["qemu-user"] = Workload.debianVersion(of: "qemu-user") ?? "not installed"
        var recorded: [String: JSONText] = [
            "instructions": JSONText(recording.instructions), "blocks": JSONText(recording.blocks),
            "file_bytes": JSONText(recording.fileBytes), "complete": .bool(recording.complete),
            "note": .string(recording.note), "termination": .string(recording.termination),
            "recorder_version": .string(recording.recorderVersion), "date": .string(recording.date),
        ]
        var entry: [String: JSONText] = [
            "name": .string(workload.name),
            "summary": .string(workload.summary),
            "kind": .string(workload.kind.rawValue),
            "arch": .string(recording.arch),
            "trace": .string(trace),
            "command": .array(command.map(JSONText.string)),
            "working_directory": .string("a fresh directory holding the generated inputs"
                + (workload.kind == .micro ? " and the program built from its source" : "")),
            "inputs": .array(workload.inputs.map { input -> JSONText in
                let bytes = input.bytes()
                return ["name": .string(input.name), "generator": .string(input.recipe), "bytes": JSONText(bytes.count),
                        "fnv1a64": .string(GeneratedInput.fnv1a64(bytes))]
            }),
            "max_insns": JSONText(maxInstructions.map(JSONText.init)),
            "data_pages": .bool(dataPages),
            "versions": .object(versions.mapValues(JSONText.string)),
            "environment": ["LC_ALL": .string(ProcessInfo.processInfo.environment["LC_ALL"] ?? "")],
        ]
        if case .assembly = workload.recipe { entry["source"] = "Sources/Workloads/CorpusMicro.swift" }
        if !workload.note.isEmpty { entry["note"] = .string(workload.note) }
        if workload.followProcesses {
            entry["follow_processes"] = true
            recorded["processes"] = JSONText(recording.processes)
        }
        entry["recorded"] = .object(recorded)
        return entry
    }

    /// The manifest's `workloads` entries, read strictly (`JSONParser`); every problem is one line naming
    /// the file. Entries come back as parsed (numbers keep their text), so `upsert` rewrites the others as
    /// they were.
    static func entries(path: String) throws -> [[String: JSONText]] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CorpusManifestError("manifest \(path): cannot be read")
        }
        let root: JSONText
        do { root = try JSONParser.parse(Array(data)) } catch let error as JSONSyntaxError {
            throw CorpusManifestError("manifest \(path): \(error)")
        }
        guard case .object(let top) = root else { throw CorpusManifestError("manifest \(path): top level is not an object") }
        guard case .string(schema)? = top["schema"] else {
            throw CorpusManifestError("manifest \(path): schema is not \"\(schema)\"")
        }
        guard case .array(let list)? = top["workloads"] else {
            throw CorpusManifestError("manifest \(path): missing array \"workloads\"")
        }
        return try list.enumerated().map { index, entry in
            guard case .object(let fields) = entry else {
                throw CorpusManifestError("manifest \(path): workloads[\(index)] is not an object")
            }
            return fields
        }
    }

    /// The trace paths the manifest lists (`workloads[].trace`, relative to the manifest's folder), joined
    /// to that folder and normalised, in manifest order: the traces `plexlab gate` replays by default.
    public static func tracePaths(path: String) throws -> [String] {
        let folder = PathText.directory(of: path)
        return try entries(path: path).enumerated().map { index, fields in
            guard case .string(let trace)? = fields["trace"], !trace.isEmpty else {
                throw CorpusManifestError("manifest \(path): workloads[\(index)]: missing string field \"trace\"")
            }
            if trace.hasPrefix("/") || folder.isEmpty { return PathText.normalise(trace) }
            return PathText.normalise(folder + "/" + trace)
        }
    }

    /// Replaces the entry with the same name (or appends it) and rewrites the file, keys sorted,
    /// entries in catalog order (unknown names last, by name).
    public static func upsert(_ entry: [String: JSONText], into path: String) throws {
        var workloads = FileManager.default.fileExists(atPath: path) ? try entries(path: path) : []
        func name(_ fields: [String: JSONText]) -> String { if case .string(let name)? = fields["name"] { name } else { "" } }
        workloads.removeAll { name($0) == name(entry) }
        workloads.append(entry)
        let order = Dictionary(uniqueKeysWithValues: WorkloadCatalog.corpus.enumerated().map { ($0.element.name, $0.offset) })
        workloads.sort { a, b in
            let (x, y) = (name(a), name(b))
            return (order[x] ?? Int.max, x) < (order[y] ?? Int.max, y)
        }
        let document: JSONText = ["schema": .string(schema), "workloads": .array(workloads.map(JSONText.object))]
        do {
            try OutputFile.write(JSONWriter.write(document, style: .indented(escapingSlashes: false)) + "\n", to: path)
        } catch {
            throw WorkloadError.directory(path: path, detail: error.localizedDescription)
        }
    }
}
