import TraceModel

/// Where a guest address lies: its module, and the symbol and offset when the module has symbols.
public struct SymbolizedAddress: Sendable, Hashable, Codable, CustomStringConvertible {
    public var address: UInt64
    /// Path of the file-backed mapping holding the address; nil when no recorded mapping holds it.
    public var modulePath: String?
    /// Offset within the module: the ELF virtual address when the file's program headers could be read
    /// (what `addr2line -e module` takes), else the file offset.
    public var moduleOffset: UInt64?
    public var symbol: String?
    /// Offset of `address` from the start of `symbol`.
    public var symbolOffset: UInt64

    public init(address: UInt64, modulePath: String? = nil, moduleOffset: UInt64? = nil, symbol: String? = nil,
                symbolOffset: UInt64 = 0) {
        self.address = address
        self.modulePath = modulePath
        self.moduleOffset = moduleOffset
        self.symbol = symbol
        self.symbolOffset = symbolOffset
    }

    /// Last path component of the module ("libc.so.6").
    public var moduleName: String? {
        modulePath.map { path in path.split(separator: "/").last.map(String.init) ?? path }
    }

    /// "name+0x12", "name" at offset 0, or nil without a symbol.
    public var symbolText: String? {
        guard let symbol else { return nil }
        return symbolOffset == 0 ? symbol : "\(symbol)+0x\(String(symbolOffset, radix: 16))"
    }

    /// "name+0x12", else "module+0x1234", else the bare hex address.
    public var description: String {
        if let symbolText { return symbolText }
        if let moduleName, let moduleOffset { return "\(moduleName)+0x\(String(moduleOffset, radix: 16))" }
        return "0x\(String(address, radix: 16))"
    }
}

/// Maps guest addresses to module, symbol and offset through a trace's module mappings.
///
/// Each ELF file is read once. A missing, unreadable or stripped file yields module+offset without a
/// symbol: symbolization never fails a report. Not thread-safe (it caches); use one per report.
public final class Symbolizer {
    private let mappings: [ModuleMapping]
    private var tables: [String: SymbolTable?] = [:]
    /// Files that could not be read, with why (for a report's footnote).
    public private(set) var problems: [SymbolError] = []

    public init(modules: [ModuleMapping]) {
        mappings = modules.sorted { $0.start < $1.start }
    }

    /// The table of `path`, read on first use; nil (and a recorded problem) when unreadable.
    public func table(path: String) -> SymbolTable? {
        if let cached = tables[path] { return cached }
        do {
            let table = try SymbolTable(path: path)
            tables[path] = table
            return table
        } catch {
            problems.append(error)
            tables[path] = .some(nil)
            return nil
        }
    }

    /// Where `address` lies in `process`'s address space (each process of a tree has its own module map);
    /// nil: in any mapping of the trace, for a trace of one process.
    public func symbolize(_ address: UInt64, process: Int? = nil) -> SymbolizedAddress {
        guard let mapping = mappings.last(where: { $0.start <= address && address < $0.end && $0.belongs(to: process) }) else {
            return SymbolizedAddress(address: address)
        }
        let fileOffset = address - mapping.start + mapping.fileOffset
        var result = SymbolizedAddress(address: address, modulePath: mapping.path, moduleOffset: fileOffset)
        guard let table = table(path: mapping.path), let virtualAddress = table.virtualAddress(fileOffset: fileOffset) else {
            return result
        }
        result.moduleOffset = virtualAddress
        if let (symbol, offset) = table.symbol(at: virtualAddress) {
            result.symbol = symbol.name
            result.symbolOffset = offset
        }
        return result
    }
}
