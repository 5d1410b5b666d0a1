import CostModel
import Replay
import Symbols
import TraceModel
import X86Decode

/// Turns replay results into a `ReportInput`: the results themselves, plus symbols and disassembly for
/// the addresses the tables show.
public enum ReplayAdapter {
    /// What the report needs from a trace besides its replay results.
    public struct TraceContext {
        public var modules: [ModuleMapping]
        /// Block definitions, for the bytes of the instructions at trap sites.
        public var blocks: [BlockDefinition]
        public init(modules: [ModuleMapping], blocks: [BlockDefinition]) {
            self.modules = modules
            self.blocks = blocks
        }
    }

    /// One trace's part of the report; `top` limits which addresses get symbolized and disassembled.
    public static func trace(_ results: TraceResults, context: TraceContext, top: Int) -> ReportTrace {
        var trace = ReportTrace(
            name: traceName(results.path), path: results.path, metadata: results.metadata,
            summary: results.summary,
            pageSize: results.parameters.pageSize,
            strategies: results.strategies)
        trace.processes = results.processes
        let symbolizer = Symbolizer(modules: context.modules)
        let decoder = X86Decoder(arch: results.metadata.arch)
        let sites = trace.topSites(limit: top)
        let siteProcesses = owners(sites.map(\.address), processes: results.processes) { $0.sites.map { ($0.address, $0.total) } }
        for row in sites {
            trace.locations[row.address] = SiteLocation(symbolized: symbolizer.symbolize(row.address, process: siteProcesses[row.address]),
                                                        instruction: disassemble(row.address, blocks: context.blocks, decoder: decoder))
        }
        let pages = trace.topPages(limit: top).filter { trace.locations[$0.address] == nil }
        let pageProcesses = owners(pages.map(\.address), processes: results.processes) { $0.pages.map { ($0.page, $0.counts.values.reduce(0, &+)) } }
        for row in pages {
            trace.locations[row.address] = SiteLocation(symbolized: symbolizer.symbolize(row.address, process: pageProcesses[row.address]))
        }
        return trace
    }

    /// Per address, the process with the most counts there (its module map names the address: processes of
    /// a tree may map different files at one address). Empty for a trace of one process.
    static func owners(_ addresses: [UInt64], processes: [ProcessResults],
                       entries: (StrategyResult) -> [(UInt64, UInt64)]) -> [UInt64: Int] {
        let wanted = Set(addresses)
        var best: [UInt64: (process: Int, count: UInt64)] = [:]
        for process in processes {
            var counts: [UInt64: UInt64] = [:]
            for strategy in process.strategies {
                for (address, count) in entries(strategy) where wanted.contains(address) { counts[address, default: 0] &+= count }
            }
            for (address, count) in counts where count > (best[address]?.count ?? 0) {
                best[address] = (process.process.id, count)
            }
        }
        return best.mapValues(\.process)
    }

    /// Intel-syntax text of the instruction at `address`, from the first block that holds it.
    static func disassemble(_ address: UInt64, blocks: [BlockDefinition], decoder: X86Decoder) -> String? {
        guard let block = blocks.first(where: { address >= $0.address && address - $0.address < UInt64($0.bytes.count) }) else {
            return nil
        }
        let offset = Int(address - block.address)
        return block.bytes.withUnsafeBytes { raw in
            decoder.format(UnsafeRawBufferPointer(rebasing: raw[offset...]), at: address)
        }
    }

    /// "Traces/python3.plextrace" -> "python3".
    static func traceName(_ path: String) -> String {
        let file = path.split(separator: "/").last.map(String.init) ?? path
        guard let dot = file.lastIndex(of: "."), dot != file.startIndex else { return file }
        return String(file[..<dot])
    }
}
