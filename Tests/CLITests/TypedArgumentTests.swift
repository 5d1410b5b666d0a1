import Foundation
import Testing

/// Strategy, profile, --param and --threshold are typed values checked in validate(): --help lists the
/// choices, and a typo is one line, exit 2, before any trace is opened (the trace here does not exist).
@Suite struct TypedArgumentTests {
    @Test func aTypoFailsBeforeTheTraceIsOpened() throws {
        let missing = "/nonexistent/t.plextrace"
        let cases: [([String], String)] = [
            (["compare", missing, "--strategies", "sbe,warp"], "unknown strategy \"warp\""),
            (["replay", missing, "--strategy", "sbx"], "unknown strategy \"sbx\""),
            (["replay", missing, "--strategy", "sbe", "--param", "ibtc-size=3"], "parameter ibtc-size=3: must be a power of two"),
            (["compare", missing, "--param", "page-sise=4096"], "unknown parameter \"page-sise\""),
            (["report", missing, "--out", "/nonexistent/r", "--profile", "modren"], "cost profile modren: not a built-in profile"),
            (["report", missing, "--out", "/nonexistent/r", "--top=-1"], "--top must not be negative"),
            (["gate", "--baseline", "/nonexistent/b.json", "--threshold", "cylces=abs:1"], "unknown threshold metric \"cylces\""),
            (["gate", "--baseline", "/nonexistent/b.json", "--threshold", "cycles"], "--threshold \"cycles\" is not METRIC="),
        ]
        for (arguments, message) in cases {
            let run = try PlexlabRun(arguments)
            #expect(run.status == 2, "\(arguments)")
            #expect(run.stderr.hasPrefix("plexlab: error: \(message)"), "\(arguments): \(run.stderr)")
            #expect(run.stderr.hasSuffix(" (see 'plexlab \(arguments[0]) --help')\n"), "\(arguments): \(run.stderr)")
            #expect(run.stderr.split(separator: "\n").count == 1)
        }
    }

    @Test func helpListsTheChoices() throws {
        let replay = try PlexlabRun(["replay", "--help"])
        #expect(replay.status == 0)
        for strategy in ["native", "hw", "sbe", "pagefault-nx", "pagefault-legacy", "dbt-nolink", "dbt-link", "dbt-ibtc", "dbt-qemu"] {
            #expect(replay.stdout.contains("\n        \(strategy) "), "\(strategy)")
        }
        // Help wraps lines: compare with runs of white space as one space.
        func words(_ text: String) -> String { text.split(whereSeparator: \.isWhitespace).joined(separator: " ") }
        #expect(words(replay.stdout).contains("(values: all, pentium3, pentium4, modern; default: modern)"))
        let report = try PlexlabRun(["report", "--help"])
        #expect(words(report.stdout).contains("(values: all, pentium3, pentium4, modern; default: all)"))
    }
}
