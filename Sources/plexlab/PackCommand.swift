import ArgumentParser
import Recorder
import TraceModel
import TraceStore

/// `plexlab pack TRACE`: packs a trace recorded with `record --no-pack` (or whose pack was stopped).
struct PackCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pack",
        abstract: "Pack a trace recorded with --no-pack into its dense form (rr's record, then pack).",
        discussion: """
        `plexlab record` stores the plugin's stream as it comes while the guest runs (the fast form) and packs \
        it when the guest has exited; with --no-pack it stops after the fast form. This command does the pack: \
        it decodes the blocks and codes them densely into TRACE.partial, then renames that over TRACE. Ctrl-C \
        or kill -9 during a pack leaves TRACE in its fast form, whole; `plexlab info` says which form a trace is in.

        Examples:
          plexlab record --no-pack --out t.plextrace -- gzip -c data.bin > /dev/null
          plexlab pack t.plextrace
          plexlab pack --codec predictive t.plextrace
        """)

    @Argument(help: "The trace file in its fast form.")
    var trace: String

    @Option(help: "How the packed trace stores block ids (docs/trace-format.md).")
    var codec: BlockStreamCodec?

    func run() throws {
        do {
            let result = try Packer.packWatchingSignals(path: trace, codec: codec ?? .writerDefault)
            StandardError.write(RecordCommand.summary(result) + "\n")
        } catch let error as RecorderError {
            guard case .packInterrupted = error else { throw error }
            StandardError.write("plexlab: \(Escape.terminal(error.description))\n")
            throw ExitCode(130)
        }
    }
}
