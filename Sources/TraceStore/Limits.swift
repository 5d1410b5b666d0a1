import Foundation
import TraceModel

/// How much stored text the reader accepts; the writer refuses anything larger, so whatever it writes
/// reads back (docs/trace-format.md, docs/import-format.md).
public enum TraceTextLimits {
    /// Most UTF-8 bytes of one stored string: a metadata field, argv as its stored JSON array, a module path.
    public static let maxBytes = 1 << 20
    /// Most bytes of the metadata row's text fields together.
    public static let metadataBytes = 8 * maxBytes

    /// argv as the metadata row stores it: a JSON array of strings.
    public static func storedArgv(_ argv: [String]) -> String {
        JSONWriter.write(.array(argv.map(JSONText.string)), style: .compact)
    }

    /// The first field of `metadata` the reader would refuse, as "NAME is N bytes, over the M-byte cap".
    public static func problem(in metadata: TraceMetadata) -> String? {
        let fields: [(String, Int)] = [
            ("program", metadata.program.utf8.count), ("argv", storedArgv(metadata.argv).utf8.count),
            ("arch", metadata.arch.rawValue.utf8.count), ("recorder", metadata.recorder.utf8.count),
            ("recorder version", metadata.recorderVersion.utf8.count),
            ("plexlab version", metadata.plexlabVersion.utf8.count), ("host", metadata.host.utf8.count),
            ("date", metadata.date.utf8.count), ("note", metadata.note.utf8.count),
        ]
        if let (name, size) = fields.first(where: { $0.1 > maxBytes }) {
            return "the metadata's \(name) is \(size) bytes, over the \(maxBytes)-byte cap"
        }
        let total = fields.reduce(0) { $0 + $1.1 }
        return total > metadataBytes ? "the metadata's text is \(total) bytes, over the \(metadataBytes)-byte cap" : nil
    }
}

/// Limits that bound a trace's memory whatever its thread count (docs/reliability.md, "Memory budget").
public enum TraceLimits {
    /// Most threads whose predictive block coder is live at once, in the writer and in the reader. A thread's
    /// coder lives from its first predictive chunk to its last chunk; the writer codes a thread that starts
    /// while this many are live with the raw codec, and the reader refuses a chunk that would need one more.
    public static let maxLivePredictiveThreads = 16
}
