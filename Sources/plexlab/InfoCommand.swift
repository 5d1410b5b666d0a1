import ArgumentParser
import TraceStore

/// `plexlab info TRACE`: a trace's metadata and figures.
struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Show a trace's metadata and figures.",
        discussion: """
        With --verify, every chunk is read back (checksums, sizes, decoding) and each bad one is listed; \
        the exit code is then 2 if any is bad. When all are good, what a replay needs beyond them is \
        checked too (no chunk missing from the summary's count, every code page whole, every block's \
        code page present); the first problem is one error line, exit code 2.
        """)

    @Argument(help: "The trace file (.plextrace).")
    var trace: String

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    @Flag(help: "Read every chunk and list the bad ones.")
    var verify = false

    func run() throws {
        let info = try TraceInfo.load(path: trace, verify: verify)
        print(json ? info.json() : info.table())
        try info.checkVerified()
    }
}
