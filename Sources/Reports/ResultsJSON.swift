import CostModel
import Foundation
import Replay
import TraceModel

/// The versioned JSON form of replay results (docs/results-schema.md).
public enum ResultsJSON {
    public static let schema = "plexlab-results/1"

    /// The whole document: schema, the profiles used, and every trace's results.
    /// `topSites` limits the sites and pages listed per strategy (most counts first).
    public static func encode(_ traces: [TraceResults], profiles: [CostProfile], topSites: Int = 20) throws -> String {
        let document: [String: Any] = [
            "schema": schema,
            "profiles": profiles.map { $0.jsonObject() },
            "traces": traces.map { object($0, topSites: topSites) },
        ]
        let data = try JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }

    static func counts(_ counts: [TrapCause: UInt64]) -> [String: Any] {
        Dictionary(uniqueKeysWithValues: counts.map { ($0.key.rawValue, $0.value) })
    }

    static func object(_ trace: TraceResults, topSites: Int) -> [String: Any] {
        let m = trace.metadata
        let metadata: [String: Any] = [
            "program": m.program, "argv": m.argv, "arch": m.arch.rawValue, "recorder": m.recorder,
            "recorder_version": m.recorderVersion, "plexlab_version": m.plexlabVersion, "host": m.host,
            "date": m.date, "exit_status": m.exitStatus.map { $0 as Any } ?? NSNull(),
            "signal": m.signal.map { $0 as Any } ?? NSNull(), "complete": m.complete, "note": m.note,
            "has_data_touches": m.hasDataTouches, "guest_mode": m.guestMode.rawValue,
        ]
        let s = trace.summary
        let summary: [String: Any] = [
            "instructions": s.instructions, "blocks": s.blocks, "distinct_blocks": s.distinctBlocks,
            "code_pages": s.codePages, "threads": s.threads, "chunks": s.chunks, "code_writes": s.codeWrites,
            "data_touches": s.dataTouches, "syscalls": s.syscalls, "seconds": s.seconds,
            "blocks_per_second": s.blocksPerSecond,
        ]
        var summaryObject = summary
        if let system = s.system {
            summaryObject["system"] = [
                "kernel_blocks": system.kernelBlocks, "kernel_instructions": system.kernelInstructions,
                "interrupts": system.interrupts, "exceptions": system.exceptions, "page_faults": system.pageFaults,
                "page_table_stores": system.pageTableStores,
            ] as [String: Any]
        }
        var result: [String: Any] = [
            "path": trace.path, "metadata": metadata, "parameters": trace.parameters.all, "summary": summaryObject,
            "strategies": trace.strategies.map { object($0, topSites: topSites) },
        ]
        if !trace.processes.isEmpty { result["processes"] = trace.processes.map { process($0) } }
        return result
    }

    /// One process of a tree: who it is and each strategy's traps and estimates for it alone.
    static func process(_ p: ProcessResults) -> [String: Any] {
        let process = p.process
        return [
            "id": process.id, "pid": process.pid, "parent": process.parent.map { $0 as Any } ?? NSNull(),
            "origin": process.origin.rawValue, "program": process.program, "argv": process.argv,
            "exit_status": process.exitStatus.map { $0 as Any } ?? NSNull(),
            "signal": process.signal.map { $0 as Any } ?? NSNull(), "note": process.note,
            "instructions": p.summary.instructions, "blocks": p.summary.blocks,
            "strategies": p.strategies.map { result -> [String: Any] in
                var object: [String: Any] = ["name": result.name, "traps": result.traps, "counts": counts(result.counts),
                                             "scanned": result.scanned, "translated": result.translated]
                if let reason = result.unavailable { object["unavailable"] = reason }
                object["estimates"] = result.estimates.map { ["profile": $0.profile, "cycles": $0.cycles, "slowdown": $0.slowdown] }
                return object
            },
        ]
    }

    static func object(_ result: StrategyResult, topSites: Int) -> [String: Any] {
        var object: [String: Any] = [
            "name": result.name, "translator": result.translator.rawValue, "parameters": result.parameters,
            "available": result.unavailable == nil,
            "unavailable": result.unavailable.map { $0 as Any } ?? NSNull(),
            "instructions": result.instructions, "blocks": result.blocks,
        ]
        guard result.unavailable == nil else { return object }
        object["traps"] = result.traps
        object["counts"] = counts(result.counts)
        if !result.kernelCounts.isEmpty { object["kernel_counts"] = counts(result.kernelCounts) }
        object["traps_per_kilo_insn"] = result.trapsPerKiloInstruction
        object["scanned"] = result.scanned
        object["scans"] = result.scans
        object["translated"] = result.translated
        object["translations"] = result.translations
        object["estimates"] = result.estimates.map { ["profile": $0.profile, "cycles": $0.cycles, "slowdown": $0.slowdown] }
        object["sites"] = result.sites.count
        object["top_sites"] = result.sites.prefix(topSites).map {
            ["address": NumberFormat.address($0.address), "total": $0.total, "counts": counts($0.counts)] as [String: Any]
        }
        let pages = result.pages.sorted { a, b in
            let (x, y) = (a.counts.values.reduce(0, &+), b.counts.values.reduce(0, &+))
            return x != y ? x > y : a.page < b.page
        }
        object["pages"] = result.pages.count
        object["top_pages"] = pages.prefix(topSites).map {
            ["page": NumberFormat.address($0.page), "total": $0.counts.values.reduce(0, &+), "counts": counts($0.counts)] as [String: Any]
        }
        return object
    }
}
