import Foundation
import Testing
import CostModel
import TraceModel
@testable import Reports

/// `plexlab report --fidelity`: the fidelity section read from `plexlab fidelity --json` output.
struct FidelitySectionTests {
    /// What `plexlab fidelity --json` prints for a program that calls across a page 3 times (numbers by hand:
    /// sbe call 3 = 3, ret 3 against 4 live; pagefault-nx agrees; slowdowns 12 predicted against 10 measured).
    static let document = """
    {
      "agrees" : false,
      "arguments" : [ "--flag", "<b>" ],
      "program" : "/tmp/loop",
      "rows" : [
        { "cause" : "call", "live" : 3, "matches" : true, "replay" : 3, "strategy" : "sbe" },
        { "cause" : "ret", "live" : 4, "matches" : false, "replay" : 3, "strategy" : "sbe" },
        { "cause" : "jcc", "live" : 0, "matches" : true, "replay" : 0, "strategy" : "sbe" },
        { "cause" : "pf_exec", "live" : 2, "matches" : true, "replay" : 2, "strategy" : "pagefault-nx" }
      ],
      "schema" : "plexlab-fidelity/1",
      "slowdowns" : [
        { "measured" : 10, "predicted" : 12, "profile" : "live", "strategy" : "sbe" },
        { "measured" : 2.5, "predicted" : null, "profile" : "live", "strategy" : "pagefault-nx" }
      ]
    }
    """

    static func parsed() throws -> ReportFidelity { try ReportFidelity.parse(Data(document.utf8), path: "f.json") }

    @Test func parsesTheFidelityJSON() throws {
        let fidelity = try Self.parsed()
        #expect(fidelity.command == "/tmp/loop --flag <b>")
        #expect(fidelity.profile == "live")
        #expect(fidelity.rows.count == 4)
        #expect(fidelity.rows[1] == .init(strategy: "sbe", cause: "ret", replay: 3, live: 4))
        #expect(fidelity.differing == [.init(strategy: "sbe", cause: "ret", replay: 3, live: 4)])
        #expect(fidelity.slowdowns == [.init(strategy: "sbe", predicted: 12, measured: 10),
                                       .init(strategy: "pagefault-nx", predicted: nil, measured: 2.5)])
        #expect(abs(fidelity.slowdowns[0].error! - 0.2) < 1e-12)
        #expect(fidelity.slowdowns[1].error == nil)
    }

    @Test func markdownHasCountsAndSlowdowns() throws {
        var input = Fixture.input
        input.fidelity = [try Self.parsed()]
        let markdown = MarkdownReport.render(input)
        #expect(markdown.contains("## Fidelity: replay against live runs\n"))
        #expect(markdown.contains("### `/tmp/loop --flag <b>`: 1 count(s) differ\n"))
        #expect(markdown.contains("| sbe | call | 3 | 3 | = |\n"))
        #expect(markdown.contains("| sbe | ret | 3 | 4 | +1 (+33.33%) |\n"))
        #expect(!markdown.contains("| sbe | jcc |"), "zero on both sides: left out")
        #expect(markdown.contains("| pagefault-nx | pf\\_exec | 2 | 2 | = |\n"))
        #expect(markdown.contains("| strategy | predicted slowdown (live) | measured slowdown | predicted vs measured |\n"))
        #expect(markdown.contains("| sbe | 12.00x | 10.00x | +20% |\n"))
        #expect(markdown.contains("| pagefault-nx | n/a | 2.50x | n/a |\n"))
        // After the traces, before the footer.
        let section = try #require(markdown.range(of: "## Fidelity"))
        #expect(markdown.range(of: "## calls")!.lowerBound < section.lowerBound)
        #expect(section.upperBound < markdown.range(of: "<sub>PlexLab")!.lowerBound)
    }

    @Test func htmlHasTheSameNumbersEscaped() throws {
        var input = Fixture.input
        input.fidelity = [try Self.parsed()]
        let html = HTMLReport.render(input)
        #expect(html.contains("<h2>Fidelity: replay against live runs</h2>"))
        #expect(html.contains("<h3><code>/tmp/loop --flag &lt;b&gt;</code>: 1 count(s) differ</h3>"))
        #expect(html.contains("<tr><td class=\"s\">sbe</td><td>ret</td><td class=\"n\">3</td><td class=\"n\">4</td><td>+1 (+33.33%)</td></tr>"))
        #expect(html.contains("<tr><td class=\"s\">sbe</td><td class=\"n\">12.00x</td><td class=\"n\">10.00x</td><td class=\"n\">+20%</td></tr>"))
        #expect(!html.contains("--flag <b>"))
    }

    @Test func withoutFidelityThereIsNoSection() {
        #expect(!MarkdownReport.render(Fixture.input).contains("Fidelity"))
        #expect(!HTMLReport.render(Fixture.input).contains("Fidelity"))
    }

    @Test func badFilesAreOneLineErrors() throws {
        func problem(_ text: String) -> String? {
            do { _ = try ReportFidelity.parse(Data(text.utf8), path: "f.json"); return nil } catch { return "\(error)" }
        }
        let suffix = " (expected the output of plexlab fidelity --json)"
        #expect(problem("[]") == "f.json: top level is not a JSON object" + suffix)
        #expect(problem("{\"schema\": \"plexlab-results/1\"}") == "f.json: schema is not \"plexlab-fidelity/1\"" + suffix)
        #expect(problem("{") == "f.json: not valid JSON at line 1, column 2: unexpected end of file, expected a string key" + suffix
                || problem("{")?.hasPrefix("f.json: not valid JSON at line 1, column 2") == true)
        let negative = Self.document.replacingOccurrences(of: "\"live\" : 4", with: "\"live\" : -4")
        #expect(problem(negative) == "f.json: a row's live is not a count" + suffix)
        #expect(throws: ReportError("/nonexistent/f.json: cannot read the fidelity file")) {
            try ReportFidelity.read(path: "/nonexistent/f.json")
        }
    }
}
