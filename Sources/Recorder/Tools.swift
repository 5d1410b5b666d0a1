import Foundation

/// Finds qemu-user and the PlexLab plugin.
public enum Tools {
    /// The plugin's file name as SwiftPM builds the PlexLabQEMUPlugin product.
    public static let pluginFileName = "libPlexLabQEMUPlugin.so"

    /// `name` (qemu-x86_64, qemu-i386) on PATH.
    public static func qemu(_ name: String, environment: [String: String] = ProcessInfo.processInfo.environment)
        throws -> String {
        do {
            return try GuestProgram.locate(name, path: environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin")
        } catch {
            throw RecorderError.qemuMissing(name: name)
        }
    }

    /// The plugin: $PLEXLAB_QEMU_PLUGIN, else next to the running executable (the `plexlab` binary or a
    /// test bundle in .build/<config>/), else one or two directories up (installed layouts).
    public static func plugin(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String {
        try plugin(named: pluginFileName, environmentKey: "PLEXLAB_QEMU_PLUGIN", environment: environment)
    }

    /// A plugin file: $`environmentKey`, else next to the running executable, else one or two directories up.
    static func plugin(named pluginFileName: String, environmentKey: String,
                       environment: [String: String]) throws -> String {
        let files = FileManager.default
        if let explicit = environment[environmentKey], !explicit.isEmpty {
            guard files.fileExists(atPath: explicit) else { throw RecorderError.pluginMissing(name: pluginFileName, searched: [explicit]) }
            return explicit
        }
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var directory = executable.deletingLastPathComponent()
        var searched: [String] = []
        for _ in 0..<3 {
            for candidate in [directory.appendingPathComponent(pluginFileName),
                              directory.appendingPathComponent("lib").appendingPathComponent(pluginFileName)] {
                searched.append(candidate.path)
                if files.fileExists(atPath: candidate.path) { return candidate.path }
            }
            directory = directory.deletingLastPathComponent()
        }
        throw RecorderError.pluginMissing(name: pluginFileName, searched: searched)
    }

    /// "7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)" from the first line of `qemu --version`.
    public static func qemuVersion(_ qemu: String) -> String {
        guard let output = ChildProcess.output(of: qemu, [qemu, "--version"]) else { return "unknown" }
        let firstLine = String(decoding: output, as: UTF8.self).split(separator: "\n").first.map(String.init) ?? ""
        guard let range = firstLine.range(of: "version ") else { return firstLine.isEmpty ? "unknown" : firstLine }
        return String(firstLine[range.upperBound...])
    }
}
