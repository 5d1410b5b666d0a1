import Foundation
import TraceModel

/// What `plexlab info` shows about a trace: metadata, figures and, on request, the bad chunks.
public struct TraceInfo: Sendable, Codable, Equatable {
    public var path: String
    public var schemaVersion: Int
    public var metadata: TraceMetadata
    public var summary: TraceSummary
    /// Present when the chunks were verified: every bad chunk (empty when all are good).
    public var badChunks: [ChunkProblem]?
    /// Present when the trace is in its fast form (recorded, not packed: docs/recorder.md).
    public var fastForm: FastFormFigures?
    /// The recorded process tree with each process's executed blocks (empty before schema 3).
    public var processes: [ProcessFigures] = []

    /// The plugin's stream a fast form holds so far (a live recording's grows by 4 MiB segments).
    public struct FastFormFigures: Sendable, Codable, Equatable {
        public var streamBytes: UInt64
        public var storedBytes: UInt64
    }

    /// One process and the blocks its threads executed.
    public struct ProcessFigures: Sendable, Codable, Equatable {
        public var process: TraceProcess
        public var blocks: UInt64
    }

    /// Opens the trace read-only and gathers its figures; `verify` reads every chunk too.
    public static func load(path: String, verify: Bool) throws -> TraceInfo {
        let reader = try TraceReader(path: path)
        let (metadata, summary) = try reader.currentMetadataAndSummary()
        let fastForm = reader.isFastForm ? try reader.fastFormSizes() : nil
        let blocks = try reader.blocksByThread()
        let processes = try reader.processes().map { process in
            ProcessFigures(process: process, blocks: process.threads.reduce(0) { $0 + (blocks[$1] ?? 0) })
        }
        return TraceInfo(path: path, schemaVersion: reader.schemaVersion, metadata: metadata,
                         summary: summary, badChunks: verify ? try reader.verify() : nil,
                         fastForm: fastForm.map { FastFormFigures(streamBytes: $0.stream, storedBytes: $0.stored) },
                         processes: processes)
    }

    /// Throws `TraceStoreError.verifyFailed` when verification found bad chunks.
    public func checkVerified() throws {
        if let badChunks, !badChunks.isEmpty {
            throw TraceStoreError.verifyFailed(path: path, bad: badChunks.count, total: Int(summary.chunks))
        }
    }

    /// An aligned two-column table.
    public func table() -> String {
        let m = metadata, s = summary
        var rows: [(String, String)] = [
            ("trace", path),
            ("program", m.program),
            ("argv", m.argv.map(Self.shellQuoted).joined(separator: " ")),
            ("arch", m.arch.rawValue),
            ("recorder", "\(m.recorder) \(m.recorderVersion)"),
            ("plexlab", m.plexlabVersion),
            ("host", m.host),
            ("date", m.date),
            ("exit", Self.exitDescription(m)),
            ("state", m.complete ? "complete" : "incomplete"),
        ]
        if !m.note.isEmpty { rows.append(("note", m.note)) }
        if let fastForm {
            rows.append(("form", "fast (not packed): \(NumberFormat.binaryBytes(fastForm.streamBytes)) of the plugin's stream "
                         + "in \(NumberFormat.binaryBytes(fastForm.storedBytes)); `plexlab pack` decodes it"))
        }
        rows += [
            ("schema version", "\(schemaVersion)"),
            ("guest mode", m.guestMode.rawValue),
            ("instructions", "\(s.instructions)"),
            ("blocks executed", "\(s.blocksExecuted)"),
            ("distinct blocks", "\(s.distinctBlocks)"),
            ("code pages", "\(s.codePages)"),
            ("page versions", "\(s.codePageVersions)"),
            ("code writes", "\(s.codeWrites)"),
            ("syscalls", "\(s.syscalls)"),
            ("data touches", m.hasDataTouches ? "\(s.dataTouches)" : "not recorded"),
            ("system events", m.guestMode == .system ? "\(s.systemEvents)" : "none (a user-mode trace)"),
            ("threads", "\(s.threads)"),
            ("chunks", "\(s.chunks)"),
            ("file size", "\(s.fileBytes) bytes (\(NumberFormat.binaryBytes(s.fileBytes)))"),
            ("block stream", "\(s.blockStreamBytes) bytes"),
            ("block codec", s.blockCodecs.isEmpty ? "none (no chunks)" : s.blockCodecs.joined(separator: ", ")),
            ("bits per executed block", String(format: "%.3f", s.bitsPerExecutedBlock)),
        ]
        if s.touchStreamBytes > 0 {
            let bits = s.blocksExecuted == 0 ? 0 : 8 * Double(s.blockStreamBytes + s.touchStreamBytes) / Double(s.blocksExecuted)
            rows += [("touch stream", "\(s.touchStreamBytes) bytes (coded data touches)"),
                     ("bits per block, blocks + touches", String(format: "%.3f", bits))]
        }
        if !processes.isEmpty {
            rows.append(("processes", "\(processes.count) (id pid parent origin: exit, blocks, argv)"))
            for figures in processes {
                let p = figures.process
                rows.append(("", "\(p.id) \(p.pid) \(p.parent.map(String.init) ?? "-") \(p.origin.rawValue): "
                             + "\(p.endDescription), \(figures.blocks) blocks, "
                             + p.argv.map(Self.shellQuoted).joined(separator: " ")))
            }
        }
        if let badChunks {
            rows.append(("verify", badChunks.isEmpty ? "all \(s.chunks) chunks good"
                                                     : "\(badChunks.count) of \(s.chunks) chunks bad"))
            rows += badChunks.map { ("", $0.description) }
        }
        let width = rows.map(\.0.count).max() ?? 0
        return rows.map { label, value in
            label.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + Self.oneLine(value)
        }.joined(separator: "\n")
    }

    /// Pretty-printed JSON with sorted keys.
    public func json() -> String {
        // Encoding plain value types cannot fail.
        JSONWriter.write((try? JSONText(encoding: self)) ?? [:], style: .indented(escapingSlashes: false))
    }

    static func exitDescription(_ m: TraceMetadata) -> String {
        switch (m.exitStatus, m.signal) {
        case let (status?, nil): "status \(status)"
        case let (nil, signal?): "signal \(signal)"
        case let (status?, signal?): "status \(status), signal \(signal)"
        case (nil, nil): "unknown"
        }
    }

    static func shellQuoted(_ word: String) -> String {
        let plain = !word.isEmpty && word.allSatisfy { $0.isLetter || $0.isNumber || "-_./=:,+@%".contains($0) }
        return plain ? word : "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// Stored strings come from the file: one row per line, control characters shown as escapes.
    static func oneLine(_ text: String) -> String { Escape.terminal(text) }
}

