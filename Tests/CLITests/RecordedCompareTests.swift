import Foundation
import Testing
import TraceModel
import TraceStore

/// End to end on a real program: `plexlab record` a python3 run through the built binary, then check that
/// `compare --json`, `replay --strategy S --json` (one strategy at a time), the compare table and `info`
/// all tell the same story about that trace (issue 4, "Done when").
@Suite(.serialized) struct RecordedCompareTests {
    /// Every strategy, in the order `--strategies all` lists them (docs/results-schema.md).
    static let strategies = ["native", "hw", "hw-shadow", "hw-ept", "sbe", "pagefault-nx", "pagefault-legacy", "dbt-nolink", "dbt-link", "dbt-ibtc", "dbt-qemu"]

    @Test func compareReplayTableAndInfoAgreeOnARecordedPython3Run() throws {
        let directory = NSTemporaryDirectory() + "plexlab-recorded-compare-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let trace = directory + "/python3.plextrace"

        // python3's start-up, bounded so that the debug-build replays stay quick, with data pages so that
        // pagefault-legacy has numbers too.
        let limit = 500_000
        let recorded = try PlexlabRun(["record", "--out", trace, "--data-pages", "--max-insns", "\(limit)", "--",
                                       "/usr/bin/python3", "-c", "pass"])
        #expect(recorded.status == 0, "\(recorded.stderr)")
        let truth = try TraceFacts(path: trace)
        #expect(truth.metadata.complete)
        #expect(truth.metadata.note.contains("--max-insns \(limit)"))
        #expect(truth.metadata.argv == ["/usr/bin/python3", "-c", "pass"])
        #expect(truth.metadata.hasDataTouches)
        // The plugin's count includes every iteration of a rep string instruction, the trace counts it once,
        // so the trace holds somewhat fewer than `limit` (about 2% fewer here).
        #expect(truth.instructions <= limit && truth.instructions > limit * 9 / 10, "\(truth.instructions) instructions")
        #expect(truth.blocks > 10_000 && truth.syscalls > 10 && truth.dataTouches > 0)

        // compare, all strategies at once.
        let compared = try PlexlabRun(["compare", trace, "--strategies", "all", "--json"])
        #expect(compared.status == 0, "\(compared.stderr)")
        let compareTrace = try #require(try compared.json()["traces"] as? [[String: Any]]).first ?? [:]
        #expect(compareTrace["path"] as? String == trace)
        let all = try #require(compareTrace["strategies"] as? [[String: Any]])
        #expect(all.map { $0["name"] as? String } == Self.strategies)
        #expect(all.allSatisfy { $0["available"] as? Bool == true })

        // The summary is the trace itself.
        let summary = try #require(compareTrace["summary"] as? [String: Any])
        #expect(summary["instructions"] as? Int == truth.instructions)
        #expect(summary["blocks"] as? Int == truth.blocks)
        #expect(summary["distinct_blocks"] as? Int == truth.definitions)
        #expect(summary["threads"] as? Int == truth.threads.count)
        #expect(summary["chunks"] as? Int == truth.chunks)
        #expect(summary["syscalls"] as? Int == truth.syscalls)
        #expect(summary["code_writes"] as? Int == truth.codeWrites)
        #expect(summary["data_touches"] as? Int == truth.dataTouches)
        #expect(summary["code_pages"] as? Int == truth.blockPages.count)

        // Each strategy alone gives the very same object (everything in it is deterministic).
        for strategy in all {
            let name = try #require(strategy["name"] as? String)
            let alone = try PlexlabRun(["replay", trace, "--strategy", name, "--json"])
            #expect(alone.status == 0, "\(name): \(alone.stderr)")
            let traces = try #require(try alone.json()["traces"] as? [[String: Any]])
            let single = try #require(traces.first?["strategies"] as? [[String: Any]])
            #expect(single.count == 1)
            #expect(try canonical(single.first ?? [:]) == canonical(strategy), "\(name) differs from compare")
            // traps is the sum of the monitor-entry causes (docs/strategies.md section 4).
            let counts = try #require(strategy["counts"] as? [String: Int])
            let nonTraps: Set = ["link", "ibtc_hit", "ras_hit", "tb_lookup", "flush", "escapes"]
            #expect(strategy["traps"] as? Int == counts.filter { !nonTraps.contains($0.key) }.values.reduce(0, +),
                    "\(name)")
            #expect(strategy["instructions"] as? Int == truth.instructions)
        }
        // A few relations that must hold on any trace (docs/strategies.md section 3).
        let byName = Dictionary(uniqueKeysWithValues: all.map { ($0["name"] as! String, $0) })
        func count(_ strategy: String, _ cause: String) -> Int? { (byName[strategy]?["counts"] as? [String: Int])?[cause] }
        #expect(byName["native"]?["traps"] as? Int == 0)
        // dbt-nolink: every thread enters once from the dispatcher and every exit but a thread's last goes
        // back to it; a last exit counts only through a syscall or far instruction (docs/strategies.md).
        let nolinkEntries = ["dispatch", "dispatch_syscall", "dispatch_far"].compactMap { count("dbt-nolink", $0) }.reduce(0, +)
        let endingExits = truth.lastExits.values.filter { $0 == .syscall || $0 == .far }.count
        #expect(nolinkEntries == truth.blocks + endingExits)
        // pagefault-legacy (not-present) is pagefault-nx plus pf_data: data touches change no page's state.
        for cause in ["pf_exec", "int3_fill", "syscall", "far", "sensitive", "page_cross", "pf_write"] {
            #expect(count("pagefault-legacy", cause) == count("pagefault-nx", cause), "\(cause)")
        }

