import Foundation
import Testing
import TraceImport
import TraceModel
import TraceStore

/// Issue 16, item 5: strings from a trace (program, argv) and paths reach the terminal, report.html,
/// report.md and the gate's Markdown escaped for each medium, never as control sequences or markup.
@Suite struct InjectionTests {
    /// OSC "set window title" ended by BEL, a C1 CSI (U+009B), a clear-screen and a Markdown/HTML payload.
    static let program = "/bin/\u{1B}]0;pwned\u{07}x\u{9B}31m"
    static let argument = "a\n# injected <script>alert(1)</script>\u{1B}[2J"

    /// An imported trace of `rounds` times blocks A and B (replayable), whose meta record holds `program`
    /// and `argv` (JSON-encoded, so any control character fits).
    private func importTrace(_ path: String, program: String = program, argv: [String] = ["x", argument],
                             rounds: Int = 1, scratch: Scratch) throws {
        let meta = "{\"type\":\"meta\",\"arch\":\"x86_64\",\"program\":\(try String(decoding: JSONEncoder().encode(program), as: UTF8.self)),"
            + "\"argv\":\(try String(decoding: JSONEncoder().encode(argv), as: UTF8.self)),\"data_touches\":false}"
        let blocks = Array(repeating: "\"0x401000\",\"0x401005\"", count: rounds).joined(separator: ",")
        let text = meta + "\n{\"type\":\"code\",\"address\":\"0x401000\",\"bytes\":\"ffc0 eb01 90 90 90 ebf7\"}\n"
            + "{\"type\":\"exec\",\"thread\":0,\"blocks\":[\(blocks)]}\n"
        let input = scratch.path("in-\(UUID().uuidString.prefix(6)).jsonl")
        try Data(text.utf8).write(to: URL(fileURLWithPath: input))
        _ = try TraceImporter.importFile(at: input, to: path, overwrite: true)
    }

    /// No raw control character but newline (and tab) in `text`.
    private func expectNoControls(_ text: String, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let raw = text.unicodeScalars.filter { ($0.value < 0x20 && $0 != "\n" && $0 != "\t") || (0x7f...0x9f).contains($0.value) }
        #expect(raw.isEmpty, "\(what) holds raw control characters \(raw.map { String($0.value, radix: 16) })",
                sourceLocation: sourceLocation)
    }

    @Test func terminalEscapeShowsEveryControlCharacter() {
        #expect(Escape.terminal("plain/path ü.plextrace") == "plain/path ü.plextrace")
        #expect(Escape.terminal("a\u{1B}[2J\u{07}\n\t\r\u{7F}\u{9B}\u{202E}z") == "a\\x1b[2J\\x07\\n\\t\\r\\x7f\\u{9b}\\u{202e}z")
        #expect(Escape.html("<b>\u{1B}&") == "&lt;b&gt;\\x1b&amp;")
        #expect(Escape.markdown("x\n# h |`<i>`") == "x\\\\n\\# h &#124;\\`&lt;i&gt;\\`")
    }

    @Test func compareReplayAndInfoPrintTheTracesStringsEscaped() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let trace = scratch.path("hostile.plextrace")
        try importTrace(trace, scratch: scratch)
        for arguments in [["compare", trace, "--strategies", "sbe,native"], ["replay", trace, "--strategy", "sbe"], ["info", trace]] {
            let run = try plexlab(arguments, scratch: scratch)
            #expect(run.status == 0, "\(arguments): \(run.stderr)")
            expectNoControls(run.stdout, arguments[0])
            #expect(run.stdout.contains("\\x1b]0;pwned\\x07x\\u{9b}31m"), "\(run.stdout)")
            #expect(run.stdout.contains("a\\n# injected <script>"), "\(run.stdout)")
            #expect(!run.stdout.split(separator: "\n").contains { $0.hasPrefix("# injected") })
        }
    }

    @Test func reportFilesCarryNoRawControlsOrMarkup() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let trace = scratch.path("hostile.plextrace")
        try importTrace(trace, scratch: scratch)
        let out = scratch.path("report")
        let run = try plexlab(["report", trace, "--out", out, "--profile", "modern"], scratch: scratch)
        #expect(run.status == 0, "\(run.stderr)")
        let html = try String(contentsOfFile: out + "/report.html", encoding: .utf8)
        expectNoControls(html, "report.html")
        #expect(!html.contains("<script>"))
        #expect(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;\\x1b[2J"))
        let markdown = try String(contentsOfFile: out + "/report.md", encoding: .utf8)
        expectNoControls(markdown, "report.md")
        #expect(!markdown.contains("<script>"))
        #expect(!markdown.split(separator: "\n").contains { $0.hasPrefix("# injected") })
    }

    @Test func gateMarkdownAndTextEscapeATracePathWithANewline() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let folder = scratch.path("x\n## injected <img src=x onerror=alert(1)> | `code`\u{1B}[2J")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
        let trace = folder + "/t.plextrace"
        try importTrace(trace, program: "/tmp/two", argv: ["two"], scratch: scratch)
        let baseline = scratch.path("baseline.json")
        #expect(try plexlab(["gate", "--baseline", baseline, "--update", trace], scratch: scratch).status == 0)
        // One more block than the baseline holds: a regression row naming the trace.
        try importTrace(trace, program: "/tmp/two", argv: ["two"], rounds: 2, scratch: scratch)
        let summary = scratch.path("gate.md")
        let run = try plexlab(["gate", "--baseline", baseline, "--markdown", summary, trace], scratch: scratch)
        #expect(run.status == 1, "\(run.stderr)")
        expectNoControls(run.stdout, "gate text")
        #expect(!run.stdout.split(separator: "\n").contains { $0.hasPrefix("## injected") })
        let markdown = try String(contentsOfFile: summary, encoding: .utf8)
        expectNoControls(markdown, "gate markdown")
        let lines = markdown.split(separator: "\n")
        #expect(lines.filter { $0.hasPrefix("#") }.allSatisfy { $0.hasPrefix("## PlexLab gate") || $0.hasPrefix("### ") }, "\(markdown)")
        #expect(!markdown.contains("<img"))
        #expect(!markdown.contains("`code`"))
        // Every table row still has its 9 cells: the `|` in the path did not open a new one.
        for row in lines where row.hasPrefix("| ") && row.contains("t.plextrace") {
            #expect(row.components(separatedBy: " | ").count == 9, "\(row)")
        }
    }

    @Test func errorLinesEscapeThePathTheyEcho() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let path = scratch.path("missing\u{1B}[2J\u{07}\n.plextrace")
        let run = try plexlab(["info", path], scratch: scratch)
        expectCleanError(run, contains: "missing\\x1b[2J\\x07\\n.plextrace is not a PlexLab trace (no such file)")
        expectNoControls(run.stderr, "stderr")
    }
}
