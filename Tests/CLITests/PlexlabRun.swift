import Foundation
import Testing

/// One finished run of the built `plexlab` executable: its exit status and what it printed.
struct PlexlabRun {
    var status: Int32
    var stdout: String
    var stderr: String

    /// Runs `plexlab arguments` in `directory` with `environment` added, and waits for it to end.
    /// stderr goes through a file, so a chatty run cannot block on a full second pipe while stdout is read.
    init(_ arguments: [String], in directory: String? = nil, environment: [String: String] = [:]) throws {
        let errorPath = NSTemporaryDirectory() + "plexlab-stderr-\(UUID().uuidString.prefix(8))"
        guard FileManager.default.createFile(atPath: errorPath, contents: nil),
              let errorFile = FileHandle(forWritingAtPath: errorPath) else { throw CocoaError(.fileWriteUnknown) }
        defer { try? FileManager.default.removeItem(atPath: errorPath) }
        let out = Pipe()
        let process = try Self.process(arguments, in: directory, environment: environment)
        process.standardOutput = out
        process.standardError = errorFile
        try process.run()
        let output = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try errorFile.close()
        status = process.terminationStatus
        stdout = String(decoding: output, as: UTF8.self)
        stderr = (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? ""
    }

    /// stdout as a JSON object.
    func json() throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any])
    }

    /// Starts `plexlab arguments` with piped stdout and stderr, for tests that signal or watch the process.
    static func start(_ arguments: [String], in directory: String? = nil) throws -> (process: Process, stdout: Pipe, stderr: Pipe) {
        let process = try self.process(arguments, in: directory, environment: [:])
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        return (process, out, err)
    }

    /// The built `plexlab`: next to the test bundle or a few directories up.
    static func executable() throws -> URL {
        var directory = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<6 {
            for candidate in [directory.appendingPathComponent("plexlab"), directory.appendingPathComponent("debug/plexlab")]
            where FileManager.default.isExecutableFile(atPath: candidate.path) {
                return candidate
            }
            directory = directory.deletingLastPathComponent()
        }
        throw CocoaError(.fileNoSuchFile)
    }

    /// The process, not started. A GitHub Actions step summary of the test run itself is not inherited.
    private static func process(_ arguments: [String], in directory: String?,
                                environment: [String: String]) throws -> Process {
        let process = Process()
        process.executableURL = try executable()
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        var env = ProcessInfo.processInfo.environment
        env["GITHUB_STEP_SUMMARY"] = nil
        env.merge(environment) { $1 }
        process.environment = env
        return process
    }
}
