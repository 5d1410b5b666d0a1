import Foundation

/// A fresh directory under the temporary directory, removed by the caller.
func scratchDirectory(_ name: String) throws -> String {
    let directory = NSTemporaryDirectory() + "plexlab-sweep-\(name)-\(UUID().uuidString.prefix(8))"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    return directory
}

/// The committed corpus trace of the reference's worked example (docs/strategies.md section 6), recorded
/// from assembly: B0 F B1 (BL F B1)^(N-1) BE with N = 60000.
let workedExampleTrace = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("Traces/micro-xpage-calls-64.plextrace").path
