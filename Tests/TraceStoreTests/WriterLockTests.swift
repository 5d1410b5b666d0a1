import Foundation
import GRDB
import Synchronization
import Testing
import TraceModel
@testable import TraceStore

/// A reader that opens a trace while its writer is still creating it (a live `plexlab info` polling the
/// output of a recording that just started) must not make the writer fail.
@Suite struct WriterLockTests {
    @Test func readersOfANewFileDoNotFailItsWriter() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        var failures: [String] = []
        for attempt in 0..<40 {
            let path = scratch.path("contended-\(attempt).plextrace")
            let done = Mutex(false)
            // Opens the file the moment it exists and holds a read transaction (a shared lock until the
            // writer has switched the file to WAL) for 20 ms at a time.
            let reader = Thread {
                while !done.withLock({ $0 }) {
                    guard FileManager.default.fileExists(atPath: path) else { continue }
                    var configuration = Configuration()
                    configuration.readonly = true
                    _ = try? DatabaseQueue(path: path, configuration: configuration).read { db in
                        _ = try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master")
                        usleep(20_000)
                    }
                }
            }
            reader.start()
            do {
                let writer = try TraceWriter(path: path, metadata: sampleMetadata())
                try writer.finish(exitStatus: 0, signal: nil, note: "")
            } catch {
                failures.append("\(error)")
            }
            done.withLock { $0 = true }
        }
        #expect(failures.isEmpty, "\(failures.count) of 40 writers failed, first: \(failures.first ?? "")")
    }
}
