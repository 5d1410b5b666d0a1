import Foundation
import Testing
import TraceModel
@testable import TraceStore

/// A live fast form (OUT.partial) is read while the recorder writes it: every state a reader or a crash can
/// catch must be "not a trace yet" or "a fast form", never a trace without its stream table.
@Suite struct FastFormCrashTests {
    /// The -wal file's commit boundaries: the byte length of the WAL up to and including each commit frame
    /// (sqlite.org/fileformat2.html, "WAL file format": a 32-byte header, then frames of a 24-byte header and
    /// one page; a commit frame's header holds the database size in pages after the commit, others 0).
    private func commitPrefixes(ofWAL wal: [UInt8]) -> [Int] {
        guard wal.count >= 32 else { return [] }
        let pageSize = Int(wal[8]) << 24 | Int(wal[9]) << 16 | Int(wal[10]) << 8 | Int(wal[11])
        var ends: [Int] = []
        var at = 32
        while at + 24 + pageSize <= wal.count {
            let size = Int(wal[at + 4]) << 24 | Int(wal[at + 5]) << 16 | Int(wal[at + 6]) << 8 | Int(wal[at + 7])
            at += 24 + pageSize
            if size != 0 { ends.append(at) }
        }
        return ends
    }

    @Test func everyCommitOfANewFastFormThatReadsAsATraceIsAFastForm() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let path = scratch.path("live.plextrace.partial")
        let writer = try FastFormWriter(path: path, metadata: sampleMetadata())
        defer { writer.abandon() }
        let wal = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path + "-wal")))
        let prefixes = commitPrefixes(ofWAL: wal)
        #expect(prefixes.count >= 2, "the schema's and the metadata's commits at least")
        var traces = 0
        for (n, end) in prefixes.enumerated() {
            let copy = scratch.path("crash-\(n).plextrace")
            try FileManager.default.copyItem(atPath: path, toPath: copy)
            try Data(wal[0..<end]).write(to: URL(fileURLWithPath: copy + "-wal"))
            guard let reader = try? TraceReader(path: copy) else { continue } // not a trace yet
            traces += 1
            #expect(reader.isFastForm, "commit \(n + 1) of \(prefixes.count) reads as a trace without its stream table")
            #expect(!reader.metadata.complete)
        }
        #expect(traces >= 1, "the last commit reads as a trace")
    }
}
