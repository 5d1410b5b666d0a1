import CostModel
import Replay
import TraceModel

/// The versioned JSON form of replay results (docs/results-schema.md).
public enum ResultsJSON {
    public static let schema = "plexlab-results/1"

    /// The whole document: schema, the profiles used, and every trace's results.
    /// `topSites` limits the sites and pages listed per strategy (most counts first).
    public static func encode(_ traces: [TraceResults], profiles: [CostProfile], topSites: Int = 20) throws -> String {
        let document: JSONText = [
            "schema": .string(schema),
            "profiles": .array(profiles.map { $0.jsonObject() }),
            "traces": .array(traces.map { object($0, topSites: topSites) }),
        ]
        return JSONWriter.write(document, style: .indented(escapingSlashes: true))
    }

    static func counts(_ counts: [TrapCause: UInt64]) -> JSONText {
        .object(Dictionary(uniqueKeysWithValues: counts.map { ($0.key.rawValue, JSONText($0.value)) }))
    }

    static func strings(_ words: [String]) -> JSONText { .array(words.map(JSONText.string)) }
    static func strings(_ fields: [String: String]) -> JSONText { .object(fields.mapValues(JSONText.string)) }

    static func object(_ trace: TraceResults, topSites: Int) -> JSONText {
        let m = trace.metadata
        let metadata: JSONText = [
            "program": .string(m.program), "argv": strings(m.argv), "arch": .string(m.arch.rawValue),
            "recorder": .string(m.recorder), "recorder_version": .string(m.recorderVersion),
            "plexlab_version": .string(m.plexlabVersion), "host": .string(m.host), "date": .string(m.date),
            "exit_status": JSONText(m.exitStatus.map(JSONText.init)), "signal": JSONText(m.signal.map(JSONText.init)),
            "complete": .bool(m.complete), "note": .string(m.note), "has_data_touches": .bool(m.hasDataTouches),
        ]
        let s = trace.summary
        let summary: JSONText = [
            "instructions": JSONText(s.instructions), "blocks": JSONText(s.blocks),
            "distinct_blocks": JSONText(s.distinctBlocks), "code_pages": JSONText(s.codePages),
            "threads": JSONText(s.threads), "chunks": JSONText(s.chunks), "code_writes": JSONText(s.codeWrites),
            "data_touches": JSONText(s.dataTouches), "syscalls": JSONText(s.syscalls), "seconds": JSONText(s.seconds),
            "blocks_per_second": JSONText(s.blocksPerSecond),
        ]
        var result: [String: JSONText] = [
            "path": .string(trace.path), "metadata": metadata, "parameters": strings(trace.parameters.all),
            "summary": summary, "strategies": .array(trace.strategies.map { object($0, topSites: topSites) }),
        ]
        if !trace.processes.isEmpty { result["processes"] = .array(trace.processes.map { process($0) }) }
        return .object(result)
    }

    static func estimates(_ result: StrategyResult) -> JSONText {
        .array(result.estimates.map {
            ["profile": .string($0.profile), "cycles": JSONText($0.cycles), "slowdown": JSONText($0.slowdown)]
        })
    }

    /// One process of a tree: who it is and each strategy's traps and estimates for it alone.
    static func process(_ p: ProcessResults) -> JSONText {
        let process = p.process
        return [
            "id": JSONText(process.id), "pid": JSONText(process.pid), "parent": JSONText(process.parent.map(JSONText.init)),
            "origin": .string(process.origin.rawValue), "program": .string(process.program), "argv": strings(process.argv),
            "exit_status": JSONText(process.exitStatus.map(JSONText.init)),
            "signal": JSONText(process.signal.map(JSONText.init)), "note": .string(process.note),
            "instructions": JSONText(p.summary.instructions), "blocks": JSONText(p.summary.blocks),
            "strategies": .array(p.strategies.map { result -> JSONText in
                var object: [String: JSONText] = [
                    "name": .string(result.name), "traps": JSONText(result.traps), "counts": counts(result.counts),
                    "scanned": JSONText(result.scanned), "translated": JSONText(result.translated),
                ]
                if let reason = result.unavailable { object["unavailable"] = .string(reason) }
                object["estimates"] = estimates(result)
                return .object(object)
            }),
        ]
    }

    static func object(_ result: StrategyResult, topSites: Int) -> JSONText {
        var object: [String: JSONText] = [
            "name": .string(result.name), "translator": .string(result.translator.rawValue),
            "parameters": strings(result.parameters), "available": .bool(result.unavailable == nil),
            "unavailable": JSONText(result.unavailable.map(JSONText.string)),
            "instructions": JSONText(result.instructions), "blocks": JSONText(result.blocks),
        ]
        guard result.unavailable == nil else { return .object(object) }
        object["traps"] = JSONText(result.traps)
        object["counts"] = counts(result.counts)
        object["traps_per_kilo_insn"] = JSONText(result.trapsPerKiloInstruction)
        object["scanned"] = JSONText(result.scanned)
        object["scans"] = JSONText(result.scans)
        object["translated"] = JSONText(result.translated)
        object["translations"] = JSONText(result.translations)
        object["estimates"] = estimates(result)
        object["sites"] = JSONText(result.sites.count)
        object["top_sites"] = .array(result.sites.prefix(topSites).map {
            ["address": .string(NumberFormat.address($0.address)), "total": JSONText($0.total), "counts": counts($0.counts)]
        })
        let pages = result.pages.sorted { a, b in
            let (x, y) = (a.counts.values.reduce(0, &+), b.counts.values.reduce(0, &+))
            return x != y ? x > y : a.page < b.page
        }
        object["pages"] = JSONText(result.pages.count)
        object["top_pages"] = .array(pages.prefix(topSites).map {
            ["page": .string(NumberFormat.address($0.page)), "total": JSONText($0.counts.values.reduce(0, &+)),
             "counts": counts($0.counts)]
        })
        return .object(object)
    }
}
