import Foundation
import Testing
import TraceModel
@testable import Workloads
@testable import Recorder

/// `plexlab record --workload` as a library call: the guest runs in a fresh directory of its own (the
/// recorder's working directory never changes), and the manifest entry says how the trace was made.
@Suite struct CorpusRecordingTests {
    @Test func aWorkloadRunsInItsOwnDirectoryAndLandsInTheManifest() throws {
        let directory = try scratch("corpus-recording")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let workload = try WorkloadCatalog.named("micro-xpage-calls-64")
        var options = CorpusRecording.Options()
        options.output = directory + "/Traces/\(workload.name).plextrace"
        options.manifest = directory + "/Traces/manifest.json"
        let before = FileManager.default.currentDirectoryPath
        let result = try CorpusRecording.record(workload, options: options)
        #expect(FileManager.default.currentDirectoryPath == before)
        #expect(result.path == options.output)
        #expect(result.metadata.complete)
        // Run as ./NAME from its directory: no temporary path in the trace.
        #expect(result.metadata.program == "./micro-xpage-calls-64")
        #expect(result.metadata.argv.first == "./micro-xpage-calls-64")
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: options.manifest!))) as? [String: Any]
        let entries = try #require(manifest?["workloads"] as? [[String: Any]])
        #expect(entries.count == 1)
        #expect(entries[0]["name"] as? String == "micro-xpage-calls-64")
        #expect(entries[0]["trace"] as? String == "micro-xpage-calls-64.plextrace")
        #expect((entries[0]["command"] as? [String])?.first == "./micro-xpage-calls-64")
        #expect((entries[0]["recorded"] as? [String: Any])?["blocks"] as? UInt64 == result.blocks)
        // The gate reads the same file through the same type.
        #expect(try CorpusManifestFile.tracePaths(path: options.manifest!) == [options.output!])
    }

    @Test func aRelativeProgramIsFoundInTheWorkingDirectory() throws {
        let directory = try scratch("working-directory")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(throws: RecorderError.programNotFound(directory + "/./nothing-here")) {
            try GuestProgram.resolve("./nothing-here", in: directory)
        }
        try FileManager.default.copyItem(atPath: "/bin/true", toPath: directory + "/t")
        let guest = try GuestProgram.resolve("./t", in: directory)
        #expect(guest.path == "./t")
    }

    @Test func upsertingAnEntryOfTheCommittedManifestChangesNothing() throws {
        let committed = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Traces/manifest.json").path
        let directory = try scratch("manifest")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let copy = directory + "/manifest.json"
        try FileManager.default.copyItem(atPath: committed, toPath: copy)
        let entries = try CorpusManifestFile.entries(path: copy)
        #expect(entries.count == WorkloadCatalog.corpus.count)
        try CorpusManifestFile.upsert(try #require(entries.first { $0["name"] == "gzip" }), into: copy)
        #expect(try String(contentsOfFile: copy, encoding: .utf8) == String(contentsOfFile: committed, encoding: .utf8))
        try #"{"schema": "plexlab-corpus/1", "workloads": [], "workloads": []}"#.write(toFile: copy, atomically: true, encoding: .utf8)
        #expect(throws: CorpusManifestError("manifest \(copy): not valid JSON at line 1, column 49: duplicate key \"workloads\"")) {
            try CorpusManifestFile.entries(path: copy)
        }
    }
}
