// replay-bench: makes benchmark traces and measures replay throughput against plain decompression.
// Run by scripts/bench-replay.sh; see Reports/replay-bench.md.
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
import Foundation
import Replay
import TraceModel
import TraceStore

struct BenchError: Error, CustomStringConvertible { var description: String }

let usage = """
    usage: replay-bench synthetic OUT [--blocks N] [--functions F] [--seed S] [--chunk-blocks C] [--codec raw|predictive|predictiveFast]
           replay-bench worked-jsonl OUT --n N        (the worked example of docs/strategies.md, for plexlab import)
           replay-bench measure [--repeat R] TRACE...  (markdown tables on standard output)
           replay-bench counts [--param k=v]... TRACE... (every count, site and page, for diffing)
           replay-bench once [--times N] TRACE floor|STRATEGY[,STRATEGY...]|all   (N runs, default 1, for profilers)
    """

/// CPU seconds used by this process so far (the machine is shared: wall time would count other helpers).
func cpuSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

func option(_ arguments: inout [String], _ name: String) -> String? {
    guard let at = arguments.firstIndex(of: name), at + 1 < arguments.count else { return nil }
    let value = arguments[at + 1]
    arguments.removeSubrange(at...at + 1)
    return value
}

/// The worked example as import JSON Lines: B0 F B1 (BL F B1)^(N-1) BE, 3N+1 blocks.
func writeWorkedExample(to path: String, n: Int) throws {
    guard FileManager.default.createFile(atPath: path, contents: nil), let file = FileHandle(forWritingAtPath: path) else {
        throw BenchError(description: "cannot create \(path)")
    }
    defer { try? file.close() }
    let nBytes = withUnsafeBytes(of: UInt32(n).littleEndian) { $0.map { String(format: "%02x", $0) }.joined() }
    var text = """
        {"type":"meta","arch":"x86_64","program":"/tmp/loop","argv":["loop","\(n)"],"recorder":"replay-bench","recorder_version":"1","data_touches":false}
        {"type":"code","address":"0x401000","bytes":"b9\(nBytes) e8f60f0000 ffc9 75f7 b83c000000 31ff 0f05 f4"}
        {"type":"code","address":"0x402000","bytes":"c3"}
        {"type":"exec","thread":0,"blocks":["0x401000","0x402000","0x40100a"]}

        """
    let group = "\"0x401005\",\"0x402000\",\"0x40100a\""
    let perLine = 1000
    var left = n - 1
    while left > 0 {
        let count = min(left, perLine)
        text += "{\"type\":\"exec\",\"thread\":0,\"blocks\":[" + repeatElement(group, count: count).joined(separator: ",") + "]}\n"
        left -= count
        if text.utf8.count > 1 << 22 {
            file.write(Data(text.utf8))
            text = ""
        }
    }
    text += "{\"type\":\"exec\",\"thread\":0,\"blocks\":[\"0x40100e\"]}\n{\"type\":\"syscall\",\"thread\":0,\"number\":60}\n{\"type\":\"exit\",\"status\":0}\n"
    file.write(Data(text.utf8))
}

/// A trace file whose chunk loop is timed in two parts: reading and decompressing each chunk, and what
/// the engine and its strategies do with it. Setup (open, definitions, block table) and the end of the
/// replay (finish, summaries) fall outside both.
final class TimedTrace: ReplaySource {
    let reader: TraceReader
    private(set) var decompressing = 0.0
    private(set) var replaying = 0.0

    init(path: String) throws { reader = try TraceReader(path: path) }

    var metadata: TraceMetadata { reader.metadata }
    func blockDefinitions(includingBytes: Bool) throws -> [BlockDefinition] {
        try reader.blockDefinitions(includingBytes: includingBytes)
    }
    func codePages() throws -> [CodePage] { try reader.codePages() }
    func forEachChunk(dataTouches: Bool, _ body: (StreamChunk) throws -> Void) throws {
        var mark = cpuSeconds()
        try reader.forEachChunk(dataTouches: dataTouches) { chunk in
            let decoded = cpuSeconds()
            decompressing += decoded - mark
            try body(chunk)
            mark = cpuSeconds()
            replaying += mark - decoded
        }
    }
}

