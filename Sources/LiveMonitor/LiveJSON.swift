import Foundation
import Replay
import Reports

/// Live results in the shape of `plexlab replay --json` (docs/results-schema.md), one trace entry for the
/// program, plus a `live` object per strategy and per trace with the measured times.
public enum LiveJSON {
    public static func encode(_ results: LiveResults) throws -> String {
        let data = try JSONSerialization.data(withJSONObject: document(results), options: [.prettyPrinted, .sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }

    static func times(_ times: RunTimes, _ end: RunEnd) -> [String: Any] {
        ["wall_seconds": times.wall, "cpu_seconds": times.cpu, "monitor_cpu_seconds": times.monitorCPU, "end": end.description]
    }

    static func document(_ results: LiveResults) -> [String: Any] {
        let strategies: [[String: Any]] = results.strategies.map { result in
            [
                "name": result.strategy.rawValue, "parameters": ["page-size": "4096"], "available": true,
                "unavailable": NSNull(), "instructions": 0, "blocks": 0, "traps": result.traps,
                "counts": Dictionary(uniqueKeysWithValues: result.counts.map { ($0.key.rawValue, $0.value) }),
                "traps_per_kilo_insn": 0, "scanned": result.scanned, "scans": result.scans, "translated": 0,
                "translations": 0, "estimates": [] as [Any], "sites": 0, "top_sites": [] as [Any], "pages": 0,
                "top_pages": [] as [Any],
                "live": times(result.times, result.end).merging(
                    ["slowdown": results.slowdown(result.strategy) ?? 0,
                     "threads": result.threads.map { Dictionary(uniqueKeysWithValues: $0.map { ($0.key.rawValue, $0.value) }) }]) { a, _ in a },
            ]
        }
        let metadata: [String: Any] = [
            "program": results.program, "argv": [results.program] + results.arguments,
            "arch": results.is32Bit ? "i386" : "x86_64", "recorder": "plexlab live", "recorder_version": "1",
            "plexlab_version": "", "host": ProcessInfo.processInfo.hostName, "date": ISO8601DateFormatter().string(from: Date()),
            "exit_status": results.nativeEnd.exitStatus.map { $0 as Any } ?? NSNull(),
            "signal": results.nativeEnd.signal.map { $0 as Any } ?? NSNull(), "complete": true,
            "note": "live run: counts from the monitor, instructions not counted", "has_data_touches": false,
        ]
        let trace: [String: Any] = [
            "path": results.program, "metadata": metadata, "parameters": ["page-size": "4096"],
            "summary": ["instructions": 0, "blocks": 0, "distinct_blocks": 0, "code_pages": 0,
                        "threads": results.strategies.first?.threads.count ?? 1, "chunks": 0, "code_writes": 0,
                        "data_touches": 0, "syscalls": 0, "seconds": 0, "blocks_per_second": 0],
            "strategies": strategies,
            "live": ["native": times(results.native, results.nativeEnd)],
        ]
        return ["schema": ResultsJSON.schema, "profiles": [] as [Any], "traces": [trace]]
    }
}

extension RunEnd {
    var exitStatus: Int32? { if case .exited(let status) = self { status } else { nil } }
    var signal: Int32? { if case .killed(let signal) = self { signal } else { nil } }
}
