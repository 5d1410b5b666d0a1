import Foundation
import Replay
import Reports
import TraceModel

/// Live results in the shape of `plexlab replay --json` (docs/results-schema.md), one trace entry for the
/// program, plus a `live` object per strategy and per trace with the measured times.
public enum LiveJSON {
    public static func encode(_ results: LiveResults) throws -> String {
        JSONWriter.write(document(results), style: .indented(escapingSlashes: true))
    }

    static func times(_ times: RunTimes, _ end: RunEnd) -> [String: JSONText] {
        ["wall_seconds": JSONText(times.wall), "cpu_seconds": JSONText(times.cpu),
         "monitor_cpu_seconds": JSONText(times.monitorCPU), "end": .string(end.description)]
    }

    static func counts(_ counts: [TrapCause: UInt64]) -> JSONText {
        .object(Dictionary(uniqueKeysWithValues: counts.map { ($0.key.rawValue, JSONText($0.value)) }))
    }

    static func document(_ results: LiveResults) -> JSONText {
        let strategies: [JSONText] = results.strategies.map { result in
            var live = times(result.times, result.end)
            live["slowdown"] = JSONText(results.slowdown(result.strategy) ?? 0)
            live["threads"] = .array(result.threads.map(counts))
            return [
                "name": .string(result.strategy.rawValue), "parameters": ["page-size": "4096"], "available": true,
                "unavailable": nil, "instructions": 0, "blocks": 0, "traps": JSONText(result.traps),
                "counts": counts(result.counts),
                "traps_per_kilo_insn": 0, "scanned": JSONText(result.scanned), "scans": JSONText(result.scans),
                "translated": 0, "translations": 0, "estimates": [], "sites": 0, "top_sites": [], "pages": 0,
                "top_pages": [], "live": .object(live),
            ]
        }
        let metadata: JSONText = [
            "program": .string(results.program), "argv": .array(([results.program] + results.arguments).map(JSONText.string)),
            "arch": results.is32Bit ? "i386" : "x86_64", "recorder": "plexlab live", "recorder_version": "1",
            "plexlab_version": "", "host": .string(ProcessInfo.processInfo.hostName),
            "date": .string(ISO8601DateFormatter().string(from: Date())),
            "exit_status": JSONText(results.nativeEnd.exitStatus.map(JSONText.init)),
            "signal": JSONText(results.nativeEnd.signal.map(JSONText.init)), "complete": true,
            "note": "live run: counts from the monitor, instructions not counted", "has_data_touches": false,
        ]
        let trace: JSONText = [
            "path": .string(results.program), "metadata": metadata, "parameters": ["page-size": "4096"],
            "summary": ["instructions": 0, "blocks": 0, "distinct_blocks": 0, "code_pages": 0,
                        "threads": JSONText(results.strategies.first?.threads.count ?? 1), "chunks": 0, "code_writes": 0,
                        "data_touches": 0, "syscalls": 0, "seconds": 0, "blocks_per_second": 0],
            "strategies": .array(strategies),
            "live": ["native": .object(times(results.native, results.nativeEnd))],
        ]
        return ["schema": .string(ResultsJSON.schema), "profiles": [], "traces": [trace]]
    }
}

extension RunEnd {
    var exitStatus: Int32? { if case .exited(let status) = self { status } else { nil } }
    var signal: Int32? { if case .killed(let signal) = self { signal } else { nil } }
}