/// One measured thing: plain decompression, one strategy, or all strategies together.
struct Measurement {
    var label: String
    /// `nil`: decompression only; else the strategies replayed.
    var strategies: [String]?
    /// Best of the repeats: the chunk loop (decompression plus replay) and the whole run.
    var stream = Double.infinity
    var whole = Double.infinity
    var blocks: UInt64 = 0
}

/// One line of the summary: a trace's floor and all strategies together.
struct TraceFigures {
    var name: String
    var blocks: UInt64
    var distinct: UInt64
    var floor: Measurement
    var all: Measurement
}

func rate(_ blocks: UInt64, _ seconds: Double) -> String { String(format: "%.1f", Double(blocks) / seconds / 1e6) }

func measure(_ paths: [String], repeats: Int) throws -> (details: String, figures: [TraceFigures]) {
    var out = ""
    var figures: [TraceFigures] = []
    for path in paths {
        let reader = try TraceReader(path: path)
        let summary = try reader.summary()
        let hasDataTouches = reader.metadata.hasDataTouches
        let names = StrategyRegistry.names.filter { hasDataTouches || $0 != "pagefault-legacy" }
        var items = [Measurement(label: "decompression only (floor)", strategies: nil)]
            + names.map { Measurement(label: $0, strategies: [$0]) }
            + [Measurement(label: "all strategies together", strategies: ["all"])]
        // Interleaved repeats, best CPU time of each: the figures are measured side by side.
        for _ in 0..<repeats {
            for index in items.indices {
                let start = cpuSeconds()
                let trace = try TimedTrace(path: path)
                var blocks: UInt64 = 0
                if let strategies = items[index].strategies {
                    blocks = try ReplayEngine.run(source: trace, path: path, strategies: strategies).summary.blocks
                } else {
                    // As the engine does: definitions first (the reader keeps them for its chunk decoder).
                    _ = try trace.blockDefinitions(includingBytes: false)
                    try trace.forEachChunk(dataTouches: true) { blocks &+= UInt64($0.blocks.count) }
                }
                items[index].whole = min(items[index].whole, cpuSeconds() - start)
                items[index].stream = min(items[index].stream, trace.decompressing + trace.replaying)
                items[index].blocks = blocks
            }
        }
        let floor = items[0].stream
        let name = URL(fileURLWithPath: path).lastPathComponent
        out += "### \(name)\n\n"
        out += "`\(([reader.metadata.program] + reader.metadata.argv.dropFirst()).joined(separator: " "))`: "
        out += "\(summary.blocksExecuted) blocks executed (\(summary.distinctBlocks) distinct), "
        out += "\(summary.instructions) instructions, \(summary.codePages) code pages, \(summary.threads) thread(s), "
        out += "\(summary.codeWrites) code writes, \(summary.dataTouches) data touches.\n\n"
        out += "| replay | chunk loop CPU s | M blocks/s | loop / floor | whole run CPU s | M blocks/s (whole) |\n"
        out += "| --- | ---: | ---: | ---: | ---: | ---: |\n"
        for item in items {
            out += "| \(item.label) | \(String(format: "%.4f", item.stream)) | \(rate(item.blocks, item.stream)) | "
            out += "\(String(format: "%.2f", item.stream / floor)) | \(String(format: "%.4f", item.whole)) | \(rate(item.blocks, item.whole)) |\n"
        }
        out += "\n"
        figures.append(TraceFigures(name: name, blocks: summary.blocksExecuted, distinct: summary.distinctBlocks,
                                    floor: items[0], all: items[items.count - 1]))
    }
    return (out, figures)
}

/// The per-workload table: all strategies together against the floor.
func summaryTable(_ figures: [TraceFigures]) -> String {
    var out = "| trace | blocks | distinct | floor M blocks/s | all strategies M blocks/s | all / floor (time) | all, whole run M blocks/s |\n"
    out += "| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n"
    for f in figures {
        out += "| \(f.name) | \(f.blocks) | \(f.distinct) | \(rate(f.blocks, f.floor.stream)) | \(rate(f.blocks, f.all.stream)) | "
        out += "\(String(format: "%.2f", f.all.stream / f.floor.stream)) | \(rate(f.blocks, f.all.whole)) |\n"
    }
    return out
}

