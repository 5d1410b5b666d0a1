import ArgumentParser
import Foundation
import Recorder
import TraceModel
import Workloads

/// `plexlab record --workload NAME`: parses, then `CorpusRecording.record` (Workloads) does the work.
extension RecordCommand {
    func validateWorkload() throws {
        if !command.isEmpty { throw ValidationError("give either --workload or a program after --, not both") }
        if name != nil { throw ValidationError("--name does not apply to --workload (the workload's name is used)") }
        if manifest != nil && workload == nil { throw ValidationError("--manifest needs --workload") }
        try validateBounds()
    }

    func runWorkload() throws {
        if listWorkloads {
            for entry in WorkloadCatalog.corpus { print(entry.name) }
            return
        }
        var options = CorpusRecording.Options()
        options.output = out
        options.overwrite = force
        options.maxInstructions = maxInsns
        options.skipInstructions = skipInsns
        options.dataPages = dataPages
        options.blockCodec = codec ?? .writerDefault
        options.pack = !noPack
        options.chunkBlocks = chunkBlocks
        options.manifest = manifest
        options.followProcesses = !noFollow
        options.maxProcesses = maxProcesses
        let workload = try WorkloadCatalog.named(self.workload!)
        let live = StandardError.isTerminal
        let progress: ((RecordProgress) -> Void)? = live ? { Self.drawProgress($0) } : nil
        let result = try Self.interruptible { try CorpusRecording.record(workload, options: options, progress: progress) }
        if live { StandardError.write("\r\u{1B}[K") }
        print(Self.summary(result))
        if result.interruptedBy != nil { throw ExitCode(130) }
    }
}
