import ArgumentParser
import Foundation
import Recorder
import TraceModel
import Workloads

/// `plexlab record --workload NAME`: builds a corpus workload and its inputs in a fresh directory,
/// records it from there with the corpus bounds, and optionally updates the manifest.
extension RecordCommand {
    func validateWorkload() throws {
        if !command.isEmpty { throw ValidationError("give either --workload or a program after --, not both") }
        if name != nil { throw ValidationError("--name does not apply to --workload (the workload's name is used)") }
        if manifest != nil && workload == nil { throw ValidationError("--manifest needs --workload") }
        try validateBounds()
    }

    func runWorkload() throws {
        if listWorkloads {
            for entry in CorpusCatalog.all { print(entry.name) }
            return
        }
        let corpus = try CorpusCatalog.named(workload!)
        let files = FileManager.default
        let start = files.currentDirectoryPath
        func absolute(_ path: String) -> String { path.hasPrefix("/") ? path : start + "/" + path }
        let output = absolute(out ?? "Traces/\(corpus.name).plextrace")
        try? files.createDirectory(atPath: (output as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let directory = NSTemporaryDirectory() + "plexlab-workload-\(corpus.name)-\(UUID().uuidString)"
        defer { try? files.removeItem(atPath: directory) }
        let prepared = try corpus.prepare(in: directory)
        // A built program runs as ./NAME from its directory, so argv does not hold a temporary path.
        var program = prepared.program
        if program.hasPrefix(directory + "/") { program = "./" + (program as NSString).lastPathComponent }
        let maxInstructions = maxInsns ?? corpus.maxInstructions
        let options = RecordOptions(output: output, overwrite: force, maxInstructions: maxInstructions,
                                    skipInstructions: skipInsns, dataPages: dataPages || corpus.dataPages,
                                    blockCodec: codec ?? .writerDefault, pack: !noPack,
                                    followProcesses: corpus.followProcesses && !noFollow,
                                    maxProcesses: maxProcesses ?? RecordOptions.defaultMaxProcesses)
        let live = StandardError.isTerminal
        let progress: ((RecordProgress) -> Void)? = live ? { Self.drawProgress($0) } : nil
        guard files.changeCurrentDirectoryPath(directory) else {
            throw WorkloadError.directory(path: directory, detail: "cannot enter it")
        }
        let recorded = Result { try Self.interruptible {
            try Recorder.record(program: program, arguments: prepared.arguments, options: options, progress: progress)
        } }
        _ = files.changeCurrentDirectoryPath(start)
        let result = try recorded.get()
        if live { StandardError.write("\r\u{1B}[K") }
        print(Self.summary(result))
        if result.interruptedBy != nil { throw ExitCode(130) }
        if let manifest {
            let folder = ((absolute(manifest) as NSString).deletingLastPathComponent as NSString).standardizingPath
            let outFolder = ((output as NSString).deletingLastPathComponent as NSString).standardizingPath
            let trace = folder == outFolder ? (output as NSString).lastPathComponent : output
            let recording = CorpusManifestFile.Recording(
                arch: result.metadata.arch.rawValue, instructions: result.instructions, blocks: result.blocks,
                fileBytes: result.fileBytes, complete: result.metadata.complete, note: result.metadata.note,
                termination: result.termination.description, recorderVersion: result.metadata.recorderVersion,
                date: result.metadata.date, processes: result.processes.count)
            let entry = CorpusManifestFile.entry(corpus, trace: trace, command: [program] + prepared.arguments,
                                                 maxInstructions: maxInstructions, dataPages: options.dataPages,
                                                 recording: recording)
            try CorpusManifestFile.upsert(entry, into: absolute(manifest))
        }
    }
}
