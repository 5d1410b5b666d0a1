import Foundation

/// A fresh directory under the temporary directory, removed by the caller.
func scratchDirectory(_ name: String) throws -> String {
    let directory = NSTemporaryDirectory() + "plexlab-sweep-\(name)-\(UUID().uuidString.prefix(8))"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    return directory
}

/// A small committed corpus trace (calls across pages, 180,001 blocks; Traces/manifest.json).
let corpusTrace = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("Traces/micro-xpage-calls-64.plextrace").path
