import ArgumentParser
import Foundation
import TraceImport
import TraceModel
import TraceStore

/// `plexlab import FILE`: builds a trace from the JSON Lines import format (docs/import-format.md).
struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Build a trace from a JSON Lines file of code bytes and executed blocks (docs/import-format.md).")

    @Argument(help: "The JSON Lines file to import.")
    var file: String

    @Option(name: .long, help: "Where to write the trace (default: Traces/<file name>.plextrace).")
    var out: String?

    @Flag(name: .long, help: "Replace an existing trace file.")
    var force = false

    @Option(help: "How the trace stores block ids (docs/trace-format.md).")
    var codec: BlockStreamCodec?

    // Small chunks make a long import commit often (the kill -9 tests of ReliabilityTests).
    @Option(name: .long, help: .hidden)
    var chunkBlocks: Int = TraceWriter.Options().chunkBlocks

    func validate() throws {
        guard chunkBlocks > 0 else { throw ValidationError("--chunk-blocks must be positive") }
    }

    func run() throws {
        let outPath = out ?? Self.defaultOutput(for: file)
        let directory = PathText.directory(of: outPath)
        if !directory.isEmpty { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        let summary = try TraceImporter.importFile(at: file, to: outPath, overwrite: force, chunkBlocks: chunkBlocks,
                                                   blockCodec: codec ?? .writerDefault)
        print("\(Escape.terminal(outPath)): \(summary.blocksExecuted) blocks executed (\(summary.instructions) instructions), "
              + "\(summary.distinctBlocks) distinct blocks, \(summary.codePages) code pages "
              + "(\(summary.codePageVersions) versions), \(summary.threads) threads")
    }

    /// Traces/<base name without extension>.plextrace
    static func defaultOutput(for file: String) -> String {
        let name = ((file as NSString).lastPathComponent as NSString).deletingPathExtension
        return "Traces/\(name.isEmpty ? "import" : name).plextrace"
    }
}