/// Every number a replay gives, one per line, in a fixed order (for diffing two builds).
func counts(_ paths: [String], parameters: ReplayParameters) throws -> String {
    var out = ""
    for path in paths {
        let results = try ReplayEngine.run(tracePath: path, strategies: ["all"], parameters: parameters)
        out += "trace \(URL(fileURLWithPath: path).lastPathComponent) \(parameters.all.sorted { $0.key < $1.key })\n"
        out += "  blocks \(results.summary.blocks) instructions \(results.summary.instructions)\n"
        for result in results.strategies {
            out += "strategy \(result.name) unavailable=\(result.unavailable ?? "-") traps=\(result.traps) scanned=\(result.scanned) scans=\(result.scans) translated=\(result.translated) translations=\(result.translations)\n"
            for cause in result.counts.keys.sorted() { out += "  count \(cause) \(result.counts[cause]!)\n" }
            for site in result.sites {
                out += "  site 0x\(String(site.address, radix: 16))" + site.counts.keys.sorted().map { " \($0)=\(site.counts[$0]!)" }.joined() + "\n"
            }
            for page in result.pages {
                out += "  page 0x\(String(page.page, radix: 16))" + page.counts.keys.sorted().map { " \($0)=\(page.counts[$0]!)" }.joined() + "\n"
            }
        }
    }
    return out
}

func main() throws {
    var arguments = Array(CommandLine.arguments.dropFirst())
    guard let command = arguments.first else { throw BenchError(description: usage) }
    arguments.removeFirst()
    switch command {
    case "synthetic":
        let blocks = Int(option(&arguments, "--blocks") ?? "") ?? 24_000_000
        let functions = Int(option(&arguments, "--functions") ?? "") ?? 3000
        let seed = UInt64(option(&arguments, "--seed") ?? "") ?? 1
        let chunkBlocks = Int(option(&arguments, "--chunk-blocks") ?? "") ?? 1 << 20
        let codecName = option(&arguments, "--codec")
        let codec: BlockStreamCodec
        switch codecName {
        case nil: codec = .writerDefault
        case "raw": codec = .raw
        case "predictive": codec = .predictive
        case "predictiveFast": codec = .predictiveFast
        default: throw BenchError(description: "--codec must be raw, predictive or predictiveFast")
        }
        guard let path = arguments.first else { throw BenchError(description: usage) }
        let program = SyntheticProgram(functions: functions, seed: seed)
        try program.write(to: path, blocks: blocks, seed: seed &+ 1, chunkBlocks: chunkBlocks, codec: codec)
    case "worked-jsonl":
        guard let n = Int(option(&arguments, "--n") ?? ""), n >= 1, let path = arguments.first else {
            throw BenchError(description: usage)
        }
        try writeWorkedExample(to: path, n: n)
    case "measure":
        let repeats = Int(option(&arguments, "--repeat") ?? "") ?? 3
        guard !arguments.isEmpty else { throw BenchError(description: usage) }
        let (details, figures) = try measure(arguments, repeats: max(repeats, 1))
        print("## Per workload: all strategies together against the floor\n")
        print(summaryTable(figures))
        print("## Each strategy alone, per trace\n")
        print(details, terminator: "")
    case "counts":
        var parameters: [String] = []
        while let value = option(&arguments, "--param") { parameters.append(value) }
        guard !arguments.isEmpty else { throw BenchError(description: usage) }
        print(try counts(arguments, parameters: try ReplayParameters(arguments: parameters)), terminator: "")
    case "once":
        let times = Int(option(&arguments, "--times") ?? "") ?? 1
        guard arguments.count == 2, times >= 1 else { throw BenchError(description: usage) }
        let start = cpuSeconds()
        var blocks: UInt64 = 0
        for _ in 0..<times {
            blocks = 0
            if arguments[1] == "floor" {
                try TraceReader(path: arguments[0]).forEachChunk { blocks &+= UInt64($0.blocks.count) }
            } else {
                let names = arguments[1].split(separator: ",").map(String.init)
                blocks = try ReplayEngine.run(tracePath: arguments[0], strategies: names).summary.blocks
            }
        }
        print("\(blocks) blocks, \(String(format: "%.4f", (cpuSeconds() - start) / Double(times))) CPU s per run")
    default:
        throw BenchError(description: usage)
    }
}

do {
    try main()
} catch {
    StandardError.write("replay-bench: error: \(error)\n")
    exit(2)
}
