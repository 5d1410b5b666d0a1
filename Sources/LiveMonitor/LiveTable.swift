import Foundation
import Replay

/// The text table of `plexlab live`.
public enum LiveTable {
    public static func render(_ results: LiveResults) -> String {
        var out = "\(results.program) \(results.arguments.joined(separator: " ")) (\(results.is32Bit ? "i386" : "x86_64"))\n"
        out += String(format: "native: %.3f s wall, %.3f s CPU, %@\n", results.native.wall, results.native.cpu,
                      results.nativeEnd.description)
        for result in results.strategies {
            out += String(format: "\n%@: %llu traps, %.3f s wall (%.2fx native), %.3f s CPU program + %.3f s monitor, %@\n",
                          result.strategy.rawValue, result.traps, result.times.wall, results.slowdown(result.strategy) ?? 0,
                          result.times.cpu, result.times.monitorCPU, result.end.description)
            for cause in result.strategy.causes {
                out += "  \(cause.rawValue.padding(toLength: 12, withPad: " ", startingAt: 0)) \(result[cause])\n"
            }
            out += "  scans \(result.scans), scanned \(result.scanned) instructions\n"
        }
        return out
    }
}
