import Foundation
import Testing
import CostModel
import Replay
import TraceModel
@testable import Reports

/// The published-measurements section: which traces each figure is compared on, and the ratios.
@Suite struct ReproductionsTests {
    static func trace(_ name: String, _ slowdowns: [String: [String: Double]]) -> ReportTrace {
        let metadata = TraceMetadata(program: name, argv: [name], arch: .i386, recorder: "test", recorderVersion: "1",
                                     host: "test", date: "2026-01-01T00:00:00Z", complete: true)
        let strategies = slowdowns.keys.sorted().map { strategy in
            StrategyResult(name: strategy, counts: [:],
                           estimates: slowdowns[strategy]!.map { CostEstimate(profile: $0.key, cycles: $0.value, slowdown: $0.value) })
        }
        return ReportTrace(name: name, path: "Traces/\(name).plextrace", metadata: metadata,
                           summary: ReplaySummary(instructions: 1, blocks: 1, distinctBlocks: 1, codePages: 1, threads: 1,
                                                  codeWrites: 0, syscalls: 0, dataTouches: 0),
                           strategies: strategies)
    }

    @Test func rowsFollowTheFiguresAndTheirShapes() throws {
        let traces = [
            Self.trace("micro-xpage-bounce-32", ["dbt-nolink": ["pentium3": 80], "dbt-link": ["pentium3": 4.75]]),
            Self.trace("micro-jit-32", ["dbt-nolink": ["pentium4": 1000]]),  // a micro workload of no figure's shape
            Self.trace("gzip", ["dbt-nolink": ["pentium4": 20], "dbt-link": ["pentium4": 2], "dbt-ibtc": ["pentium4": 1.5]]),
            Self.trace("sort", ["dbt-nolink": ["pentium4": 80], "dbt-link": ["pentium4": 8], "dbt-ibtc": ["pentium4": 6]]),
        ]
        let rows = Reproductions.rows(traces)
        #expect(rows.map(\.workload) == ["micro-xpage-bounce-32", "micro-xpage-bounce-32", "micro-xpage-bounce-32",
                                         "geometric mean of 2 real programs (20.00x-80.00x)",
                                         "geometric mean of 2 real programs (2.00x-8.00x)",
                                         "geometric mean of 2 real programs (1.50x-6.00x)"])
        // The testbed: 54.68 s, 46.90 s and 5.22 s over 0.72 s native.
        #expect(rows[0].ratio == 80 / (54.68 / 0.72) && rows[0].agrees == true)
        #expect(rows[1].ratio == 80 / (46.90 / 0.72))
        #expect(rows[2].predicted == 4.75 && rows[2].ratio == 4.75 / (5.22 / 0.72))
        // Bruening: geometric means sqrt(20 * 80) = 40 against 25, sqrt(2 * 8) = 4 against 3; no figure for the IBTC rung.
        #expect(abs(rows[3].predicted - 40) < 1e-9 && abs(rows[3].ratio! - 1.6) < 1e-9)
        #expect(abs(rows[4].predicted - 4) < 1e-9)
        #expect(rows[5].ratio == nil && rows[5].agrees == nil)

        let text = Reproductions.markdown(rows)
        #expect(text.hasPrefix("<!-- reproductions:begin -->\n## Published measurements"))
        #expect(text.hasSuffix("<!-- reproductions:end -->\n\n"))
        #expect(!text.contains("beyond 2x"))
        // A profile the report does not show, or no trace of the shape: no rows, no section.
        #expect(Reproductions.rows([Self.trace("micro-xpage-bounce-64", ["dbt-nolink": ["modern": 9]])]).isEmpty)
        #expect(Reproductions.markdown([]).isEmpty)
    }

    @Test func aRowBeyondTwiceThePublishedFigureIsMarked() {
        let rows = Reproductions.rows([Self.trace("micro-xpage-bounce-64", ["dbt-link": ["pentium3": 1.009]])])
        #expect(rows.count == 1 && rows[0].agrees == false)
        #expect(Reproductions.markdown(rows).contains("| 0.14 (beyond 2x) |"))
        #expect(HTMLReport.reproductions(rows).contains("<td class=\"n\">0.14 (beyond 2x)</td>"))
        #expect(HTMLReport.reproductions([]).isEmpty)
    }

    /// HQEMU's QEMU figures: the programs that compute in one process, by name, under `modern`.
    @Test func qemuRowsAreTheNamedProgramsUnderModern() {
        let traces = [
            Self.trace("gzip", ["dbt-qemu": ["modern": 4, "pentium4": 100]]),
            Self.trace("gcc-driver", ["dbt-qemu": ["modern": 100]]),  // spawns processes: not of SPEC's shape
            Self.trace("micro-jit-32", ["dbt-qemu": ["modern": 100]]),
            Self.trace("lua", ["dbt-qemu": ["pentium4": 100]]),  // no modern estimate: left out
            Self.trace("sqlite3", ["dbt-qemu": ["modern": 9]]),
        ]
        let rows = Reproductions.rows(traces)
        #expect(rows.map(\.figure.published) == [6, 8.4])
        #expect(rows.allSatisfy { $0.figure.strategy == "dbt-qemu" && $0.figure.profile == "modern" })
        // sqrt(4 * 9) = 6: exactly the integer figure, 6 / 8.4 of the floating-point one.
        #expect(rows.map(\.workload) == ["geometric mean of gzip, sqlite3 (4.00x-9.00x)",
                                         "geometric mean of gzip, sqlite3 (4.00x-9.00x)"])
        #expect(abs(rows[0].predicted - 6) < 1e-9 && abs(rows[0].ratio! - 1) < 1e-9)
        #expect(abs(rows[1].ratio! - 6 / 8.4) < 1e-9 && rows[1].agrees == true)
        #expect(Reproductions.markdown(rows).contains("| 8.40x | geometric mean of gzip, sqlite3 (4.00x-9.00x) | dbt-qemu | modern | 6.00x | 0.71 |"))

        // 13 against 6 and 8.4: beyond 2x for the integer figure (2.17), within for floating point (1.55).
        let far = Reproductions.rows([Self.trace("xz", ["dbt-qemu": ["modern": 13]])])
        #expect(far.map(\.agrees) == [false, true])
        #expect(Reproductions.markdown(far).contains("| 13.00x | 2.17 (beyond 2x) |"))
        #expect(Reproductions.rows([Self.trace("gcc-tree", ["dbt-qemu": ["modern": 8]])]).isEmpty)
    }
}
