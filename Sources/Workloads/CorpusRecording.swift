import Foundation
import Recorder
import TraceModel
import TraceStore

/// `plexlab record --workload NAME`: builds a corpus workload and its inputs in a fresh directory, records
/// it there (the guest's working directory; the recorder's own is left alone) with the corpus bounds, and
/// optionally adds or replaces its entry in a corpus manifest.
public enum CorpusRecording {
    /// What the command line can change about a corpus recording.
    public struct Options: Sendable {
        /// The trace file (default Traces/NAME.plextrace), relative to the current directory.
        public var output: String?
        public var overwrite = false
        /// Overrides the workload's own bound.
        public var maxInstructions: UInt64?
        public var skipInstructions: UInt64?
        /// Added to the workload's own setting.
        public var dataPages = false
        public var blockCodec: BlockStreamCodec = .writerDefault
        /// Without following: pack when the guest has exited (false: `--no-pack`).
        public var pack = true
        public var chunkBlocks: Int?
        /// A manifest to add or replace the workload's entry in, when the recording was not interrupted.
        public var manifest: String?
        /// Off (`--no-follow`): only the first process even of a workload that follows its tree.
        public var followProcesses = true
        /// `--max-processes` (the recorder's default when nil).
        public var maxProcesses: Int?
        public init() {}
    }

    /// Records `workload`; `progress` is the recorder's.
    public static func record(_ workload: Workload, options: Options,
                              progress: ((RecordProgress) -> Void)? = nil) throws -> RecordResult {
        let files = FileManager.default
        let start = files.currentDirectoryPath
        func absolute(_ path: String) -> String { path.hasPrefix("/") ? path : start + "/" + path }
        let output = absolute(options.output ?? "Traces/\(workload.name).plextrace")
        try? files.createDirectory(atPath: PathText.directory(of: output), withIntermediateDirectories: true)
        let directory = NSTemporaryDirectory() + "plexlab-workload-\(workload.name)-\(UUID().uuidString)"
        defer { try? files.removeItem(atPath: directory) }
        let prepared = try workload.prepare(in: directory)
        // A built program runs as ./NAME from its directory, so argv does not hold a temporary path.
        var program = prepared.program
        if program.hasPrefix(directory + "/") { program = "./" + (program as NSString).lastPathComponent }
        let maxInstructions = options.maxInstructions ?? workload.maxInstructions
        let recordOptions = RecordOptions(output: output, overwrite: options.overwrite, maxInstructions: maxInstructions,
                                          skipInstructions: options.skipInstructions,
                                          dataPages: options.dataPages || workload.dataPages,
                                          chunkBlocks: options.chunkBlocks, blockCodec: options.blockCodec,
                                          pack: options.pack, followProcesses: workload.followProcesses && options.followProcesses,
                                          maxProcesses: options.maxProcesses ?? RecordOptions.defaultMaxProcesses,
                                          workingDirectory: directory)
        let result = try Recorder.record(program: program, arguments: prepared.arguments, options: recordOptions,
                                         progress: progress)
        guard result.interruptedBy == nil, let manifest = options.manifest.map(absolute) else { return result }
        let folder = (PathText.directory(of: manifest) as NSString).standardizingPath
        let outFolder = (PathText.directory(of: output) as NSString).standardizingPath
        let trace = folder == outFolder ? (output as NSString).lastPathComponent : output
        let recording = CorpusManifestFile.Recording(
            arch: result.metadata.arch.rawValue, instructions: result.instructions, blocks: result.blocks,
            fileBytes: result.fileBytes, complete: result.metadata.complete, note: result.metadata.note,
            termination: result.termination.description, recorderVersion: result.metadata.recorderVersion,
            date: result.metadata.date, processes: result.processes.count)
        let entry = CorpusManifestFile.entry(workload, trace: trace, command: [program] + prepared.arguments,
                                             maxInstructions: maxInstructions, dataPages: recordOptions.dataPages,
                                             recording: recording)
        try CorpusManifestFile.upsert(entry, into: manifest)
        return result
    }
}
