import Foundation
import TraceModel

/// Traces/manifest.json (schema `plexlab-corpus/1`, docs/gate.md): one entry per recorded workload,
/// saying exactly how its trace was made. `plexlab record --workload NAME --manifest FILE` keeps it.
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
    public static func entry(_ workload: CorpusWorkload, trace: String, command: [String],
                             maxInstructions: UInt64?, dataPages: Bool, recording: Recording) -> [String: Any] {
        var versions = workload.packageVersions()
        versions["qemu-user"] = CorpusWorkload.debianVersion(of: "qemu-user") ?? "not installed"
        var entry: [String: Any] = [
            "name": workload.name,
            "summary": workload.summary,
            "kind": workload.kind.rawValue,
            "arch": recording.arch,
            "trace": trace,
            "command": command,
            "working_directory": "a fresh directory holding the generated inputs"
                + (workload.kind == .micro ? " and the program built from its source" : ""),
            "inputs": workload.inputs.map { input -> [String: Any] in
                let bytes = input.bytes()
                return ["name": input.name, "generator": input.recipe, "bytes": bytes.count,
                        "fnv1a64": GeneratedInput.fnv1a64(bytes)]
            },
            "max_insns": maxInstructions.map { $0 as Any } ?? NSNull(),
            "data_pages": dataPages,
            "versions": versions,
            "recorded": [
                "instructions": recording.instructions, "blocks": recording.blocks,
                "file_bytes": recording.fileBytes, "complete": recording.complete, "note": recording.note,
                "termination": recording.termination, "recorder_version": recording.recorderVersion,
                "date": recording.date,
            ] as [String: Any],
            "environment": ["LC_ALL": ProcessInfo.processInfo.environment["LC_ALL"] ?? ""],
        ]
        if case .assembly = workload.recipe { entry["source"] = "Sources/Workloads/CorpusMicro.swift" }
        if !workload.note.isEmpty { entry["note"] = workload.note }
        if workload.followProcesses {
            entry["follow_processes"] = true
            entry["recorded"] = (entry["recorded"] as? [String: Any] ?? [:]).merging(["processes": recording.processes]) { $1 }
        }
        return entry
    }

    /// Replaces the entry with the same name (or appends it) and rewrites the file, keys sorted,
    /// entries in catalog order (unknown names last, by name).
    public static func upsert(_ entry: [String: Any], into path: String) throws {
        var workloads: [[String: Any]] = []
        if let data = FileManager.default.contents(atPath: path) {
            guard let top = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  top["schema"] as? String == schema, let list = top["workloads"] as? [[String: Any]] else {
                throw WorkloadError.directory(path: path, detail: "not a \(schema) manifest")
            }
            workloads = list
        }
        let name = entry["name"] as? String
        workloads.removeAll { $0["name"] as? String == name }
        workloads.append(entry)
        let order = Dictionary(uniqueKeysWithValues: CorpusCatalog.all.enumerated().map { ($0.element.name, $0.offset) })
        workloads.sort { a, b in
            let (x, y) = (a["name"] as? String ?? "", b["name"] as? String ?? "")
            return (order[x] ?? Int.max, x) < (order[y] ?? Int.max, y)
        }
        let document: [String: Any] = ["schema": schema, "workloads": workloads]
        let data = try JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        do {
            try OutputFile.write(String(decoding: data, as: UTF8.self) + "\n", to: path)
        } catch {
            throw WorkloadError.directory(path: path, detail: error.localizedDescription)
        }
    }
}
