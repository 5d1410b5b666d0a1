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
        /// A system trace's kernel symbols (System.map), when given.
        public var kernelSymbols: KernelSymbolMap?
        public init(modules: [ModuleMapping], blocks: [BlockDefinition], kernelSymbols: KernelSymbolMap? = nil) {
            self.modules = modules
            self.blocks = blocks
            self.kernelSymbols = kernelSymbols
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
        let symbolizer = Symbolizer(modules: context.modules, kernel: context.kernelSymbols)
        let decoder = X86Decoder(arch: results.metadata.arch)
        for row in trace.topSites(limit: top) {
            trace.locations[row.address] = SiteLocation(symbolized: symbolizer.symbolize(row.address),
                                                        instruction: disassemble(row.address, blocks: context.blocks, decoder: decoder))
        }
        for row in trace.topPages(limit: top) where trace.locations[row.address] == nil {
            trace.locations[row.address] = SiteLocation(symbolized: symbolizer.symbolize(row.address))
        }
        return trace
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