        // The table prints the same numbers as the JSON.
        let table = try PlexlabRun(["compare", trace, "--strategies", "all", "--profile", "pentium3"])
        #expect(table.status == 0, "\(table.stderr)")
        let rows = table.stdout.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        // The summary table, then "counts by cause:" and a table with one column per cause that occurs.
        let causesAt = try #require(rows.firstIndex(of: ["counts", "by", "cause:"]))
        let causeRows = rows[(causesAt + 1)...]
        let causeHeader = try #require(causeRows.first)
        #expect(causeHeader.first == "strategy")
        for strategy in all {
            let name = strategy["name"] as! String
            let estimate = (strategy["estimates"] as? [[String: Any]])?.first { $0["profile"] as? String == "pentium3" }
            let cycles = try #require(estimate?["cycles"] as? Double), slowdown = try #require(estimate?["slowdown"] as? Double)
            let expected = [name, "\(strategy["traps"] as! Int)",
                            String(format: "%.3f", strategy["traps_per_kilo_insn"] as! Double),
                            "\(strategy["scanned"] as! Int)", "\(strategy["translated"] as! Int)",
                            String(format: "%.0f", cycles), String(format: "%.3fx", slowdown)]
            #expect(rows[..<causesAt].contains(expected), "summary row of \(name)")
            let counts = try #require(strategy["counts"] as? [String: Int])
            let causeRow = try #require(causeRows.first { $0.first == name })
            #expect(causeRow.count == causeHeader.count)
            for (cause, cell) in zip(causeHeader.dropFirst(), causeRow.dropFirst()) {
                #expect(cell == counts[cause].map { "\($0)" } ?? "-", "\(name) \(cause)")
            }
            // Causes left out of the table are zero for every strategy.
            #expect(counts.filter { !causeHeader.contains($0.key) }.values.allSatisfy { $0 == 0 }, "\(name)")
        }

        // info: its figures are those of the trace, in JSON and in the table.
        let info = try PlexlabRun(["info", trace, "--json"])
        #expect(info.status == 0, "\(info.stderr)")
        let figures = try #require(try info.json()["summary"] as? [String: Any])
        let expectedFigures: [String: Int] = [
            "instructions": truth.instructions, "blocksExecuted": truth.blocks,
            "distinctBlocks": truth.definitions, "codePages": Set(truth.pageVersions.map(\.address)).count,
            "codePageVersions": truth.pageVersions.count, "codeWrites": truth.codeWrites,
            "syscalls": truth.syscalls, "dataTouches": truth.dataTouches, "threads": truth.threads.count,
            "chunks": truth.chunks,
            "fileBytes": try FileManager.default.attributesOfItem(atPath: trace)[.size] as? Int ?? -1,
        ]
        for (key, value) in expectedFigures { #expect(figures[key] as? Int == value, "info \(key)") }
        let infoTable = try PlexlabRun(["info", trace])
        #expect(infoTable.status == 0)
        let lines = Set(infoTable.stdout.split(separator: "\n").map { $0.split(separator: " ").joined(separator: " ") })
        for (label, value) in [("instructions", truth.instructions), ("blocks executed", truth.blocks),
                               ("distinct blocks", truth.definitions), ("syscalls", truth.syscalls),
                               ("data touches", truth.dataTouches), ("threads", truth.threads.count)] {
            #expect(lines.contains("\(label) \(value)"), "info table \(label)")
        }
    }
}

/// What the trace holds, counted straight from TraceReader (not from any summary).
private struct TraceFacts {
    var metadata: TraceMetadata
    var definitions: Int
    var pageVersions: [CodePage]
    /// 4 KiB pages holding the start of some block.
    var blockPages: Set<UInt64>
    var instructions = 0
    var blocks = 0
    var chunks = 0
    var threads: Set<UInt32> = []
    /// Exit kind of each thread's last executed block.
    var lastExits: [UInt32: ExitKind] = [:]
    var syscalls = 0
    var codeWrites = 0
    var dataTouches = 0

    init(path: String) throws {
        let reader = try TraceReader(path: path)
        metadata = reader.metadata
        let definitions = try reader.blockDefinitions()
        self.definitions = definitions.count
        pageVersions = try reader.codePages()
        blockPages = Set(definitions.map { $0.address & ~UInt64(CodePage.size - 1) })
        var facts = self
        try reader.forEachChunk { chunk in
            facts.chunks += 1
            facts.threads.insert(chunk.thread)
            facts.blocks += chunk.blocks.count
            for block in chunk.blocks { facts.instructions += Int(definitions[Int(block)].instructionCount) }
            if let last = chunk.blocks.last { facts.lastExits[chunk.thread] = definitions[Int(last)].exitKind }
            facts.syscalls += chunk.syscalls.count
            facts.codeWrites += chunk.codeWrites.count
            facts.dataTouches += chunk.dataTouches.count
        }
        self = facts
    }
}

/// A JSON value as canonical text (sorted keys), to compare whole objects.
private func canonical(_ value: Any) throws -> String {
    String(decoding: try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys]), as: UTF8.self)
}
