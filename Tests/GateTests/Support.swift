import Foundation
import Gate
import Replay
import TraceImport

/// A temporary folder, removed when the last reference goes.
final class Scratch {
    let directory: String

    init() throws {
        directory = NSTemporaryDirectory() + "gate-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    func path(_ name: String) -> String { directory + "/" + name }

    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        try text.write(toFile: path(name), atomically: true, encoding: .utf8)
        return path(name)
    }
}

/// The worked example of docs/strategies.md as an import file (docs/import-format.md), real x86-64 bytes:
///
///     0x401000: mov ecx, N | call 0x402000 | dec ecx | jnz 0x401005 | mov eax, 60 | xor edi, edi | syscall | hlt
///     0x402000: ret
///
/// Blocks: B0 0x401000 (mov; call), F 0x402000 (ret), B1 0x40100a (dec; jnz), BL 0x401005 (call),
/// BE 0x40100e (mov; xor; syscall). Executed: B0 F B1, (BL F B1) x (N-1), BE.
/// With `dataPage`, B0 also touches that data page (so pagefault-legacy has numbers).
enum LoopTrace {
    static func jsonLines(n: Int, dataPage: String? = nil) -> String {
        precondition(n >= 1 && n < 256)
        let count = String(format: "%02x", n)
        var blocks = ["0x401000", "0x402000", "0x40100a"]
        for _ in 1..<n { blocks += ["0x401005", "0x402000", "0x40100a"] }
        let rest = blocks.dropFirst().map { "\"\($0)\"" }.joined(separator: ",")
        var lines = [
            #"{"type":"meta","arch":"x86_64","program":"/tmp/loop","argv":["loop"],"recorder":"hand","recorder_version":"1"}"#,
            #"{"type":"code","address":"0x401000","bytes":"b9\#(count)000000 e8f60f0000 ffc9 75f7 b83c000000 31ff 0f05 f4"}"#,
            #"{"type":"code","address":"0x402000","bytes":"c3"}"#,
            #"{"type":"exec","thread":0,"blocks":["0x401000"]}"#,
        ]
        if let dataPage { lines.append(#"{"type":"data","thread":0,"page":"\#(dataPage)","reads":1,"writes":0}"#) }
        lines += [
            #"{"type":"exec","thread":0,"blocks":[\#(rest)]}"#,
            #"{"type":"exec","thread":0,"blocks":["0x40100e"]}"#,
            #"{"type":"syscall","thread":0,"number":60}"#,
            #"{"type":"exit","status":0}"#,
        ]
        return lines.joined(separator: "\n") + "\n"
    }

    /// Imports the loop into `scratch` as NAME.plextrace and returns its path.
    static func make(_ name: String, n: Int, dataPage: String? = nil, in scratch: Scratch) throws -> String {
        let input = try scratch.write(name + ".jsonl", jsonLines(n: n, dataPage: dataPage))
        let output = scratch.path(name + ".plextrace")
        _ = try TraceImporter.importFile(at: input, to: output, overwrite: true)
        return output
    }
}

/// One gated number's place: (strategy, profile, metric), as the gate names it.
struct NumberPlace: Hashable, CustomStringConvertible {
    var strategy: String
    var profile: String
    var metric: String
    var description: String { "\(strategy)/\(profile)/\(metric)" }
}

extension TraceMeasurement {
    /// Every number of the entry with its place.
    var places: [(NumberPlace, Double)] {
        var all: [(NumberPlace, Double)] = [(NumberPlace(strategy: "-", profile: "-", metric: "instructions"), Double(instructions))]
        for (name, result) in strategies.sorted(by: { $0.key < $1.key }) where result.unavailable == nil {
            for (cause, count) in result.counts { all.append((NumberPlace(strategy: name, profile: "-", metric: cause.rawValue), Double(count))) }
            all.append((NumberPlace(strategy: name, profile: "-", metric: "scanned"), Double(result.scanned)))
            all.append((NumberPlace(strategy: name, profile: "-", metric: "translated"), Double(result.translated)))
            for estimate in result.estimates {
                all.append((NumberPlace(strategy: name, profile: estimate.profile, metric: "cycles"), estimate.cycles))
                all.append((NumberPlace(strategy: name, profile: estimate.profile, metric: "slowdown"), estimate.slowdown))
            }
        }
        return all
    }

    /// A copy with the number at `place` moved by `delta`.
    func moving(_ place: NumberPlace, by delta: Double) -> TraceMeasurement {
        var copy = self
        if place.metric == "instructions" { copy.instructions = UInt64(Double(instructions) + delta); return copy }
        var result = copy.strategies[place.strategy]!
        switch place.metric {
        case "scanned": result.scanned = UInt64(Double(result.scanned) + delta)
        case "translated": result.translated = UInt64(Double(result.translated) + delta)
        case "cycles": result.estimates[result.estimates.firstIndex { $0.profile == place.profile }!].cycles += delta
        case "slowdown": result.estimates[result.estimates.firstIndex { $0.profile == place.profile }!].slowdown += delta
        default:
            let cause = TrapCause(rawValue: place.metric)!
            result.counts[cause] = UInt64(Double(result.counts[cause]!) + delta)
        }
        copy.strategies[place.strategy] = result
        return copy
    }
}

extension Baseline {
    /// A copy whose first trace has the number at `place` moved by `delta`.
    func moving(_ place: NumberPlace, by delta: Double) -> Baseline {
        var copy = self
        copy.traces[0] = traces[0].moving(place, by: delta)
        return copy
    }
}
